// Resumable uploads over tus 1.0.0 (core + creation, checksum; see docs/PROTOCOL.md): the file
// is sent in chunks, each to whichever worker the balancer picks; after a dropped connection,
// a sleeping laptop or a reload the upload asks the server how much it has (HEAD) and goes on
// from there. CSV files are gzip-compressed in the browser first. No DOM here.

import { HttpError } from "./api.js";

const CONFIG = {
  chunkBytes: 256 * 1024, // about 8 s per chunk at 250 kbit/s: a drop loses little
  stallMs: 20000, // no upload progress for this long: the connection is dead (sleep, cut)
  retryBaseMs: 500,
  retryMaxMs: 15000,
  ...(globalThis.tprConfig || {}),
};
const TUS = { "Tus-Resumable": "1.0.0" };
const RECORD_KEY = "tpr_ws.upload.v1";

function b64(text) {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

async function sha256Hex(buffer) {
  if (!globalThis.crypto || !crypto.subtle) return ""; // plain http on a LAN address
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", buffer));
  return [...digest].map((x) => x.toString(16).padStart(2, "0")).join("");
}

async function sha256Base64(buffer) {
  if (!globalThis.crypto || !crypto.subtle) return "";
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", buffer));
  return btoa(String.fromCharCode(...digest));
}

/** What is sent for `file`: gzip for a CSV where the browser can compress, else the file. */
export async function encodeFile(file) {
  const original = await file.arrayBuffer();
  const sha256 = await sha256Hex(original);
  if (/\.csv$/i.test(file.name) && typeof CompressionStream === "function") {
    const stream = new Blob([original]).stream().pipeThrough(new CompressionStream("gzip"));
    const body = await new Response(stream).blob();
    return { body, encoding: "gzip", sha256 };
  }
  return { body: new Blob([original]), encoding: "identity", sha256 };
}

// ---- the interrupted upload, remembered across a reload --------------------------------------
export function loadRecord(sessionId) {
  try {
    const r = JSON.parse(localStorage.getItem(RECORD_KEY) || "null");
    if (r && r.session_id === sessionId && typeof r.url === "string") return r;
  } catch { /* corrupt: nothing to resume */ }
  return null;
}

export function saveRecord(record) {
  try { localStorage.setItem(RECORD_KEY, JSON.stringify(record)); } catch { /* full or blocked */ }
}

export function clearRecord(key) {
  try {
    const r = JSON.parse(localStorage.getItem(RECORD_KEY) || "null");
    if (!key || !r || r.key === key) localStorage.removeItem(RECORD_KEY);
  } catch { /* ignore */ }
}

/** How far the server is with a remembered upload: {offset, state} or null if it is gone. */
export async function probeRecord(session, record) {
  try {
    const res = await request("HEAD", record.url, { session });
    if (res.status !== 200) return null;
    return { offset: Number(res.header("Upload-Offset")), state: res.header("Tpr-Upload-State") || "receiving" };
  } catch {
    return { offset: -1, state: "unknown" }; // no network now: ask for the file as usual
  }
}

/** Why `file` is not the one an interrupted upload was sending, or "" when it is. */
export function sameFileProblem(record, file) {
  if (file.name !== record.name) return `That is "${file.name}"; the upload was "${record.name}".`;
  if (file.size !== record.size) return `"${file.name}" has changed size since (${file.size} bytes, was ${record.size}).`;
  if (file.lastModified !== record.last_modified) return `"${file.name}" has been changed since.`;
  return "";
}

// ---- HTTP --------------------------------------------------------------------------------
function request(method, url, { session, headers = {}, body = null, onProgress = null } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [k, v] of Object.entries({ ...TUS, Authorization: `Bearer ${session.token}`, ...headers })) xhr.setRequestHeader(k, v);
    let stall = null;
    const watch = () => {
      clearTimeout(stall);
      stall = setTimeout(() => xhr.abort(), CONFIG.stallMs);
    };
    if (onProgress) xhr.upload.onprogress = (ev) => { watch(); onProgress(ev.loaded); };
    xhr.onload = () => {
      clearTimeout(stall);
      let json = null;
      try { json = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch { /* not JSON */ }
      resolve({ status: xhr.status, header: (name) => xhr.getResponseHeader(name), json });
    };
    const dropped = () => { clearTimeout(stall); reject(new HttpError(0, "network", "The connection dropped while sending the file.")); };
    xhr.onerror = dropped;
    xhr.onabort = dropped;
    watch();
    xhr.send(body);
  });
}

function failure(res) {
  const err = (res.json && res.json.error) || {};
  return new HttpError(res.status, err.code || `http_${res.status}`, err.message || `The server answered ${res.status}.`, err.problems);
}

/**
 * One file sent over tus. `events`: progress(sent, total, phase), state(text) for waits.
 * `run()` resolves when the server has the whole file and has taken it in (or another worker
 * is doing so); rejects with HttpError for a refusal (4xx other than 409/404/460).
 */
export class ResumableUpload {
  constructor({ session, file, key, events, record = null }) {
    this.session = session;
    this.file = file;
    this.key = key;
    this.events = events;
    this.record = record; // from a reload: its url and expected length
    this.cancelled = false;
    this.wake = null;
    this.onOnline = () => this.retryNow();
    window.addEventListener("online", this.onOnline);
  }

