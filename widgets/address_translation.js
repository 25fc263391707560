// AddressTranslation: the front end of vkernel.widgets.AddressTranslation (anywidget ES
// module, no build). One translation's page walk as the two-level mapping: the guest's
// levels across, each column's G-stage walk down, every reference numbered in order.
// Python owns the trace; this view draws the synced state and sends picks back.

const REF_COLS = 8; // number, column, stage, level, vaddr, pte_addr, pte, result
const NEAR_COLS = 8; // index, step, vaddr, references, access, result, domain, stages
const FLAGS = ["V", "R", "W", "X", "U", "G", "A", "D"];
const SYNCED = ["index", "count", "step", "refs", "nearby", "info", "spaces", "colours", "results",
  "accesses", "note"];


// an entry's value in words: the PPN it points to and its flags, set ones named
function entryWords(pte) {
  const ppn = (pte >> 10n) & ((1n << 44n) - 1n);
  const set = FLAGS.filter((_, i) => (pte >> BigInt(i)) & 1n);
  return [ppn, set];
}

function render({ model, el: root }) {
  root.classList.add("vk-translation");
  root.tabIndex = 0;
  const bar = el("div", "vk-toolbar");
  const prev = el("button", "vk-button", "◀ Previous");
  prev.title = "the translation before (p or ←)";
  const next = el("button", "vk-button", "Next ▶");
  next.title = "the translation after (n or →)";
  const slider = el("input", "vk-translation-slider");
  Object.assign(slider, { type: "range", min: "0", step: "1" });
  slider.title = "every translation in the trace, in order";
  const where = el("span", "vk-where");
  const find = el("input", "vk-find");
  Object.assign(find, { type: "text", placeholder: "virtual address, e.g. 0x80001000" });
  find.title = "show the latest translation of this virtual address's page";
  const findButton = el("button", "vk-button", "Find");
  bar.append(prev, next, slider, where, find, findButton);
  const head = el("div", "vk-spaces");
  const outcome = el("div", "vk-outcome");
  const grid = el("div", "vk-walk");
  const note = el("div", "vk-status");
  const listTitle = el("div", "vk-title", "Translations nearby");
  const list = el("div", "vk-translation-list");
  root.append(bar, head, outcome, grid, note, listTitle, list);

  const select = (i) => model.send({ cmd: "select", index: i });
  prev.addEventListener("click", () => select(Math.max(0, model.get("index") - 1)));
  next.addEventListener("click", () => select(Math.min(model.get("count") - 1, model.get("index") + 1)));
  slider.addEventListener("change", () => select(parseInt(slider.value, 10)));
  const doFind = () => { if (find.value.trim()) model.send({ cmd: "find", vaddr: find.value.trim() }); };
  findButton.addEventListener("click", doFind);
  find.addEventListener("keydown", (ev) => { if (ev.key === "Enter") doFind(); ev.stopPropagation(); });
  root.addEventListener("keydown", (ev) => {
    if (ev.key === "n" || ev.key === "ArrowRight") next.click();
    else if (ev.key === "p" || ev.key === "ArrowLeft") prev.click();
    else return;
    ev.preventDefault();
  });

  function cell(ref, colours, results) {
    const [number, column, stage, level, vaddr, pteAddr, pte, result] = ref;
    const g = stage === 1n;
    const cached = number === 0n;
    const name = results[Number(result)] || "?";
    const c = el("div", `vk-ref vk-ref-${g ? "g" : "vs"}${cached ? " vk-cached" : ""} vk-result-${name}`);
    Object.assign(c.dataset, { n: String(number), stage: g ? "g" : "vs", level: String(level),
      column: String(column), result: name });
    c.style.borderColor = colours[g ? "g" : "vs"];
    const badge = el("span", "vk-ref-number", cached ? "–" : String(number));
    badge.style.background = colours[g ? "g" : "vs"];
    const what = el("span", "vk-ref-level", stageName ? `${g ? "G" : stageName} L${level}` : `level ${level}`);
    c.append(badge, what);
    const [ppn, set] = entryWords(pte);
    c.append(el("div", "vk-ref-addr", `@ ${hex(pteAddr)}`));
    if (cached) {
      c.append(el("div", "vk-ref-result", "skipped: page-walk cache"));
      c.title = `level ${level} entry for ${hex(vaddr)}: supplied by the page-walk cache, no memory reference`;
      return c;
    }
    const value = el("div", "vk-ref-pte");
    value.append(el("span", "", `PPN ${hex(ppn)} `));
    for (const f of FLAGS) value.append(el("span", set.includes(f) ? "vk-flag vk-on" : "vk-flag", f));
    c.append(value, el("div", "vk-ref-result", name.replaceAll("_", " ")));
    c.title = `reference ${number}: ${g ? "G-stage" : stageName || "the"} level ${level} entry, translating ` +
      `${hex(vaddr)}; read at machine address ${hex(pteAddr)}, value ${hex(pte)}: ${name.replaceAll("_", " ")}`;
    return c;
  }

  let stageName = "VS";

  function draw() {
    const count = model.get("count"), index = model.get("index");
    const info = model.get("info") || {};
    const spaces = model.get("spaces") || [];
    const colours = model.get("colours") || {};
    const results = model.get("results") || [];
    const accesses = model.get("accesses") || [];
    slider.max = String(Math.max(0, count - 1));
    slider.value = String(Math.max(0, index));
    slider.disabled = count < 2;
    prev.disabled = index <= 0;
    next.disabled = index >= count - 1;
    where.textContent = count ? `translation ${fmt(index + 1)} of ${fmt(count)}` +
      (info.step !== undefined ? ` · step ${fmt(info.step)}` : "") +
      // following a linked view: the latest translation at or before its step
      (info.followed > info.step ? ` (the latest at step ${fmt(info.followed)})` : "") : "no translations";
    const refs = rows(model.get("refs"), REF_COLS);
    const two = info.stages === 2;
    stageName = two ? "VS" : "";

    // the address spaces: guest virtual → guest physical → machine
    head.replaceChildren();
    (spaces || []).forEach(([name, title], i) => {
      if (i) head.append(el("span", "vk-space-arrow", "→"));
      const s = el("span", "vk-space");
      s.dataset.space = name;
      s.title = title;
      const addr = info.addresses ? info.addresses[i] : null;
      s.append(el("span", "vk-space-name", name), el("span", "vk-space-addr", addr || "—"));
      head.append(s);
    });

    outcome.replaceChildren();
    if (info.index !== undefined) {
      const who = info.domain ? `domain ${info.domain} · ` : "";
      const what = `${who}${info.access}`;
      if (info.tlb_hit) {
        outcome.append(el("span", "vk-tlb-hit", `${what}: TLB hit, 0 references`),
          el("span", "", ` — the entry was filled by the walk at step ${fmt(info.walked_at)}`));
      } else {
        outcome.append(el("span", "vk-refs-count", `${what}: ${fmt(info.references)} references`),
          el("span", "", info.cached ? ` (${fmt(info.cached)} supplied by the page-walk cache)` : ""),
          el("span", `vk-outcome-text${info.ok ? "" : " vk-fault"}`, ` → ${info.outcome}`));
      }
    }

    // the grid: a column per guest level (and the final address), the G-stage levels
    // down each; one row of the only stage when there is one
    grid.replaceChildren();
    grid.classList.toggle("vk-walk-nested", two);
    if (!refs.length) {
      if (info.tlb_hit) grid.append(el("div", "vk-walk-empty", "Nothing to walk: the TLB held this page's translation."));
      note.textContent = model.get("note");
      drawList(accesses, results);
      return;
    }
    const columns = Math.max(...refs.map((r) => Number(r[1]))) + 1;
    const hasFinal = refs.some((r) => r[2] === 1n && !refs.some((q) => q[2] === 0n && q[1] === r[1]));
    const nRows = two ? 4 : 1;
    grid.style.gridTemplateColumns = `auto repeat(${columns + (two ? 0 : 1)}, minmax(11em, 1fr))`;
    // column heads
    grid.append(el("div", "vk-walk-corner", two ? "G-stage ↓ · VS-stage →" : ""));
    for (let c = 0; c < columns; c++) {
      const vs = refs.find((r) => r[1] === BigInt(c) && r[2] === 0n);
      const gs = refs.find((r) => r[1] === BigInt(c) && r[2] === 1n);
      let text;
      if (two) {
        text = vs ? `VS level ${vs[3]}: its entry at guest physical ${gs ? hex(gs[4]) : "?"}` :
          `the final guest physical address ${gs ? hex(gs[4]) : "?"}`;
      } else text = `level ${vs ? vs[3] : "?"}`;
      const h = el("div", "vk-walk-head", text);
      h.dataset.column = String(c);
      grid.append(h);
    }
    if (!two) grid.append(el("div", "vk-walk-head", spaces.length ? spaces[spaces.length - 1][0] : ""));
    const rowNames = two ? ["G-stage level 2 (hgatp root)", "G-stage level 1", "G-stage level 0",
      "VS-stage (vsatp)"] : [spaces.length && spaces[0][0] === "virtual" ? "page table (satp)"
      : "the table the hardware walks (satp: a shadow, or paravirt's validated table)"];
    for (let r = 0; r < nRows; r++) {
      grid.append(el("div", "vk-walk-rowname", rowNames[r]));
      for (let c = 0; c < columns; c++) {
        const ref = refs.find((q) => q[1] === BigInt(c) && (two ? (r < 3 ? q[2] === 1n && q[3] === BigInt(2 - r) : q[2] === 0n) : q[2] === 0n));
        if (ref) grid.append(cell(ref, colours, results));
        else if (two && r === 3 && c === columns - 1 && hasFinal) {
          const last = info.addresses && info.addresses[info.addresses.length - 1];
          grid.append(el("div", "vk-walk-final", last ? `machine ${last}` : "no machine address"));
        } else grid.append(el("div", "vk-walk-gap"));
      }
      if (!two) {
        const last = info.addresses && info.addresses[info.addresses.length - 1];
        grid.append(el("div", "vk-walk-final", last ? `${spaces[spaces.length - 1][0]} ${last}` : "no address: the walk faulted"));
      }
    }
    note.textContent = model.get("note");
    drawList(accesses, results);
  }

  function drawList(accesses, results) {
    list.replaceChildren();
    const index = model.get("index");
    for (const [i, step, vaddr, refs, access, result, domain, stages] of rows(model.get("nearby"), NEAR_COLS)) {
      const item = el("button", `vk-translation-item${Number(i) === index ? " vk-selected" : ""}`);
      item.dataset.index = String(i);
      const dom = domain ? ` · dom ${domain}` : "";
      item.textContent = `#${fmt(Number(i) + 1)} step ${fmt(step)}${dom}: ${accesses[Number(access)] || "?"} ` +
        `${hex(vaddr)} · ${refs} refs${stages === 2n ? " (2-D)" : ""} · ${(results[Number(result)] || "?").replaceAll("_", " ")}`;
      item.addEventListener("click", () => select(Number(i)));
      list.append(item);
    }
  }

  return drawOnChanges(model, SYNCED, draw);
}

export default { render };
