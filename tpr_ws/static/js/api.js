// HTTP calls: create a session, build download links (uploads: resumable.js).

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

export function downloadLinks(session) {
  const base = `/api/sessions/${encodeURIComponent(session.session_id)}`;
  const q = `?token=${encodeURIComponent(session.token)}`;
  return { csv: `${base}/results.csv${q}`, xlsx: `${base}/results.xlsx${q}`, report: `${base}/report.md${q}` };
}
