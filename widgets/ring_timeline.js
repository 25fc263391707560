// RingTimeline: the front end of vkernel.widgets.RingTimeline (anywidget ES module, no build).
// Python holds the whole trace and sends only what is in view (binary float64 rows);
// this draws it in SVG, zooms and pans locally at once, then asks Python for the new window.
// Zoomed out, Python bundles the transitions and exits close together (a row's count > 1):
// one arrow, thicker the more it stands for, so a view with marks in it never looks empty.
// A host's trace of several domains comes in bands, one per domain (its lanes inside), and
// its world switches are dashed arrows from one band to the next.

const SVG = "http://www.w3.org/2000/svg";
const LANE_H = 38, AXIS_H = 24, PAD_R = 14, MIN_SPAN = 16;
// a lane's time bar: a band in its middle, so that arrows crossing it stay visible
const SEG_TOP = 11;
// a band (one domain of a host): its title strip above its lanes, and a gap below it
const BAND_HEAD = 18, BAND_GAP = 8;
// the lane names' column: wide enough for the longest name (bold 12 px, ~7.2 px a letter)
const gutterFor = (lanes) => Math.max(118, Math.ceil(32 + 7.2 * Math.max(0, ...lanes.map((l) => l[1].length))));

function svg(tag, attrs, parent) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function niceTicks(lo, hi, count) {
  const raw = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw) || mag * 10;
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) ticks.push(t);
  return ticks;
}

let instances = 0;

