// The page of `tfinpaint serve`: open a photo, paint what to remove, run a model on the
// server (POST /v1/app/inpaint), compare, paint again on the result, download.

import { download, jpegBlob, loadImage, stem } from "/app/files.js";
import { MaskLayer, holesFromImageData } from "/app/mask.js";
import { fetchModels, post } from "/app/server.js";

const $ = (id) => document.getElementById(id);
const ui = {
  imageInput: $("image-input"),
  maskInput: $("mask-input"),
  brush: $("tool-brush"),
  eraser: $("tool-eraser"),
  size: $("brush-size"),
  sizeValue: $("brush-size-value"),
  undo: $("undo"),
  redo: $("redo"),
  clear: $("clear"),
  downloadMask: $("download-mask"),
  zoom: $("zoom"),
  model: $("model-select"),
  blend: $("blend"),
  dilate: $("dilate"),
  feather: $("feather"),
  run: $("run"),
  another: $("another-sample"),
  compare: $("compare"),
  downloadResult: $("download-result"),
  downloadJpeg: $("download-jpeg"),
  progress: $("progress"),
  statusText: $("status-text"),
  error: $("error"),
  notes: $("notes"),
  viewport: $("viewport"),
  hint: $("hint"),
  limits: $("limits"),
  stage: $("stage"),
  photo: $("photo"),
  result: $("result-image"),
  canvas: $("mask-canvas"),
  cursor: $("cursor"),
};

const state = {
  original: null, // {blob, name, url, jpeg}: the photo as opened
  current: null, // what the next run starts from: the original or a result ({blob, name, url})
  width: 0,
  height: 0,
  tool: "brush",
  models: new Map(), // name -> {kind, can_sample}
  lastRun: null, // {image, mask, model, blend, seed, step}: for "another sample"
  busy: false,
  comparing: false,
  urls: [], // object URLs of the open photo, released when another is opened
};

const mask = new MaskLayer(ui.canvas, () => updateButtons());

// ---- messages ---------------------------------------------------------------------------------

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = false;
}

function clearError() {
  ui.error.textContent = "";
  ui.error.hidden = true;
  showNotes([]);
}

/** What the server warned about for the last answer (shown until the next action). */
function showNotes(messages) {
  ui.notes.textContent = messages.join("\n");
  ui.notes.hidden = messages.length === 0;
}

/** Status line: `fraction` in [0, 1] shows a bar, null a busy bar, undefined none. */
function setStatus(text = "", fraction = undefined) {
  ui.statusText.textContent = text;
  ui.progress.hidden = fraction === undefined;
  if (fraction === null) ui.progress.removeAttribute("value");
  else if (fraction !== undefined) ui.progress.value = fraction;
}

function showUpload(fraction) {
  setStatus(`Uploading… ${Math.round(100 * fraction)} %`, fraction);
}

/** Run an action; any failure is shown in the error area, never swallowed. */
function guarded(action) {
  return async (...args) => {
    try {
      await action(...args);
    } catch (error) {
      setStatus();
      showError(error.message || String(error));
    }
  };
}

// ---- the server -------------------------------------------------------------------------------

/** The file as the server reads it, as PNG (formats a browser cannot show, e.g. TIFF). */
async function decodeOnServer(file) {
  const form = new FormData();
  form.append("image", file, file.name);
  setStatus(`Reading ${file.name} on the server…`, null);
  const png = await post("/v1/app/decode", form, { onProgress: showUpload, onWarnings: showNotes });
  setStatus();
  return png;
}

async function loadModels() {
  const data = await fetchModels();
  const labels = { served: "", default: " (shipped model)", classical: " (classical fill)" };
  ui.model.replaceChildren(
    ...data.models.map((model) => {
      state.models.set(model.name, model);
      const option = new Option(`${model.name}${labels[model.kind] || ""}`, model.name);
      if (model.error) {
        option.disabled = true;
        option.textContent += " — cannot be loaded";
        option.title = model.error;
      }
      return option;
    }),
  );
  const usable = data.models.filter((model) => !model.error).map((model) => model.name);
  ui.model.value = usable.includes(data.selected) ? data.selected : usable[0] || "";
  showBlendDefault();
  const broken = data.models.filter((model) => model.error);
  if (broken.length) showError(broken.map((model) => `model ${model.name}: ${model.error}`).join("\n"));
  const megabytes = (data.limits.max_request_bytes / 2 ** 20).toFixed(0);
  const megapixels = (data.limits.max_pixels / 1e6).toFixed(1);
  ui.limits.textContent = `This server takes photos up to ${megapixels} megapixels and ${megabytes} MB.`;
  updateButtons();
}

