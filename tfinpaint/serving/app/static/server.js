// Requests to the page's endpoint (`tfinpaint.serving.app`): every failure becomes an Error
// carrying the server's own message.

/** The server's warnings about an answer (X-Tfinpaint-Warnings, a JSON list), or []. */
export function warningsOf(xhr) {
  try {
    const list = JSON.parse(xhr.getResponseHeader("X-Tfinpaint-Warnings") || "[]");
    return Array.isArray(list) ? list.map(String) : [];
  } catch {
    return [];
  }
}

/**
 * POST a form; resolves with the answer's Blob, rejects with the server's error message.
 * `onWarnings(messages)` gets what the server warned about (a 16-bit photo scaled, …).
 */
export function post(path, form, options = {}) {
  const { onProgress = () => {}, onUploaded = () => {}, onWarnings = () => {} } = options;
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.responseType = "blob";
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.upload.onload = onUploaded;
    xhr.onload = async () => {
      if (xhr.status === 200) {
        onWarnings(warningsOf(xhr));
        resolve(xhr.response);
      }
      else reject(new Error(await errorMessage(xhr)));
    };
    xhr.onerror = () =>
      reject(new Error(`The server did not answer ${path}: is \`tfinpaint serve\` still running?`));
    xhr.send(form);
  });
}

async function errorMessage(xhr) {
  const text = xhr.response ? await xhr.response.text() : "";
  try {
    const message = JSON.parse(text).error;
    if (message) return message;
  } catch {
    // not JSON: fall through to the raw answer
  }
  return `HTTP ${xhr.status} ${xhr.statusText}: ${text.slice(0, 300)}`;
}


/** The models on offer: {models: [{name, kind, can_sample, blend, error?}], selected, limits}. */
export async function fetchModels() {
  const response = await fetch("/v1/app/models");
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status} from /v1/app/models`);
  return data;
}
