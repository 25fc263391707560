// MachineView: the front end of vkernel.widgets.MachineView (anywidget ES module, no build).
// Python owns the machine; this view draws the synced state and sends commands back.

const BUTTONS = [
  ["step", 1, "Step", "one instruction (s or →)"],
  ["step", 10, "Step ×10", "ten steps"],
  ["back", 1, "Back", "one step back: restore a checkpoint and replay (b or ←)"],
  ["trap", 1, "To next trap", "run until a trap is taken (t)"],
  ["reset", 1, "Reset", "back to the first step"],
];
const KEYS = { s: ["step", 1], ArrowRight: ["step", 1], b: ["back", 1], ArrowLeft: ["back", 1], t: ["trap", 1] };

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function render({ model, el: root }) {
  root.classList.add("vk-machine");
  root.tabIndex = 0; // keyboard shortcuts work once the view has focus
  const send = (cmd, n) => model.send({ cmd, n });

  const bar = el("div", "vk-toolbar");
  for (const [cmd, n, label, title] of BUTTONS) {
    const b = el("button", "vk-button", label);
    b.title = title;
    b.dataset.cmd = cmd;
    b.dataset.n = String(n);
    b.addEventListener("click", () => send(cmd, n));
    bar.appendChild(b);
  }
  const where = el("span", "vk-where");
  const mode = el("span", "vk-mode");
  bar.append(where, mode);
  const status = el("div", "vk-status");

  const body = el("div", "vk-body");
  const code = el("div", "vk-panel vk-code");
  const regs = el("div", "vk-panel vk-regs");
  const csrs = el("div", "vk-panel vk-csrs");
  body.append(code, regs, csrs);
  const console_ = el("pre", "vk-console");
  root.append(bar, status, body, console_);

  root.addEventListener("keydown", (ev) => {
    const k = KEYS[ev.key];
    if (k) { ev.preventDefault(); send(k[0], k[1]); }
  });

  const NAMES = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1",
    "a2", "a3", "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9",
    "s10", "s11", "t3", "t4", "t5", "t6"];

  function draw() {
    where.textContent = `step ${model.get("step")}  pc ${model.get("pc")}`;
    const m = model.get("mode");
    mode.textContent = m;
    mode.className = `vk-mode vk-mode-${m}`;
    mode.title = { M: "machine mode (most privileged)", S: "supervisor mode (the kernel)",
      U: "user mode (applications)" }[m] || m;
    status.textContent = model.get("status");

    code.replaceChildren(el("div", "vk-title", "Next instructions"));
    for (const [addr, text, current] of model.get("disasm")) {
      const row = el("div", current ? "vk-line vk-current" : "vk-line");
      row.append(el("span", "vk-addr", addr), el("span", "vk-insn", text));
      code.appendChild(row);
    }

    const changed = new Set(model.get("changed"));
    regs.replaceChildren(el("div", "vk-title", "Registers"));
    const grid = el("div", "vk-grid");
    model.get("regs").forEach((value, i) => {
      const cell = el("div", changed.has(NAMES[i]) ? "vk-reg vk-changed" : "vk-reg");
      cell.dataset.reg = NAMES[i];
      cell.append(el("span", "vk-name", NAMES[i]), el("span", "vk-value", value));
      grid.appendChild(cell);
    });
    regs.appendChild(grid);

    csrs.replaceChildren(el("div", "vk-title", "CSRs"));
    for (const [name, value, was] of model.get("csrs")) {
      const row = el("div", was ? "vk-reg vk-changed" : "vk-reg");
      row.dataset.csr = name;
      row.append(el("span", "vk-name", name), el("span", "vk-value", value));
      csrs.appendChild(row);
    }
    console_.textContent = model.get("console") || "(console is empty)";
  }

  for (const name of ["step", "pc", "mode", "regs", "changed", "csrs", "disasm", "console", "status"]) {
    model.on(`change:${name}`, draw);
  }
  draw();
  return () => { for (const name of ["step", "pc", "mode", "regs", "changed", "csrs", "disasm", "console", "status"]) model.off(`change:${name}`, draw); };
}

export default { render };