/** Show the chosen model's own blend (paper 2's models are Poisson-blended, the shipped default
 * model's fill is re-made from patches, paper 1's and the classical fills are not blended). */
function showBlendDefault() {
  const model = state.models.get(ui.model.value);
  if (model) ui.blend.value = model.blend;
}

// ---- images -----------------------------------------------------------------------------------

function track(url) {
  state.urls.push(url);
  return url;
}

async function openPhoto(file) {
  if (!file || state.busy) return;
  clearError();
  let url = URL.createObjectURL(file);
  let image;
  try {
    image = await loadImage(url);
  } catch {
    URL.revokeObjectURL(url);
    // Not something the browser shows: the server reads it, or says why it cannot.
    url = URL.createObjectURL(await decodeOnServer(file));
    image = await loadImage(url);
  }
  for (const old of state.urls) URL.revokeObjectURL(old);
  state.urls = [url];
  const name = file.name || "pasted.png";
  // Runs send the file itself, so the server reads exactly the pixels `tfinpaint inpaint` would.
  state.original = { blob: file, name, url, jpeg: file.type === "image/jpeg" || /\.jpe?g$/i.test(name) };
  state.current = state.original;
  state.lastRun = null;
  state.width = image.naturalWidth;
  state.height = image.naturalHeight;
  ui.photo.src = url;
  ui.result.removeAttribute("src");
  mask.reset(state.width, state.height);
  const side = Math.max(state.width, state.height);
  ui.size.max = String(Math.max(50, Math.round(side / 4)));
  setBrushSize(Math.max(4, Math.round(side / 25)));
  ui.hint.hidden = true;
  ui.stage.hidden = false;
  layout();
  showCurrent();
  setStatus(`${name}: ${state.width} × ${state.height}`);
}

async function openMask(file) {
  if (!file) return;
  clearError();
  if (!state.current) throw new Error("Open a photo first, then its mask.");
  const options = { colorSpaceConversion: "none", premultiplyAlpha: "none", imageOrientation: "from-image" };
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, options);
  } catch {
    bitmap = await createImageBitmap(await decodeOnServer(file), options);
  }
  if (bitmap.width !== state.width || bitmap.height !== state.height) {
    throw new Error(
      `${file.name}: mask is ${bitmap.width}x${bitmap.height} but the photo is ` +
        `${state.width}x${state.height} (width x height); expected the same size.`,
    );
  }
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  mask.replace(holesFromImageData(context.getImageData(0, 0, canvas.width, canvas.height)));
}

async function downloadJpeg() {
  download(await jpegBlob(state.current.url), `${stem(state.current.name)}.jpg`);
}

// ---- view -------------------------------------------------------------------------------------

function layout() {
  if (!state.width) return;
  let scale = Number(ui.zoom.value);
  if (ui.zoom.value === "fit") {
    const style = getComputedStyle(ui.viewport);
    const width = ui.viewport.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const height = ui.viewport.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    scale = Math.min(1, width / state.width, height / state.height);
  }
  ui.stage.style.width = `${Math.max(1, Math.round(state.width * scale))}px`;
  ui.stage.style.height = `${Math.max(1, Math.round(state.height * scale))}px`;
}

function showCurrent() {
  const showOriginal = state.comparing || state.current === state.original;
  ui.photo.hidden = !showOriginal;
  ui.result.hidden = showOriginal;
  if (state.current !== state.original && ui.result.getAttribute("src") !== state.current.url) {
    ui.result.src = state.current.url;
  }
  ui.stage.classList.toggle("comparing", state.comparing);
  updateButtons();
}

function setCompare(on) {
  const possible = state.current && state.current !== state.original;
  state.comparing = Boolean(on && possible);
  if (state.current) showCurrent();
}

function canSampleAgain() {
  const last = state.lastRun;
  return Boolean(last && mask.lastStep() === last.step && state.models.get(last.model)?.can_sample);
}

