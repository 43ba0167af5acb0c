// HTTP calls: create a session, upload a file with progress, build download links.

export class HttpError extends Error {
  constructor(status, code, message, problems) {
    super(message);
    this.status = status;
    this.code = code;
    this.problems = problems || [];
  }
}

async function errorFrom(response) {
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  return errorFromBody(response.status, body);
}

function errorFromBody(status, body) {
  const err = (body && body.error) || {};
  const fallback = status === 413 ? "The file is too large." : `The server answered ${status}.`;
  return new HttpError(status, err.code || `http_${status}`, err.message || fallback, err.problems);
}

export async function createSession() {
  const response = await fetch("/api/sessions", { method: "POST", headers: { Accept: "application/json" } });
  if (response.status !== 201 && response.status !== 200) throw await errorFrom(response);
  const body = await response.json();
  if (!body.session_id || !body.token) throw new HttpError(response.status, "bad_response", "The server did not return a session.");
  return { session_id: body.session_id, token: body.token };
}

/**
 * Upload `file` with XHR so the bytes sent can be shown. Resolves to the 202 body
 * ({upload_id}); rejects with HttpError. `onProgress(sent, total)`.
 */
export function uploadFile(session, file, idempotencyKey, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/sessions/${encodeURIComponent(session.session_id)}/upload`);
    xhr.setRequestHeader("Authorization", `Bearer ${session.token}`);
    xhr.setRequestHeader("Idempotency-Key", idempotencyKey);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "text";
    xhr.upload.onprogress = (ev) => onProgress(ev.loaded, ev.lengthComputable ? ev.total : file.size);
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body || {});
      else reject(errorFromBody(xhr.status, body));
    };
    xhr.onerror = () => reject(new HttpError(0, "network", "The connection dropped while sending the file."));
    xhr.ontimeout = () => reject(new HttpError(0, "timeout", "Sending the file took too long."));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

export function downloadLinks(session) {
  const base = `/api/sessions/${encodeURIComponent(session.session_id)}`;
  const q = `?token=${encodeURIComponent(session.token)}`;
  return { csv: `${base}/results.csv${q}`, xlsx: `${base}/results.xlsx${q}`, report: `${base}/report.md${q}` };
}
