// ShadowPageTables: the front end of vkernel.widgets.ShadowPageTables (anywidget ES module,
// no build). Three panes side by side for one domain's current address space: the guest's
// own page table, the p2m for the pages it names, and the shadow table the hardware walks;
// under them the hv rows that concern memory. Python reads the hypervisor; this draws.

const GUEST_COLS = 8; // level, vaddr, size, pte_addr, pte, target, kernel, protected
const P2M_COLS = 4; // gpa, machine, table, shadowed
const SHADOW_COLS = 5; // vaddr, machine, pte, state, gpa
const EVENT_COLS = 7; // row, step, event, cause, detail, pc, cycles
const FLAGS = ["V", "R", "W", "X", "U", "G", "A", "D"];
const SYNCED = ["guest", "p2m", "shadow", "events", "written", "dropped", "updated", "info", "states", "note"];

const SIZES = { 4096: "4 KiB", 2097152: "2 MiB", 1073741824: "1 GiB" };
// the exits a memory event follows, in words
const CAUSES = { 1: "instruction access fault", 2: "illegal instruction", 5: "load access fault",
  7: "store access fault", 8: "ecall", 9: "ecall from S", 12: "instruction page fault",
  13: "load page fault", 15: "store page fault", 20: "instruction guest-page fault",
  21: "load guest-page fault", 23: "store guest-page fault" };
// the shadow's states, short (the legend and each row's title say them in full)
const SHORT = { "read-only: a guest page table": "RO: page table", "read-only: not dirty yet": "RO: not dirty",
  "read-only: the technique's": "RO: technique" };

function flags(pte) {
  const span = el("span", "vk-flags");
  FLAGS.forEach((f, i) => {
    const on = (pte >> BigInt(i)) & 1n;
    span.append(el("span", on ? "vk-flag vk-on" : "vk-flag", on ? f : "·"));
  });
  return span;
}

function row(cls, cells) {
  const r = el("div", `vk-spt-row ${cls}`);
  for (const c of cells) r.append(typeof c === "string" ? el("span", "", c) : c);
  return r;
}

