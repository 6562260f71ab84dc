// The mask being painted: one byte per image pixel (1 = hole), at the image's full
// resolution, drawn as a semi-transparent overlay on a canvas of the same size (the canvas
// may be displayed scaled). Every change is one history step that undo / redo replay.

const OVERLAY = [255, 40, 90, 255]; // shown through the canvas's CSS opacity
const THRESHOLD = 128; // the server's rule: mask values >= 128 are a hole

export class MaskLayer {
  /**
   * @param {HTMLCanvasElement} canvas the canvas that shows the mask (sized to the image).
   * @param {() => void} onChange called after every change of the mask or its history
   */
  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.onChange = () => {};
    this.reset(1, 1);
    this.onChange = onChange;
  }

  /** A new, empty mask for an image of width x height; forgets the history. */
  reset(width, height) {
    this.width = width;
    this.height = height;
    this.values = new Uint8Array(width * height);
    this.undoStack = [];
    this.redoStack = [];
    this.stroke = null;
    this.canvas.width = width;
    this.canvas.height = height;
    this.context.clearRect(0, 0, width, height);
    this.changed();
  }

  isEmpty() {
    return !this.values.some((v) => v);
  }

  get canUndo() {
    return this.undoStack.length > 0;
  }

  get canRedo() {
    return this.redoStack.length > 0;
  }

  changed() {
    this.onChange();
  }

  // ---- painting ----------------------------------------------------------------------------

  /** Start a stroke at image point p ({x, y}); `erase` clears instead of painting. */
  beginStroke(p, diameter, erase) {
    this.stroke = { before: this.values.slice(), box: null, last: p, radius: diameter / 2, value: erase ? 0 : 1 };
    this.segment(p, p);
  }

  /** Continue the stroke to image point p. */
  extendStroke(p) {
    if (!this.stroke) return;
    this.segment(this.stroke.last, p);
    this.stroke.last = p;
  }

  /** End the stroke: it becomes one undo step (nothing if it changed no pixel). */
  endStroke() {
    const stroke = this.stroke;
    this.stroke = null;
    if (!stroke || !stroke.box) return;
    this.record(stroke.box, stroke.before, this.values);
  }

  /**
   * Set every pixel whose centre lies within `radius` of the segment p0-p1 (a capsule; a dot
   * when p0 == p1). Hard-edged, so the mask the server gets is exactly what is shown.
   */
  segment(p0, p1) {
    const { radius, value } = this.stroke;
    const x0 = Math.max(0, Math.floor(Math.min(p0.x, p1.x) - radius));
    const x1 = Math.min(this.width, Math.ceil(Math.max(p0.x, p1.x) + radius));
    const y0 = Math.max(0, Math.floor(Math.min(p0.y, p1.y) - radius));
    const y1 = Math.min(this.height, Math.ceil(Math.max(p0.y, p1.y) + radius));
    if (x0 >= x1 || y0 >= y1) return;
    const dx = p1.x - p0.x;
    const dy = p1.y - p0.y;
    const length2 = dx * dx + dy * dy;
    const radius2 = radius * radius;
    for (let y = y0; y < y1; y++) {
      const py = y + 0.5;
      for (let x = x0; x < x1; x++) {
        const px = x + 0.5;
        let t = length2 > 0 ? ((px - p0.x) * dx + (py - p0.y) * dy) / length2 : 0;
        t = Math.min(1, Math.max(0, t));
        const qx = p0.x + t * dx - px;
        const qy = p0.y + t * dy - py;
        if (qx * qx + qy * qy <= radius2) this.values[y * this.width + x] = value;
      }
    }
    const box = this.stroke.box;
    this.stroke.box = box
      ? [Math.min(box[0], x0), Math.min(box[1], y0), Math.max(box[2], x1), Math.max(box[3], y1)]
      : [x0, y0, x1, y1];
    this.draw([x0, y0, x1, y1]);
  }

  // ---- whole-mask changes ------------------------------------------------------------------

  /** Erase everything (one undo step). */
  clear() {
    if (this.isEmpty()) return;
    this.replace(new Uint8Array(this.values.length));
  }

  /** Replace the whole mask by `values` (1 = hole) as one undo step carrying `extra`. */
  replace(values, extra = null) {
    const before = this.values.slice();
    this.values.set(values);
    this.draw([0, 0, this.width, this.height]);
    this.record([0, 0, this.width, this.height], before, this.values, extra);
  }

  // ---- history -----------------------------------------------------------------------------

  /**
   * Push one step: the pixels of `box` before and after. `extra` (a run's images) comes
   * back with the step from `undo` and `redo`.
   */
  record(box, before, after, extra = null) {
    this.undoStack.push({ box, before: crop(before, this.width, box), after: crop(after, this.width, box), extra });
    this.redoStack = [];
    this.changed();
  }

  /** The step undo would revert, or null. */
  lastStep() {
    return this.undoStack.length ? this.undoStack[this.undoStack.length - 1] : null;
  }

  /** Revert the last step; returns it (null if none). */
  undo() {
    const step = this.undoStack.pop();
    if (!step) return null;
    this.redoStack.push(step);
    this.apply(step.box, step.before);
    return step;
  }

  /** Re-apply the last undone step; returns it (null if none). */
  redo() {
    const step = this.redoStack.pop();
    if (!step) return null;
    this.undoStack.push(step);
    this.apply(step.box, step.after);
    return step;
  }

  apply(box, pixels) {
    const [x0, y0, x1, y1] = box;
    const boxWidth = x1 - x0;
    for (let y = y0; y < y1; y++) {
      this.values.set(pixels.subarray((y - y0) * boxWidth, (y - y0 + 1) * boxWidth), y * this.width + x0);
    }
    this.draw(box);
    this.changed();
  }

  // ---- showing and exporting ---------------------------------------------------------------

  draw([x0, y0, x1, y1]) {
    const image = this.context.createImageData(x1 - x0, y1 - y0);
    const data = image.data;
    let i = 0;
    for (let y = y0; y < y1; y++) {
      const row = y * this.width;
      for (let x = x0; x < x1; x++, i += 4) {
        if (this.values[row + x]) data.set(OVERLAY, i);
      }
    }
    this.context.putImageData(image, x0, y0);
  }

  /** The mask as a PNG: white = hole on black, the image's size. */
  toPngBlob() {
    const canvas = document.createElement("canvas");
    canvas.width = this.width;
    canvas.height = this.height;
    const context = canvas.getContext("2d");
    const image = context.createImageData(this.width, this.height);
    const data = image.data;
    for (let i = 0, j = 0; i < this.values.length; i++, j += 4) {
      const v = this.values[i] ? 255 : 0;
      data[j] = data[j + 1] = data[j + 2] = v;
      data[j + 3] = 255;
    }
    context.putImageData(image, 0, 0);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  }
}

