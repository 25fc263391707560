// MachineView: the front end of vkernel.widgets.MachineView (anywidget ES module, no build).
// Python owns the machine; this view draws the synced state and sends commands back.
// Of a host of several domains it shows one domain's vCPU, chosen in a dropdown.

const BUTTONS = [
  ["step", 1, "Step", "one instruction (s or →)"],
  ["back", 1, "Back", "one step back: restore a checkpoint and replay (b or ←)"],
  ["trap", 1, "To next trap", "run until a trap is taken (t)"],
  ["reset", 1, "Reset", "back to the first step"],
];
const KEYS = { s: ["step", 1], ArrowRight: ["step", 1], b: ["back", 1], ArrowLeft: ["back", 1], t: ["trap", 1] };
const SYNCED = ["step", "instret", "first", "furthest", "pc", "mode", "regs", "changed", "csrs",
  "disasm", "console", "status", "halted", "vcsrs", "vcsr_title", "csr_title", "domain", "domain_list",
  "running"];

// the registers arrive as one binary buffer of 32 little-endian uint64 (a DataView)
const registers = (value) => (rows(value, 32)[0] || []).map((v) => hex(v, 16));

function render({ model, el: root }) {
  root.classList.add("vk-machine");
  root.tabIndex = 0; // keyboard shortcuts work once the view has focus
  const send = (cmd, n) => model.send({ cmd, n });

  const bar = el("div", "vk-toolbar");
  for (const [cmd, n, label, title] of BUTTONS) {
    const b = el("button", "vk-button", label);
    b.title = title;
    b.dataset.cmd = cmd;
    b.addEventListener("click", () => send(cmd, n));
    bar.appendChild(b);
  }
  // step ×N: how many in the box beside the button
  const count = el("input", "vk-count");
  Object.assign(count, { type: "number", min: "1", value: "10", title: "how many steps" });
  const stepN = el("button", "vk-button", "Step ×N");
  stepN.title = "the number of steps in the box";
  stepN.addEventListener("click", () => send("step", Math.max(1, parseInt(count.value, 10) || 1)));
  // run/pause: Python runs a slice and answers; we ask for the next until paused or done
  let running = false;
  const runButton = el("button", "vk-button vk-run", "Run");
  runButton.title = "run until the machine stops, or pause (space)";
  const setRunning = (on) => {
    running = on;
    runButton.textContent = on ? "Pause" : "Run";
    runButton.setAttribute("aria-pressed", String(on));
    if (on) send("run", 1);
  };
  runButton.addEventListener("click", () => setRunning(!running));
  // Python answers every command: {cmd, halted}
  model.on("msg:custom", (msg) => {
    if (!msg) return;
    if (msg.cmd === "run") { if (msg.halted) setRunning(false); else if (running) send("run", 1); }
    if (msg.cmd === "goto") { sent = null; ask(); }
  });
  bar.append(count, stepN, runButton);
  const where = el("span", "vk-where");
  where.title = "steps taken: instructions retired plus traps taken";
  const retired = el("span", "vk-retired");
  retired.title = "instructions retired: a trace's step number";
  const mode = el("span", "vk-mode");
  // a host: which domain's vCPU to show (hidden with one domain)
  const domainPick = el("select", "vk-domain");
  domainPick.title = "the domain whose vCPU this view shows (Step runs the whole host)";
  domainPick.addEventListener("change", () => {
    model.set("domain", parseInt(domainPick.value, 10));
    model.save_changes();
  });
  bar.append(where, retired, mode, domainPick);
  // a host: which domain is running, and whether the one shown is
  const runningLine = el("div", "vk-running");
  const status = el("div", "vk-status");

  // the slider over the steps reached so far; one request in flight, the latest wins
  const slide = el("div", "vk-slider");
  const slider = el("input");
  Object.assign(slider, { type: "range", min: "0", max: "0", step: "1" });
  slider.title = "go to any step reached so far (back by checkpoint and replay)";
  const sliderLabel = el("span", "vk-slider-label");
  slide.append(el("span", "", "steps"), slider, sliderLabel);
  let wanted = null, sent = null;
  const ask = () => {
    if (sent !== null || wanted === null) return;
    sent = wanted;
    wanted = null;
    send("goto", sent);
  };
  slider.addEventListener("input", () => { wanted = parseInt(slider.value, 10); ask(); });

  const body = el("div", "vk-body");
  const code = el("div", "vk-panel vk-code");
  const regs = el("div", "vk-panel vk-regs");
  const csrs = el("div", "vk-panel vk-csrs");
  // a VM's vCPU: the guest's view of its supervisor CSRs, beside the machine's real ones
  const vcsrs = el("div", "vk-panel vk-vcsrs");
  body.append(code, regs, csrs, vcsrs);
  const console_ = el("pre", "vk-console");
  root.append(bar, slide, runningLine, status, body, console_);

  root.addEventListener("keydown", (ev) => {
    if (ev.target === count) return;
    if (ev.key === " ") { ev.preventDefault(); setRunning(!running); return; }
    const k = KEYS[ev.key];
    if (k) { ev.preventDefault(); send(k[0], k[1]); }
  });

  const NAMES = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1",
    "a2", "a3", "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9",
    "s10", "s11", "t3", "t4", "t5", "t6"];

  // with a VM beside them, the machine's CSRs are the real ones
  const csrTitle = () => model.get("csr_title") || (model.get("vcsrs").length ? "CSRs (the real machine's)" : "CSRs");

  function draw() {
    where.textContent = `step ${model.get("step")}  pc ${model.get("pc")}`;
    retired.textContent = `${fmt(model.get("instret"))} retired`;
    const m = model.get("mode");
    mode.textContent = m;
    mode.className = `vk-mode vk-mode-${m}`;
    mode.title = { M: "machine mode (most privileged)", S: "supervisor mode (the kernel)",
      U: "user mode (applications)", VS: "virtual supervisor mode: a guest kernel (V=1)",
      VU: "virtual user mode: a guest's applications (V=1)" }[m] || m;
    status.textContent = model.get("status");
    runningLine.textContent = model.get("running");
    runningLine.hidden = !model.get("running");
    const domains = model.get("domain_list") || [];
    domainPick.hidden = domains.length < 2;
    const key = domains.map(([d, label]) => `${d}:${label}`).join("|");
    if (domainPick.dataset.key !== key) { // the options only when the domains change
      domainPick.replaceChildren(...domains.map(([d, label]) => {
        const o = el("option", "", label);
        o.value = String(d);
        return o;
      }));
      domainPick.dataset.key = key;
    }
    domainPick.value = String(model.get("domain"));
    slider.max = String(model.get("furthest"));
    slider.min = String(model.get("first"));
    if (sent === null && wanted === null) slider.value = String(model.get("step"));
    sliderLabel.textContent = `${model.get("first")}–${model.get("furthest")}`;

    code.replaceChildren(el("div", "vk-title", "Next instructions"));
    for (const [addr, text, current] of model.get("disasm")) {
      const row = el("div", current ? "vk-line vk-current" : "vk-line");
      row.append(el("span", "vk-addr", addr), el("span", "vk-insn", text));
      code.appendChild(row);
    }

    const changed = new Set(model.get("changed"));
    regs.replaceChildren(el("div", "vk-title", "Registers"));
    const grid = el("div", "vk-grid");
    registers(model.get("regs")).forEach((value, i) => {
      const cell = el("div", changed.has(NAMES[i]) ? "vk-reg vk-changed" : "vk-reg");
      cell.dataset.reg = NAMES[i];
      cell.append(el("span", "vk-name", NAMES[i]), el("span", "vk-value", value));
      grid.appendChild(cell);
    });
    regs.appendChild(grid);

    csrs.replaceChildren(el("div", "vk-title", csrTitle()));
    for (const [name, value, was] of model.get("csrs")) {
      const row = el("div", was ? "vk-reg vk-changed" : "vk-reg");
      row.dataset.csr = name;
      row.append(el("span", "vk-name", name), el("span", "vk-value", value));
      csrs.appendChild(row);
    }
    const guest = model.get("vcsrs");
    vcsrs.hidden = !guest.length;
    vcsrs.replaceChildren(el("div", "vk-title", "vCPU: the guest's view"));
    vcsrs.title = model.get("vcsr_title");
    if (guest.length) vcsrs.appendChild(el("div", "vk-subtitle", model.get("vcsr_title")));
    for (const [name, value, was] of guest) {
      const row = el("div", was ? "vk-reg vk-changed" : "vk-reg");
      row.dataset.vcsr = name;
      row.append(el("span", "vk-name", name), el("span", "vk-value", value));
      vcsrs.appendChild(row);
    }
    console_.textContent = model.get("console") || "(console is empty)";
  }

  // one redraw a frame, however many traits one action changed
  return drawOnChanges(model, SYNCED, draw);
}

export default { render };
