// common.js: the helpers every widget's front end shares (anywidget ES module text, no
// build). Not a module of its own: vkernel.widgets._common.esm(name) puts this text in front
// of widgets/<name>.js, so that each widget is still one ES module (relative imports do not
// load in the Jupyter front end). So no exports here, and a widget's file must not declare
// any of these names again (tests/test_widget_js.py checks).

// an HTML element, with a class and text if given
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// a Bytes trait arrives as a DataView (or an ArrayBuffer, or nothing): its bytes, not copied
const bytesOf = (v) => (!v ? new Uint8Array(0) : v.buffer ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : new Uint8Array(v));

// a binary buffer of little-endian uint64 rows, `cols` to a row (BigInt values); a last
// partial row is left out
function rows(value, cols) {
  const bytes = bytesOf(value);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = [];
  for (let r = 0; r < Math.floor(bytes.byteLength / (8 * cols)); r++) {
    const row = [];
    for (let c = 0; c < cols; c++) row.push(view.getBigUint64(8 * (r * cols + c), true));
    out.push(row);
  }
  return out;
}

// a binary buffer of float64 rows (native byte order), `cols` to a row: Float64Array views
// into a copy (so that it is aligned); a last partial row is left out
function floatRows(value, cols) {
  const bytes = bytesOf(value);
  const a = new Float64Array(bytes.slice(0, bytes.byteLength - (bytes.byteLength % 8)).buffer);
  const out = [];
  for (let i = 0; i + cols <= a.length; i += cols) out.push(a.subarray(i, i + cols));
  return out;
}

// a Number or a BigInt in hexadecimal, "0x" first, zero-padded to `digits` if given
const hex = (v, digits = 0) => "0x" + v.toString(16).padStart(digits, "0");

// a count (a Number or a BigInt) with thousands separators, rounded to a whole number,
// never "-0" (nor "NaN": 0)
const fmt = (n) => (Math.round(Number(n)) || 0).toLocaleString("en-US");

// draw at most once an animation frame, however many changes arrive together:
// schedule() asks for a draw, schedule.cancel() drops one not yet made
function everyFrame(draw) {
  let frame = null;
  const schedule = () => { if (frame === null) frame = requestAnimationFrame(() => { frame = null; draw(); }); };
  schedule.cancel = () => { if (frame !== null) cancelAnimationFrame(frame); frame = null; };
  return schedule;
}

// call `fn` when any of the traits named changes; returns what stops it
function onChanges(model, names, fn) {
  for (const n of names) model.on(`change:${n}`, fn);
  return () => { for (const n of names) model.off(`change:${n}`, fn); };
}

// the usual end of a render: draw now, and again (at most once a frame) whenever one of the
// traits named changes; returns the clean-up for render to return
function drawOnChanges(model, names, draw) {
  const schedule = everyFrame(draw);
  const stop = onChanges(model, names, schedule);
  draw();
  return () => {
    schedule.cancel();
    stop();
  };
}