  retryNow() {
    if (this.wake) this.wake();
  }

  cancel() {
    this.cancelled = true;
    this.retryNow();
  }

  async wait(attempt) {
    const ceiling = Math.min(CONFIG.retryMaxMs, CONFIG.retryBaseMs * 2 ** attempt);
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.random() * ceiling);
      this.wake = () => { clearTimeout(timer); resolve(); };
    });
    this.wake = null;
  }

  async run() {
    if (!this.file) return this.finishOnly();
    try {
      this.events.progress(0, this.file.size, "preparing");
      const { body, encoding, sha256 } = await encodeFile(this.file);
      this.body = body;
      this.encoding = encoding;
      if (this.record && this.record.length !== body.size) {
        await this.forget(); // compressed differently this time: start over
      }
      if (this.record && this.record.sha256 && sha256 && this.record.sha256 !== sha256) {
        throw new HttpError(400, "not_the_same_file", `"${this.file.name}" is not the file that was being sent (its content differs).`);
      }
      this.sha256 = sha256;
      return await this.loop();
    } finally {
      window.removeEventListener("online", this.onOnline);
    }
  }

  /** After a reload, when the server has every byte: finish (or wait) without the file. */
  async finishOnly() {
    this.body = { size: this.record.length, slice: () => new Blob([]) };
    this.encoding = this.record.encoding;
    try { return await this.loop(); } finally { window.removeEventListener("online", this.onOnline); }
  }

  async loop() {
    let attempt = 0;
    for (;;) {
      if (this.cancelled) throw new HttpError(0, "cancelled", "The upload was cancelled.");
      try {
        if (!this.record) await this.create();
        const done = await this.sendFrom(await this.offset());
        if (done) { clearRecord(this.key); return done; }
        attempt = 0;
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        if (err.status === 404 && err.code === "unknown_upload") { this.record = null; continue; }
        if (err.status && err.status < 500 && ![409, 429, 460].includes(err.status)) {
          if (err.status !== 401) clearRecord(this.key);
          throw err;
        }
        this.events.state(navigator.onLine ? "Connection lost; resuming…" : "Offline: the upload resumes when the network is back");
        await this.wait(attempt);
        attempt += 1;
      }
    }
  }

  url() {
    return `/api/sessions/${encodeURIComponent(this.session.session_id)}/files`;
  }

  async create() {
    const meta = [`filename ${b64(this.file.name)}`, `encoding ${b64(this.encoding)}`];
    if (this.sha256) meta.push(`sha256 ${b64(this.sha256)}`);
    const res = await request("POST", this.url(), {
      session: this.session,
      headers: { "Upload-Length": String(this.body.size), "Upload-Metadata": meta.join(","), "Idempotency-Key": this.key },
    });
    if (res.status !== 201) throw failure(res);
    this.record = {
      session_id: this.session.session_id, key: this.key, url: res.header("Location"),
      name: this.file.name, size: this.file.size, last_modified: this.file.lastModified,
      length: this.body.size, sha256: this.sha256, encoding: this.encoding,
    };
    saveRecord(this.record);
  }

  async forget() {
    const old = this.record;
    this.record = null;
    clearRecord(this.key);
    this.key = `${this.key}-r${Date.now().toString(36)}`;
    try { await request("DELETE", old.url, { session: this.session }); } catch { /* it expires anyway */ }
  }

  async offset() {
    const res = await request("HEAD", this.record.url, { session: this.session });
    if (res.status === 404) throw new HttpError(404, "unknown_upload", "The upload expired.");
    if (res.status !== 200) throw failure(res);
    return { offset: Number(res.header("Upload-Offset")), state: res.header("Tpr-Upload-State") || "receiving" };
  }

  /** PATCH from `offset` to the end; returns the final state ("done"/"finishing") or null. */
  async sendFrom({ offset, state }) {
    if (state === "done") return "done";
    if (state === "finishing") { this.events.state("The server is reading the file…"); throw new HttpError(503, "finishing", "finishing"); }
    let at = offset;
    const total = this.body.size;
    this.events.progress(at, total, "sending");
    for (;;) {
      const chunk = this.body.slice(at, Math.min(total, at + CONFIG.chunkBytes));
      const headers = { "Upload-Offset": String(at), "Content-Type": "application/offset+octet-stream" };
      const sum = await sha256Base64(await chunk.arrayBuffer());
      if (sum) headers["Upload-Checksum"] = `sha256 ${sum}`;
      const last = at + chunk.size >= total;
      if (last) this.events.state(null);
      const res = await request("PATCH", this.record.url, {
        session: this.session, headers, body: chunk,
        onProgress: (sent) => this.events.progress(Math.min(total, at + sent), total, last && sent >= chunk.size ? "finishing" : "sending"),
      });
      if (res.status !== 204) throw failure(res);
      this.events.state(null);
      at = Number(res.header("Upload-Offset"));
      this.events.progress(at, total, "sending");
      const now = res.header("Tpr-Upload-State");
      if (now === "done") return "done";
      if (now === "finishing") { this.events.state("The server is reading the file…"); throw new HttpError(503, "finishing", "finishing"); }
      if (at >= total) return null;
    }
  }
}