function updateButtons() {
  const open = Boolean(state.current);
  const hasResult = open && state.current !== state.original;
  ui.undo.disabled = state.busy || !mask.canUndo;
  ui.redo.disabled = state.busy || !mask.canRedo;
  ui.clear.disabled = state.busy || !open;
  ui.downloadMask.disabled = !open;
  ui.run.disabled = state.busy || !open || !ui.model.value;
  ui.another.hidden = !canSampleAgain();
  ui.another.disabled = state.busy;
  ui.compare.disabled = !hasResult;
  ui.downloadResult.disabled = !hasResult;
  ui.downloadJpeg.hidden = !(open && state.original.jpeg);
  ui.downloadJpeg.disabled = !hasResult;
}

// ---- painting ---------------------------------------------------------------------------------

function setBrushSize(size) {
  const value = Math.min(Number(ui.size.max), Math.max(Number(ui.size.min), Math.round(size)));
  ui.size.value = String(value);
  ui.sizeValue.textContent = String(value);
}

function setTool(tool) {
  state.tool = tool;
  ui.brush.setAttribute("aria-pressed", String(tool === "brush"));
  ui.eraser.setAttribute("aria-pressed", String(tool === "eraser"));
}

/** A pointer event's position in image pixels (the canvas may be displayed scaled). */
function toImage(event) {
  const rect = ui.canvas.getBoundingClientRect();
  return {
    x: (event.clientX - rect.left) * (state.width / rect.width),
    y: (event.clientY - rect.top) * (state.height / rect.height),
  };
}

function moveCursor(event) {
  const rect = ui.stage.getBoundingClientRect();
  const diameter = Number(ui.size.value) * (rect.width / state.width);
  Object.assign(ui.cursor.style, {
    left: `${event.clientX - rect.left}px`,
    top: `${event.clientY - rect.top}px`,
    width: `${diameter}px`,
    height: `${diameter}px`,
  });
  ui.cursor.hidden = false;
}

ui.canvas.addEventListener("pointerdown", (event) => {
  if (event.button !== 0 || state.busy || !state.current) return;
  event.preventDefault();
  ui.canvas.setPointerCapture(event.pointerId);
  clearError();
  mask.beginStroke(toImage(event), Number(ui.size.value), state.tool === "eraser");
});
ui.canvas.addEventListener("pointermove", (event) => {
  moveCursor(event);
  if (!mask.stroke) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const each of events.length ? events : [event]) mask.extendStroke(toImage(each));
});
for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
  ui.canvas.addEventListener(type, () => mask.endStroke());
}
ui.canvas.addEventListener("pointerleave", () => (ui.cursor.hidden = true));

function undo() {
  if (state.busy) return;
  const step = mask.undo();
  if (step?.extra) {
    state.current = step.extra.before;
    showCurrent();
  }
}

function redo() {
  if (state.busy) return;
  const step = mask.redo();
  if (step?.extra) {
    state.current = step.extra.after;
    showCurrent();
  }
}

// ---- running ----------------------------------------------------------------------------------

async function run(anotherSample = false) {
  if (state.busy || !state.current) return;
  clearError();
  let request;
  if (anotherSample) {
    request = { ...state.lastRun, seed: (state.lastRun.seed ?? 0) + 1 };
  } else {
    if (mask.isEmpty()) throw new Error("Paint over what to remove first: the mask is empty.");
    request = {
      image: state.current,
      mask: await mask.toPngBlob(),
      model: ui.model.value,
      blend: ui.blend.value,
      dilate: ui.dilate.value.trim() || "0",
      feather: ui.feather.value.trim() || "0",
      seed: null,
    };
  }
  const form = new FormData();
  form.append("image", request.image.blob, request.image.name);
  form.append("mask", request.mask, "mask.png");
  form.append("model", request.model);
  form.append("blend", request.blend);
  form.append("dilate", request.dilate);
  form.append("feather", request.feather);
  form.append("seed", request.seed === null ? "" : String(request.seed));
  const started = performance.now();
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
  let timer = null;
  const running = () => setStatus(`Inpainting with ${request.model}… ${seconds()} s`, null);
  state.busy = true;
  document.body.dataset.busy = "true";
  updateButtons();
  try {
    const blob = await post("/v1/app/inpaint", form, {
      onProgress: showUpload,
      onWarnings: showNotes,
      onUploaded: () => {
        running();
        timer = setInterval(running, 200);
      },
    });
    const url = track(URL.createObjectURL(blob));
    await loadImage(url); // decoded before it replaces the view
    const result = { blob, name: `${stem(state.original.name)}_inpainted.png`, url };
    if (anotherSample) {
      state.lastRun.seed = request.seed;
      state.lastRun.step.extra.after = result;
    } else {
      // The run is one undo step: the painted mask and the image it was painted on come back.
      mask.replace(new Uint8Array(state.width * state.height), { before: state.current, after: result });
      state.lastRun = { ...request, step: mask.lastStep() };
    }
    state.current = result;
    const sample = request.seed === null ? "" : `, sample ${request.seed}`;
    setStatus(`Done in ${seconds()} s (${request.model}${sample}). Paint again to remove more.`);
  } finally {
    clearInterval(timer);
    state.busy = false;
    delete document.body.dataset.busy;
    if (ui.statusText.textContent.startsWith("Inpainting") || ui.statusText.textContent.startsWith("Uploading")) {
      setStatus();
    }
    showCurrent();
  }
}

