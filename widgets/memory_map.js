// MemoryMap: the front end of vkernel.widgets.MemoryMap (anywidget ES module, no build).
// A host's machine frames on a canvas, one cell each, coloured by owner; hovering names
// the owner and, for a domain's RAM, the guest physical page it backs.

const SYNCED = ["base", "columns", "frames", "gpages", "legend", "note"];
const CELL = 5; // pixels per frame, gap included

function render({ model, el: root }) {
  root.classList.add("vk-memmap");
  const title = el("div", "vk-title");
  const wrap = el("div", "vk-memmap-grid");
  const canvas = el("canvas", "vk-memmap-canvas");
  const hover = el("div", "vk-memmap-hover", "hover over a frame to see its owner");
  const legend = el("div", "vk-legend");
  const note = el("div", "vk-status");
  wrap.append(canvas);
  root.append(title, wrap, hover, legend, note);

  let category = new Uint8Array(0), gpages = new Uint32Array(0);

  function colourOf(style, colour) {
    // free frames: the theme's third layer colour, so both themes read
    return style === "free" ? getComputedStyle(root).getPropertyValue("--jp-layout-color3").trim() || "#ddd" : colour;
  }

  let waited = 0;
  function draw() {
    // the theme's colours are only known once the view is in the page: until then (a
    // few frames after render), wait, or the free frames would take the fallback grey
    if (!root.isConnected && waited++ < 600) { schedule(); return; }
    const owners = model.get("legend");
    category = bytesOf(model.get("frames"));
    const g = bytesOf(model.get("gpages"));
    gpages = new Uint32Array(g.buffer.slice(g.byteOffset, g.byteOffset + g.byteLength));
    const cols = model.get("columns");
    const n = category.length;
    const lines = Math.ceil(n / cols);
    const ratio = window.devicePixelRatio || 1;
    canvas.width = cols * CELL * ratio;
    canvas.height = lines * CELL * ratio;
    canvas.style.width = `${cols * CELL}px`;
    canvas.style.height = `${lines * CELL}px`;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, cols * CELL, lines * CELL);
    const fills = owners.map(([, colour, , style]) => colourOf(style, colour));
    for (let i = 0; i < n; i++) {
      const k = category[i];
      const x = (i % cols) * CELL, y = Math.floor(i / cols) * CELL;
      ctx.fillStyle = fills[k] || "#888";
      if (owners[k] && owners[k][3] === "striped") {
        // charged to a domain, owned by the hypervisor: the domain's colour, a diagonal cut
        ctx.beginPath();
        ctx.moveTo(x, y); ctx.lineTo(x + CELL - 1, y); ctx.lineTo(x, y + CELL - 1);
        ctx.closePath(); ctx.fill();
        ctx.fillStyle = getComputedStyle(root).getPropertyValue("--jp-ui-font-color1").trim() || "#222";
        ctx.beginPath();
        ctx.moveTo(x + CELL - 1, y); ctx.lineTo(x + CELL - 1, y + CELL - 1); ctx.lineTo(x, y + CELL - 1);
        ctx.closePath(); ctx.fill();
      } else ctx.fillRect(x, y, CELL - 1, CELL - 1);
    }
    const base = model.get("base");
    title.textContent = `Machine memory: ${fmt(n)} frames of 4 KiB from ${hex(base)}, ` +
      `${fmt(cols)} a row`;
    legend.replaceChildren();
    for (const [label, colour, count, style, why] of owners) {
      const item = el("span", "vk-legend-item");
      item.dataset.label = label;
      item.dataset.count = String(count);
      item.title = why;
      const chip = el("span", `vk-chip vk-chip-${style}`);
      if (style !== "free") chip.style.setProperty("--vk-chip", colour);
      item.append(chip, el("span", "", `${label} (${fmt(count)})`));
      legend.append(item);
    }
    note.textContent = model.get("note");
  }

  canvas.addEventListener("mousemove", (ev) => {
    const rect = canvas.getBoundingClientRect();
    const cols = model.get("columns");
    const i = Math.floor((ev.clientY - rect.top) / CELL) * cols + Math.floor((ev.clientX - rect.left) / CELL);
    if (i < 0 || i >= category.length) return;
    const owners = model.get("legend");
    const frame = model.get("base") + i * 4096;
    const [label] = owners[category[i]] || ["?"];
    let words = `frame ${hex(frame)}: ${label}`;
    if (gpages[i]) words += `, backing guest physical ${hex(gpages[i] * 4096)}`;
    hover.textContent = words;
    hover.dataset.frame = String(i);
  });

  const schedule = everyFrame(draw);
  const stop = onChanges(model, SYNCED, schedule);
  // the canvas reads the theme's colours when it draws: draw again when the theme changes.
  // JupyterLab marks the new theme on <body> before its stylesheet has loaded, so keep
  // looking for a while, and draw again once the theme's colours have really changed.
  let watching = null;
  const onTheme = () => {
    schedule();
    const before = getComputedStyle(root).getPropertyValue("--jp-layout-color3");
    let tries = 0;
    clearTimeout(watching);
    const look = () => {
      if (getComputedStyle(root).getPropertyValue("--jp-layout-color3") !== before) schedule();
      else if (++tries < 50) watching = setTimeout(look, 100);
    };
    watching = setTimeout(look, 100);
  };
  const theme = new MutationObserver(onTheme);
  theme.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"] });
  draw();
  return () => {
    theme.disconnect();
    clearTimeout(watching);
    schedule.cancel();
    stop();
  };
}

export default { render };
