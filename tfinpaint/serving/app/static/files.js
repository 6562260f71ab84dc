// Images and files in the browser: decoding, names, downloads.

/** An <img> of `url`, decoded (rejects when the browser cannot show the file). */
export function loadImage(url) {
  const image = new Image();
  image.src = url;
  return image.decode().then(() => image);
}

/** A file name without its extension. */
export function stem(name) {
  return name.replace(/\.[^.]*$/, "") || "image";
}

/** Save `blob` as a download named `name`. */
export function download(blob, name) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

/** The image at `url` as a JPEG Blob (quality 0..1). */
export async function jpegBlob(url, quality = 0.95) {
  const image = await loadImage(url);
  const canvas = document.createElement("canvas");
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  canvas.getContext("2d").drawImage(image, 0, 0);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
}
