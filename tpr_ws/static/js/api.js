// HTTP calls: create a session, fetch result objects and signed download links (uploads:
// resumable.js).

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

/** A result object (summary and ward rows) by its URL; the browser caches it (immutable). */
export async function fetchResult(session, url) {
  const response = await fetch(url, { headers: { Authorization: `Bearer ${session.token}`, Accept: "application/json" } });
  if (!response.ok) throw await errorFrom(response);
  return response.json();
}

/**
 * Short-lived signed download links of one analysis: {expires_at, links: {csv, xlsx, html, md}}.
 * The session token never goes into a URL; each link opens one file of this session only.
 */
export async function downloadLinks(session, key) {
  const url = `/api/sessions/${encodeURIComponent(session.session_id)}/results/${encodeURIComponent(key)}/links`;
  const response = await fetch(url, { headers: { Authorization: `Bearer ${session.token}`, Accept: "application/json" }, cache: "no-store" });
  if (!response.ok) throw await errorFrom(response);
  return response.json();
}