/** The hole (1) / keep (0) values of a decoded mask file, by the server's rule. */
export function holesFromImageData({ data, width, height }) {
  const count = width * height;
  let opaque = true;
  let uniform = true;
  for (let j = 0; j < data.length; j += 4) {
    if (data[j + 3] < 255) opaque = false;
    if (data[j] !== data[0] || data[j + 1] !== data[0] || data[j + 2] !== data[0]) uniform = false;
  }
  const values = new Uint8Array(count);
  for (let i = 0, j = 0; i < count; i++, j += 4) {
    const alpha = data[j + 3];
    if (!opaque && uniform) {
      values[i] = alpha; // the shape is in the alpha channel (opaque = hole)
      continue;
    }
    // Transparent pixels are composited over black (rounded as the server does): only
    // opaque white marks a hole.
    const over = (v) => (opaque ? v : Math.floor((v * alpha + 127) / 255));
    const r = over(data[j]);
    const g = over(data[j + 1]);
    const b = over(data[j + 2]);
    values[i] = r === g && g === b ? r : Math.round(0.299 * r + 0.587 * g + 0.114 * b);
  }
  let max = 0;
  for (let i = 0; i < count; i++) max = Math.max(max, values[i]);
  // A {0, 1} mask marks its holes with 1.
  const hole = new Uint8Array(count);
  for (let i = 0; i < count; i++) hole[i] = max === 1 ? (values[i] === 1 ? 1 : 0) : values[i] >= THRESHOLD ? 1 : 0;
  return hole;
}

function crop(values, width, [x0, y0, x1, y1]) {
  const boxWidth = x1 - x0;
  const out = new Uint8Array(boxWidth * (y1 - y0));
  for (let y = y0; y < y1; y++) out.set(values.subarray(y * width + x0, y * width + x1), (y - y0) * boxWidth);
  return out;
}