function render({ model, el: root }) {
  const id = `vk-tl-${++instances}`;
  root.classList.add("vk-timeline");
  root.tabIndex = 0;

  const bar = el("div", "vk-toolbar");
  const button = (label, title, onClick) => {
    const b = el("button", "vk-button", label);
    b.title = title;
    b.addEventListener("click", onClick);
    bar.appendChild(b);
    return b;
  };
  const where = el("span", "vk-where");
  const note = el("span", "vk-note");
  const wrap = el("div", "vk-timeline-plot");
  const plot = svg("svg", { role: "img", "aria-label": "privilege levels over time" });
  wrap.appendChild(plot);
  const legend = el("div", "vk-legend");
  root.append(bar, wrap, legend);

  let [lo, hi] = model.get("view");
  let sendTimer = null;

  const clampView = (a, b) => {
    const first = model.get("first"), end = Math.max(model.get("end"), first + 1);
    const span = Math.min(Math.max(b - a, MIN_SPAN), (end - first) * 1.1 + MIN_SPAN);
    const margin = span * 0.05;
    a = Math.min(Math.max(a, first - margin), end + margin - span);
    return [a, a + span];
  };
  // redraw at most once a frame, however many changes arrive together
  const schedule = everyFrame(draw);
  // the view moves here at once; Python hears of it when the moves pause (a burst of
  // key presses or a drag is one request, not dozens)
  const setView = (a, b) => {
    [lo, hi] = clampView(a, b);
    schedule();
    clearTimeout(sendTimer);
    sendTimer = setTimeout(() => { model.set("view", [lo, hi]); model.save_changes(); }, 40);
  };
  // the pointer's x over the plot (null when it is elsewhere): + and - zoom around it
  let pointerX = null;
  // zoom around a step, which stays at the same pixel (the span is clamped first, so that
  // the smallest and largest views keep it too)
  const zoomBy = (factor, centre) => {
    const span = hi - lo;
    const [a, b] = clampView(lo, lo + span * factor);
    const f = (b - a) / span;
    setView(centre - (centre - lo) * f, centre + (hi - centre) * f);
  };
  // where + and - zoom: the pointer if it is over the plot, else the cursor if it is in
  // view, else the middle
  const zoomCentre = () => {
    if (pointerX !== null) return stepOf(pointerX);
    const cursor = model.get("step");
    return cursor >= lo && cursor <= hi ? cursor : (lo + hi) / 2;
  };
  const moveCursor = (step) => { model.set("step", step); model.save_changes(); };

  // the buttons zoom on the cursor (the pointer is on the button, not on the plot)
  button("+", "zoom in (+ or the wheel, around the pointer; here around the cursor)",
    () => zoomBy(0.5, zoomCentre()));
  button("−", "zoom out (−)", () => zoomBy(2, zoomCentre()));
  button("Fit", "show the whole trace (0)", () => setView(model.get("first"), model.get("end")));
  button("◀ Prev", "previous transition, VM exit or world switch (p)", () => model.send({ cmd: "next", direction: -1 }));
  button("Next ▶", "next transition, VM exit or world switch (n)", () => model.send({ cmd: "next", direction: 1 }));
  const namesButton = button("x86 names", "name the lanes as x86 rings, or as RISC-V modes", () => {
    model.set("names", model.get("names") === "x86" ? "riscv" : "x86");
    model.save_changes();
  });
  namesButton.classList.add("vk-toggle");
  bar.append(where, note);

  let width = 800, GUTTER = 118;
  const xOf = (step) => GUTTER + ((step - lo) / (hi - lo)) * (width - GUTTER - PAD_R);
  const stepOf = (x) => lo + ((x - GUTTER) / (width - GUTTER - PAD_R)) * (hi - lo);

  function draw() {
    // not laid out (not yet in the page, or hidden while JupyterLab restyles): keep what
    // is drawn; the resize observer calls again once there is a width
    if (!wrap.clientWidth) return;
    width = Math.max(wrap.clientWidth, 400);
    const lanes = model.get("lanes");
    const bands = model.get("bands") || [];
    GUTTER = gutterFor(lanes);
    // where each lane starts: one under the other, and with bands, a title strip above
    // each band's first lane and a gap between bands (no bands: as a single domain's)
    const tops = [], bandTop = [], bandBottom = [];
    let y = AXIS_H;
    lanes.forEach((lane, i) => {
      const b = lane[4];
      if (bands.length && (i === 0 || lanes[i - 1][4] !== b)) {
        if (i > 0) y += BAND_GAP;
        bandTop[b] = y;
        y += BAND_HEAD;
      }
      tops.push(y);
      y += LANE_H;
      if (bands.length) bandBottom[b] = y;
    });
    const plotBottom = y;
    const height = plotBottom + 6;
    plot.setAttribute("width", width);
    plot.setAttribute("height", height);
    plot.setAttribute("viewBox", `0 0 ${width} ${height}`);
    plot.replaceChildren();
    const laneTop = (i) => tops[i];
    const laneMid = (i) => laneTop(i) + LANE_H / 2;

    const defs = svg("defs", {}, plot);
    const clip = svg("clipPath", { id: `${id}-clip` }, defs);
    svg("rect", { x: GUTTER, y: 0, width: width - GUTTER - PAD_R + 1, height }, clip);
    const legendRows = model.get("legend");
    legendRows.forEach(([, colour], i) => {
      // heads of one size whatever the stroke (a selected arrow is only thicker)
      const m = svg("marker", { id: `${id}-arrow-${i}`, viewBox: "0 0 10 10", refX: 9, refY: 5,
        markerWidth: 12, markerHeight: 12, markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" }, defs);
      svg("path", { d: "M0,0 L10,5 L0,10 z" }, m).style.fill = colour;
    });

    // bands: a title strip (the domain, its name and technique) over its lanes, framed
    bands.forEach(([domid, label, title], b) => {
      if (bandTop[b] === undefined) return;
      const g = svg("g", { class: "vk-band", "data-domain": String(domid) }, plot);
      svg("title", {}, g).textContent = title;
      svg("rect", { class: "vk-band-head", x: 0, y: bandTop[b], width, height: BAND_HEAD }, g);
      const t = svg("text", { class: "vk-band-label", x: 6, y: bandTop[b] + 13 }, g);
      t.textContent = label;
    });
    // lanes and their names: a colour chip and the name, so colour is never alone
    lanes.forEach(([mode, label, colour, title], i) => {
      svg("rect", { class: "vk-lane", x: 0, y: laneTop(i), width, height: LANE_H }, plot);
      const name = svg("g", { class: "vk-lane-name" }, plot);
      svg("title", {}, name).textContent = title;
      const chip = svg("rect", { x: 6, y: laneMid(i) - 6, width: 12, height: 12, rx: 2 }, name);
      chip.style.fill = colour;
      const t = svg("text", { class: "vk-lane-label", x: 24, y: laneMid(i) + 4, "data-mode": mode }, name);
      t.textContent = label;
    });

    bands.forEach((_, b) => {
      if (bandTop[b] === undefined) return;
      svg("rect", { class: "vk-band-frame", x: 0.5, y: bandTop[b] + 0.5, width: width - 1,
        height: bandBottom[b] - bandTop[b] - 1 }, plot);
    });

    // axis
    const axis = svg("g", { class: "vk-axis" }, plot);
    for (const t of niceTicks(lo, hi, Math.max(2, Math.floor((width - GUTTER) / 110)))) {
      const x = xOf(t);
      if (x < GUTTER || x > width - PAD_R) continue;
      svg("line", { x1: x, x2: x, y1: AXIS_H - 4, y2: height }, axis);
      const label = svg("text", { x, y: AXIS_H - 8, "text-anchor": "middle" }, axis);
      label.textContent = fmt(t);
    }

    const body = svg("g", { "clip-path": `url(#${id}-clip)` }, plot);
    // where the hart was: exact segments, or zoomed out, each lane's share of each bin
    for (const [s, e, lane] of floatRows(model.get("segments"), 3)) {
      const x0 = Math.max(xOf(s), GUTTER - 1), x1 = Math.min(xOf(e), width);
      const r = svg("rect", { class: "vk-segment", x: x0, y: laneTop(lane) + SEG_TOP,
        width: Math.max(x1 - x0, 1), height: LANE_H - 2 * SEG_TOP }, body);
      r.style.fill = lanes[lane][2];
    }
    const density = model.get("density");
    if (density && density.byteLength) {
      // [lo, hi] of the view the bins were computed for, then lanes x bins of shares
      const values = floatRows(density, 1).map((r) => r[0]);
      const [vlo, vhi] = values, all = values.slice(2);
      const n = lanes.length, bins = all.length / n;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < bins; j++) {
          const share = all[i * bins + j];
          if (share <= 0) continue;
          const x0 = xOf(vlo + ((vhi - vlo) * j) / bins), x1 = xOf(vlo + ((vhi - vlo) * (j + 1)) / bins);
          const r = svg("rect", { class: "vk-segment", x: x0, y: laneTop(i) + SEG_TOP,
            width: Math.max(x1 - x0, 0.6), height: LANE_H - 2 * SEG_TOP }, body);
          r.style.fill = lanes[i][2];
          r.style.opacity = String(0.15 + 0.85 * share);
        }
      }
    }

    // transitions: an arrow from the lane left to the lane entered; VM exits: up to the
    // hypervisor's lane and back, compactly at the step they came before. A row is a
    // bundle when its count (column 5) is above 1: drawn as one, thicker, up to its last
    // step (column 6); a click zooms in on it
    const cursor = model.get("step");
    // each with the heights it spans, from its top lane to its bottom one
    const extent = (...ls) => {
      const ys = ls.filter((l) => l >= 0).map(laneMid);
      return [Math.min(...ys), Math.max(...ys)];
    };
    // a world switch: from the lane the vCPU left (or, with none, the entered band's top)
    // to the lane the next one is loaded in
    const switchFrom = (w) => (w[1] >= 0 ? laneMid(w[1]) : bandTop[lanes[w[2]][4]]);
    const items = floatRows(model.get("marks"), 7).map((m) => ({ x: xOf(m[0]), mark: m, ys: extent(m[1], m[2]) }))
      .concat(floatRows(model.get("exits"), 7).map((e) => ({ x: xOf(e[0]), exit: e, ys: extent(e[1], e[2], e[3]) })))
      .concat(floatRows(model.get("switches"), 7).map((w) => {
        const ys = [switchFrom(w), laneMid(w[2])];
        return { x: xOf(w[0]), sw: w, ys: [Math.min(...ys), Math.max(...ys)] };
      }))
      .sort((a, b) => a.x - b.x);
    const most = Math.max(1, ...items.map((it) => (it.mark || it.exit || it.sw)[5]));
    // a bundle's stroke grows with the log of its count: 2 px for one, 6 px for the most
    const weight = (count) => (count > 1 ? 2 + 4 * Math.log(count) / Math.log(Math.max(most, 2)) : null);
    // labels: measured once drawn, kept only where they overlap no other label and no
    // other arrow (the rest say the same in their tooltip)
    const placed = [];
    const overlaps = (a, b) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
    // the first of the heights ys where the label has room
    const placeLabel = (g, k, ys, gap, label) => {
      const x = items[k].x;
      const t = svg("text", { class: "vk-mark-label", x: x + gap, y: ys[0], "text-anchor": "start" }, g);
      t.textContent = label;
      const w = t.getComputedTextLength();
      // by the plot's right edge it goes on the arrow's left, so it is not cut off
      const left = x + gap + w > width - PAD_R;
      if (left) { t.setAttribute("x", x - gap); t.setAttribute("text-anchor", "end"); }
      for (const y of ys) {
        const box = { x0: left ? x - gap - w - 2 : x + gap - 2, x1: left ? x - gap + 2 : x + gap + w + 2,
          y0: y - 10, y1: y + 3 };
        const crosses = (j) => j !== k && items[j].x >= box.x0 && items[j].x <= box.x1 &&
          items[j].ys[0] <= box.y1 && items[j].ys[1] >= box.y0;
        let free = box.x0 >= GUTTER && placed.every((p) => !overlaps(p, box));
        for (let j = k + 1; free && j < items.length && items[j].x <= box.x1; j++) if (crosses(j)) free = false;
        for (let j = k - 1; free && j >= 0 && items[j].x >= box.x0; j--) if (crosses(j)) free = false;
        if (free) { placed.push(box); t.setAttribute("y", y); return; }
      }
      t.remove();
    };
    const bundleWords = (count, first, last) =>
      ` ×${fmt(count)}, steps ${fmt(first)}–${fmt(last)}: click or zoom in to see each one`;
    const zoomTo = (first, last) => {
      const pad = Math.max((last - first) * 0.1, MIN_SPAN);
      setView(first - pad, last + pad);
    };
    items.forEach((item, k) => {
      if (item.mark) drawMark(item, k); else if (item.exit) drawExit(item, k); else drawSwitch(item, k);
    });

    function drawMark({ x, mark }, k) {
      const [step, from, to, li, before, count, last] = mark;
      const [label, colour] = legendRows[li] || ["?", "#888"];
      const g = svg("g", { class: `vk-mark${count > 1 ? " vk-bundle" : ""}`, "data-step": String(step),
        "data-label": label, "data-count": String(count) }, body);
      if (before === cursor && count === 1) g.classList.add("vk-selected");
      const tip = `step ${fmt(step)}: ${label} (${lanes[from][1]} → ${lanes[to][1]})`;
      svg("title", {}, g).textContent = count > 1 ? `${label} (${lanes[from][1]} → ${lanes[to][1]})` +
        bundleWords(count, step, last) : tip;
      let line;
      if (from === to) { // handled at the level it came from: a loop on the lane
        const y = laneTop(from) + 7;
        line = svg("path", { d: `M${x - 5},${y} a5,5 0 1,1 10,0`, class: "vk-arrow",
          "marker-end": `url(#${id}-arrow-${li})` }, g);
        svg("circle", { cx: x, cy: y, r: 9, class: "vk-hit" }, g);
      } else {
        const y1 = laneMid(from), y2 = laneMid(to) + (to > from ? -9 : 9);
        line = svg("line", { x1: x, x2: x, y1, y2, class: "vk-arrow",
          "marker-end": `url(#${id}-arrow-${li})` }, g);
        svg("rect", { x: x - 6, y: Math.min(y1, y2), width: 12, height: Math.abs(y2 - y1),
          class: "vk-hit" }, g);
      }
      line.style.stroke = colour;
      if (count > 1) line.style.strokeWidth = String(weight(count));
      const labelY = (laneMid(from) + laneMid(to)) / 2 + 3;
      placeLabel(g, k, [labelY], 5, count > 1 ? `${label} ×${fmt(count)}` : label);
      g.addEventListener("click", (ev) => {
        ev.stopPropagation();
        if (count > 1) zoomTo(step, last); else moveCursor(before);
      });
    }

    function drawExit({ x, exit }, k) {
      const [step, from, host, to, li, count, last] = exit;
      const [label, colour, , style] = legendRows[li] || ["?", "#888", 0, "exit"];
      const g = svg("g", { class: `vk-mark vk-exit${style === "callout" ? " vk-callout" : ""}` +
        `${count > 1 ? " vk-bundle" : ""}`, "data-step": String(step), "data-label": label,
        "data-count": String(count) }, body);
      if (step === cursor && count === 1) g.classList.add("vk-selected");
      const back = to >= 0 ? ` → ${lanes[to][1]}` : "; the guest did not come back";
      const path = `(${lanes[from][1]} → ${lanes[host][1]}${back})`;
      svg("title", {}, g).textContent = count > 1 ? `${label} ${path}${bundleWords(count, step, last)}`
        : `step ${fmt(step)}: ${label} ${path}`;
      const yHost = laneMid(host), toward = (lane) => (lane > host ? 1 : -1);
      const thick = weight(count);
      // the exit: from the guest's lane up to the hypervisor's
      const up = svg("line", { x1: x - 3, x2: x - 3, y1: laneMid(from), y2: yHost + 6 * toward(from),
        class: "vk-arrow", "marker-end": `url(#${id}-arrow-${li})` }, g);
      up.style.stroke = colour;
      if (thick) up.style.strokeWidth = String(thick);
      // the hypervisor's work, between two steps of the guest
      const work = svg("rect", { x: x - 5, y: yHost - 3, width: 10, height: 6, rx: 2,
        class: "vk-exit-work" }, g);
      work.style.fill = colour;
      // the entry: back down to the lane the guest goes on in
      if (to >= 0) {
        const down = svg("line", { x1: x + 3, x2: x + 3, y1: yHost, y2: laneMid(to) - 9 * toward(to),
          class: "vk-arrow", "marker-end": `url(#${id}-arrow-${li})` }, g);
        down.style.stroke = colour;
        if (thick) down.style.strokeWidth = String(thick);
      }
      const ys = [laneMid(from), yHost, to >= 0 ? laneMid(to) : yHost];
      const top = Math.min(...ys) - 6, bottom = Math.max(...ys) + 6;
      svg("rect", { x: x - 7, y: top, width: 14, height: bottom - top, class: "vk-hit" }, g);
      // between the guest's lane and the hypervisor's, or else in the band of the
      // hypervisor's lane beyond its work block, which no exit's arrow reaches
      const band = from > host ? laneTop(host) + 12 : laneTop(host) + LANE_H - 3;
      placeLabel(g, k, [(laneMid(from) + yHost) / 2 + 3, band], 8,
        count > 1 ? `${label} ×${fmt(count)}` : label);
      g.addEventListener("click", (ev) => {
        ev.stopPropagation();
        if (count > 1) zoomTo(step, last); else moveCursor(step);
      });
    }

    function drawSwitch({ x, sw, ys }, k) {
      const [step, from, to, left, entered, count, last] = sw;
      const li = legendRows.findIndex((r) => r[3] === "switch");
      const [label, colour] = legendRows[li] || ["world switch", "#888"];
      const g = svg("g", { class: `vk-switch${count > 1 ? " vk-bundle" : ""}`, "data-step": String(step),
        "data-from": String(left), "data-to": String(entered), "data-count": String(count) }, body);
      if (step === cursor && count === 1) g.classList.add("vk-selected");
      const bandName = (lane) => (lane >= 0 && bands[lanes[lane][4]] ? bands[lanes[lane][4]][1] : "none");
      const was = from >= 0 ? `saves the vCPU of ${bandName(from)} (in ${lanes[from][1]})`
        : left ? `saves the vCPU of domain ${fmt(left)}` : "finds the hart empty";
      svg("title", {}, g).textContent = count > 1
        ? `${label}es between domains${bundleWords(count, step, last)}`
        : `step ${fmt(step)}: ${label}: the hypervisor ${was} and loads the one of ` +
          `${bandName(to)} (in ${lanes[to][1]})`;
      const y1 = switchFrom(sw), down = laneMid(to) > y1;
      const y2 = laneMid(to) + (down ? -9 : 9);
      const line = svg("line", { x1: x, x2: x, y1, y2, class: "vk-arrow",
        "marker-end": `url(#${id}-arrow-${li})` }, g);
      line.style.stroke = colour;
      if (count > 1) line.style.strokeWidth = String(weight(count));
      const dot = svg("circle", { cx: x, cy: y1, r: 3.5, class: "vk-switch-dot" }, g);
      dot.style.fill = colour;
      svg("rect", { x: x - 6, y: ys[0] - 4, width: 12, height: ys[1] - ys[0] + 8, class: "vk-hit" }, g);
      const words = count > 1 ? `switch ×${fmt(count)}` : `switch ${fmt(left)} → ${fmt(entered)}`;
      placeLabel(g, k, [(y1 + y2) / 2 + 3, ys[0] + 10, ys[1] - 6], 6, words);
      g.addEventListener("click", (ev) => {
        ev.stopPropagation();
        if (count > 1) zoomTo(step, last); else moveCursor(step);
      });
    }

    // nothing in view: an arrow at each edge to the nearest transition or exit, which a
    // click brings into view (Python sends where they are)
    if (!items.length) {
      const [before, after] = model.get("nearby");
      const mid = (AXIS_H + plotBottom) / 2;
      [[before, GUTTER + 4, "start", "◀ "], [after, width - PAD_R - 4, "end", ""]].forEach(([at, x, anchor, pre]) => {
        if (!(at >= 0)) return;
        const g = svg("g", { class: "vk-edge", "data-step": String(at) }, plot);
        svg("title", {}, g).textContent = `the nearest transition or VM exit: step ${fmt(at)} (click to go there)`;
        const words = `${pre}nearest: step ${fmt(at)}${pre ? "" : " ▶"}`;
        const t = svg("text", { x, y: mid + 4, "text-anchor": anchor, class: "vk-edge-label" }, g);
        t.textContent = words;
        g.addEventListener("click", (ev) => {
          ev.stopPropagation();
          const half = (hi - lo) / 2;
          setView(at - half, at + half);
        });
      });
    }
    // where the view is, for tests and tools: step = lo + (x - x0) / (x1 - x0) * (hi - lo)
    plot.dataset.lo = String(lo); plot.dataset.hi = String(hi);
    plot.dataset.x0 = String(GUTTER); plot.dataset.x1 = String(width - PAD_R);
    if (cursor >= lo && cursor <= hi && cursor >= 0) {
      const x = xOf(cursor);
      svg("line", { class: "vk-cursor", x1: x, x2: x, y1: AXIS_H - 4, y2: height }, plot);
    }

    where.textContent = `steps ${fmt(Math.max(lo, model.get("first")))}–${fmt(Math.min(hi, model.get("end")))}` +
      ` of ${fmt(model.get("first"))}–${fmt(model.get("end"))}` + (cursor >= 0 ? ` · cursor ${fmt(cursor)}` : "");
    note.textContent = model.get("note");
    namesButton.setAttribute("aria-pressed", String(model.get("names") === "x86"));
    namesButton.textContent = model.get("names") === "x86" ? "RISC-V names" : "x86 names";

    legend.replaceChildren();
    // with bands: what they and the switches between them are, in words
    if (bands.length && model.get("band_note")) legend.appendChild(el("div", "vk-legend-bands", model.get("band_note")));
    for (const [label, colour, count, style] of legendRows) {
      const item = el("span", "vk-legend-item");
      item.dataset.style = style || "arrow";
      // the chip's shape says the kind too: a square for a transition, an arch for a VM
      // exit (up to the hypervisor and back), a dashed arch for a callout
      // a dashed stroke for a world switch, as drawn
      const chip = el("span", `vk-chip${["exit", "callout", "switch"].includes(style) ? ` vk-chip-${style}` : ""}`);
      if (style === "callout" || style === "switch") chip.style.borderColor = colour; else chip.style.background = colour;
      item.append(chip, el("span", "", `${label} (${fmt(count)})`));
      legend.appendChild(item);
    }
  }

  // zoom with the wheel around the pointer; pan by dragging; a click on an arrow selects
  plot.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const rect = plot.getBoundingClientRect();
    zoomBy(ev.deltaY > 0 ? 1.25 : 0.8, stepOf(ev.clientX - rect.left));
  }, { passive: false });
  let drag = null;
  plot.addEventListener("pointerdown", (ev) => {
    if (ev.target.closest && ev.target.closest(".vk-mark, .vk-edge, .vk-switch")) return;
    drag = { x: ev.clientX, lo, hi };
    plot.setPointerCapture(ev.pointerId);
  });
  plot.addEventListener("pointermove", (ev) => {
    pointerX = ev.clientX - plot.getBoundingClientRect().left;
    if (!drag) return;
    const perPixel = (drag.hi - drag.lo) / (width - GUTTER - PAD_R);
    const shift = (drag.x - ev.clientX) * perPixel;
    setView(drag.lo + shift, drag.hi + shift);
  });
  const endDrag = () => { drag = null; };
  plot.addEventListener("pointerup", endDrag);
  plot.addEventListener("pointercancel", endDrag);
  plot.addEventListener("pointerleave", () => { pointerX = null; });

  root.addEventListener("keydown", (ev) => {
    const span = hi - lo;
    const keys = {
      "+": () => zoomBy(0.5, zoomCentre()), "=": () => zoomBy(0.5, zoomCentre()),
      "-": () => zoomBy(2, zoomCentre()), "−": () => zoomBy(2, zoomCentre()),
      "0": () => setView(model.get("first"), model.get("end")),
      ArrowLeft: () => setView(lo - span / 4, hi - span / 4), ArrowRight: () => setView(lo + span / 4, hi + span / 4),
      n: () => model.send({ cmd: "next", direction: 1 }), p: () => model.send({ cmd: "next", direction: -1 }),
    };
    if (keys[ev.key]) { ev.preventDefault(); keys[ev.key](); }
  });

  const fromPython = () => { [lo, hi] = model.get("view"); schedule(); };
  const names = ["segments", "density", "marks", "exits", "switches", "nearby", "lanes", "bands", "band_note",
    "legend", "step", "note", "names", "first", "end"];
  const stop = onChanges(model, names, schedule);
  model.on("change:view", fromPython);
  const resize = new ResizeObserver(schedule);
  resize.observe(wrap);
  draw();
  return () => {
    resize.disconnect();
    clearTimeout(sendTimer);
    schedule.cancel();
    stop();
    model.off("change:view", fromPython);
  };
}

export default { render };