// ---- wiring -----------------------------------------------------------------------------------

ui.imageInput.addEventListener(
  "change",
  guarded(async () => {
    const file = ui.imageInput.files[0];
    ui.imageInput.value = ""; // choosing the same file again opens it again
    await openPhoto(file);
  }),
);
ui.maskInput.addEventListener(
  "change",
  guarded(async () => {
    const file = ui.maskInput.files[0];
    ui.maskInput.value = "";
    await openMask(file);
  }),
);
ui.brush.addEventListener("click", () => setTool("brush"));
ui.eraser.addEventListener("click", () => setTool("eraser"));
ui.size.addEventListener("input", () => setBrushSize(Number(ui.size.value)));
ui.undo.addEventListener("click", undo);
ui.redo.addEventListener("click", redo);
ui.clear.addEventListener("click", () => mask.clear());
ui.downloadMask.addEventListener(
  "click",
  guarded(async () => download(await mask.toPngBlob(), `${stem(state.original.name)}_mask.png`)),
);
ui.zoom.addEventListener("change", layout);
ui.model.addEventListener("change", () => {
  showBlendDefault();
  updateButtons();
});
ui.run.addEventListener("click", guarded(() => run(false)));
ui.another.addEventListener("click", guarded(() => run(true)));
ui.compare.addEventListener("pointerdown", () => setCompare(true));
for (const type of ["pointerup", "pointerleave", "pointercancel"]) {
  ui.compare.addEventListener(type, () => setCompare(false));
}
ui.downloadResult.addEventListener("click", () => download(state.current.blob, state.current.name));
ui.downloadJpeg.addEventListener("click", guarded(downloadJpeg));
// Refit when the window or the header (status, error) changes size.
new ResizeObserver(layout).observe(ui.viewport);
window.addEventListener("blur", () => setCompare(false));

document.addEventListener("keydown", (event) => {
  if (event.target.type === "number") return; // typing a number of pixels
  const key = event.key.toLowerCase();
  if (event.ctrlKey || event.metaKey) {
    if (key === "z") (event.shiftKey ? redo : undo)();
    else if (key === "y") redo();
    else if (key === "enter") guarded(() => run(false))();
    else return;
    event.preventDefault();
    return;
  }
  if (event.altKey || event.target.tagName === "SELECT") return; // letters pick options there
  const step = Math.max(1, Math.round(Number(ui.size.value) * 0.15));
  if (key === "[") setBrushSize(Number(ui.size.value) - step);
  else if (key === "]") setBrushSize(Number(ui.size.value) + step);
  else if (key === "b") setTool("brush");
  else if (key === "e") setTool("eraser");
  else if (key === "c" && !event.repeat) setCompare(true);
});
document.addEventListener("keyup", (event) => {
  if (event.key.toLowerCase() === "c") setCompare(false);
});

// Drop a photo anywhere on the page, or paste one.
document.addEventListener("dragover", (event) => {
  event.preventDefault();
  ui.viewport.classList.add("dragging");
});
document.addEventListener("dragleave", () => ui.viewport.classList.remove("dragging"));
document.addEventListener(
  "drop",
  guarded(async (event) => {
    event.preventDefault();
    ui.viewport.classList.remove("dragging");
    await openPhoto(event.dataTransfer.files[0]);
  }),
);
document.addEventListener(
  "paste",
  guarded(async (event) => {
    const file = [...event.clipboardData.files].find((f) => f.type.startsWith("image/"));
    if (file) await openPhoto(file);
  }),
);

updateButtons();
guarded(loadModels)();