function render({ model, el: root }) {
  root.classList.add("vk-spt");
  const title = el("div", "vk-title");
  const panes = el("div", "vk-spt-panes");
  const mk = (cls, name, why) => {
    const pane = el("div", `vk-spt-pane ${cls}`);
    const head = el("div", "vk-spt-head", name);
    head.title = why;
    const body = el("div", "vk-spt-body");
    pane.append(head, body);
    panes.append(pane);
    return body;
  };
  const guestBody = mk("vk-spt-guest", "① guest page table (guest virtual → guest physical)",
    "the guest kernel's own Sv39 table, walked from its satp in guest physical memory: the hardware never walks it");
  const p2mBody = mk("vk-spt-p2m", "② p2m (guest physical → machine)",
    "the hypervisor's map of where each guest physical page really is");
  const shadowBody = mk("vk-spt-shadow", "③ shadow table (guest virtual → machine)",
    "the hypervisor's table, the one satp points at: each entry = ① composed with ②");
  const legend = el("div", "vk-legend");
  const stripTitle = el("div", "vk-title", "Memory events, the latest exit first (hv rows: what each exit made the hypervisor do, and its modelled cycles)");
  const strip = el("div", "vk-spt-events");
  const note = el("div", "vk-status");
  root.append(title, panes, legend, stripTitle, strip, note);

  function draw() {
    const info = model.get("info");
    const states = model.get("states");
    const written = BigInt(model.get("written"));
    const dropped = new Set(rows(model.get("dropped"), 1).map((r) => r[0]));
    const updated = new Set(rows(model.get("updated"), 1).map((r) => r[0]));
    title.textContent = `Shadow paging of ${info.domain} (${info.technique}): guest satp ${info.guest_satp}, ` +
      `shadow satp ${info.shadow_satp} (virtual ${info.mode}-mode) · ${fmt(info.fills)} fills, ` +
      `${fmt(info.hidden_faults)} hidden faults, ${fmt(info.wp_faults)} write-protect faults, ` +
      `${fmt(info.drops)} drops` + (info.replay ? ` · replayed from a trace at step ${fmt(info.steps)}` : "");

    // ① the guest's table: the user part and the kernel part, each collapsible
    guestBody.replaceChildren();
    const parts = [el("details", "vk-spt-part"), el("details", "vk-spt-part")];
    const counts = [0, 0];
    let lastTable = -1n;
    const seen = new Set();
    for (const [level, va, size, pteAddr, pte, target, kernel, prot] of rows(model.get("guest"), GUEST_COLS)) {
      const part = parts[Number(kernel)];
      const table = pteAddr & ~4095n;
      if (table !== lastTable) {
        const again = seen.has(table);
        seen.add(table);
        const h = row("vk-spt-table", [`table ${hex(table)} (level ${level})` + (again ? ", continued" : "") +
          (prot ? " · write-protected" : "")]);
        if (prot) h.classList.add("vk-spt-protected");
        part.append(h);
        lastTable = table;
      }
      const leaf = (pte & 0b1010n) !== 0n;
      const valid = (pte & 1n) !== 0n;
      const r = row(leaf ? "vk-spt-entry vk-spt-leaf" : "vk-spt-entry", [
        " ".repeat(2 * (2 - Number(level))) + (leaf || !valid ? `${hex(va)} +${SIZES[size] || hex(size)}` : `${hex(va)} ↓`),
        !valid ? "(invalid: unmapped)" : leaf ? `→ ${hex(target)}` : `→ table ${hex(target)}`, flags(pte)]);
      r.dataset.pte = hex(pteAddr);
      r.dataset.level = String(level);
      r.title = `entry at guest physical ${hex(pteAddr)}: ${hex(pte)}`;
      if (prot) r.classList.add("vk-spt-protected");
      if (pteAddr === written) r.classList.add("vk-spt-written");
      part.append(r);
      counts[Number(kernel)] += 1;
    }
    ["user part", "kernel part"].forEach((name, i) => {
      const sum = el("summary", "", `${name} (${counts[i]} entries)`);
      parts[i].prepend(sum);
      parts[i].dataset.part = i ? "kernel" : "user";
      parts[i].open = true;
      if (counts[i]) guestBody.append(parts[i]);
    });

    // ② the p2m
    p2mBody.replaceChildren();
    for (const [gpa, machine, table, shadowed] of rows(model.get("p2m"), P2M_COLS)) {
      const r = row("vk-spt-entry", [hex(gpa), `→ ${hex(machine)}`, table ? "page table (write-protected)" : (shadowed ? "" : "not in shadow")]);
      r.dataset.gpa = hex(gpa);
      if (table) r.classList.add("vk-spt-protected");
      p2mBody.append(r);
    }

    // ③ the shadow
    shadowBody.replaceChildren();
    for (const [va, machine, pte, state, gpa] of rows(model.get("shadow"), SHADOW_COLS)) {
      const [name, colour, why] = states[Number(state)];
      const chip = el("span", "vk-chip vk-chip-solid");
      chip.style.setProperty("--vk-chip", colour);
      const missing = name === "missing";
      const r = row("vk-spt-entry", [chip, hex(va), missing ? "(no entry yet)" : `→ ${hex(machine)}`,
        missing ? el("span", "vk-spt-state", name) : flags(pte), el("span", "vk-spt-state", missing ? "" : SHORT[name] || name)]);
      r.dataset.va = hex(va);
      r.dataset.state = name;
      r.title = `${why}; the guest maps it to guest physical ${hex(gpa)}`;
      const again = !missing && updated.has(gpa);
      if (dropped.has(va) || again) r.classList.add("vk-spt-written");
      if (again) r.title += " (installed again by the latest write-protect fault)";
      shadowBody.append(r);
    }
    for (const va of dropped) {
      if (shadowBody.querySelector(`[data-va="${hex(va)}"]`)) continue;
      const r = row("vk-spt-entry vk-spt-written vk-spt-dropped", ["✕", hex(va), "dropped by the latest write-protect fault"]);
      r.dataset.va = hex(va);
      r.dataset.state = "dropped";
      shadowBody.append(r);
    }

    legend.replaceChildren();
    for (const [name, colour, why] of states) {
      const item = el("span", "vk-legend-item");
      item.title = why;
      const chip = el("span", "vk-chip vk-chip-solid");
      chip.style.setProperty("--vk-chip", colour);
      item.append(chip, el("span", "", name));
      legend.append(item);
    }

    // the strip: each exit, then what it did to memory
    strip.replaceChildren();
    const names = model.get("event_names");
    const groups = [];
    for (const [, step, event, cause, detail, , cycles] of rows(model.get("events"), EVENT_COLS)) {
      const name = names[String(event)] || String(event);
      const code = cause & ((1n << 63n) - 1n);
      const what = name === "vm_exit" ? `${CAUSES[code] || `cause ${code}`}, tval ${hex(detail)}`
        : name === "wp_fault" ? `guest PTE written at ${hex(detail)}`
        : name === "shadow_drop" ? `shadow entry for ${hex(detail)} dropped`
        : name === "shadow_update" ? `shadow entry for guest physical ${hex(detail)} installed`
        : `guest table walked for ${hex(detail)}`;
      const r = row(name === "vm_exit" ? "vk-spt-event vk-spt-exit" : "vk-spt-event",
        [`step ${fmt(step)}`, name, what, `${fmt(cycles)} cycles`]);
      r.dataset.event = name;
      if (name === "wp_fault" && detail === written) r.classList.add("vk-spt-written");
      if (name === "vm_exit" || !groups.length) groups.push([]);
      groups[groups.length - 1].push(r);
    }
    for (const g of groups.reverse()) strip.append(...g); // the latest exit first
    if (!strip.childElementCount) strip.append(el("div", "vk-status", "no memory events recorded yet"));
    note.textContent = model.get("note");
  }

  return drawOnChanges(model, SYNCED, draw);
}

export default { render };
