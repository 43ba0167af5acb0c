// The TPR chat client: session, socket, outbox, uploads and the view, wired together.
// Protocol: docs/PROTOCOL.md in the repository (hello/welcome/event/resync/say/ack/error).

import { h, uuid } from "./js/dom.js";
import { Connection } from "./js/connection.js";
import { ChatView } from "./js/chat.js";
import { createSession, fetchResult, downloadLinks } from "./js/api.js";
import { loadRecord, clearRecord } from "./js/resumable.js";
import { StageSteps } from "./js/steps.js";
import { Outbox } from "./js/outbox.js";
import { UploadPanel } from "./js/upload.js";

const STORE_KEY = "tpr_ws.session.v1";
const CATCH_UP_FALLBACK_MS = 3000;

const $ = (id) => document.getElementById(id);
const dom = {
  log: $("log"), outbox: $("outbox"), conn: $("conn"), connText: $("conn-text"), retryNow: $("retry-now"),
  form: $("composer"), input: $("message"), restart: $("restart"), announcer: $("announcer"),
  main: $("main"), fileInfo: $("file-info"), fileName: $("file-name"), confirmRestart: $("confirm-restart"),
};

// ---- persisted session -------------------------------------------------------------------
function loadStore() {
  try {
    const raw = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
    if (raw && typeof raw.session_id === "string" && typeof raw.token === "string") return raw;
  } catch { /* corrupt: start fresh */ }
  return null;
}

const app = {
  session: null,
  lastSeq: 0,
  stage: null,
  seenReplies: new Set(),
  catchUpTo: null,
  catchUpTimer: null,
  gap: { seq: null, count: 0 },
  fileName: null,
  welcomed: false,
};

function persist() {
  if (!app.session) return;
  const record = {
    session_id: app.session.session_id, token: app.session.token, last_seq: app.lastSeq,
    file_name: app.fileName, outbox: outbox.records(),
  };
  try { localStorage.setItem(STORE_KEY, JSON.stringify(record)); } catch { /* storage full or blocked */ }
}

// ---- view --------------------------------------------------------------------------------
const steps = new StageSteps($("steps"));
const chat = new ChatView({
  log: dom.log,
  outbox: dom.outbox,
  onOption: (opt) => {
    // The "Start over" choice asks first, like the header's button.
    if (opt.value === "restart") { askStartOver(); return; }
    say(String(opt.value ?? opt.label ?? ""), opt.label ? String(opt.label) : null);
  },
  results: {
    table: (url) => fetchResult(app.session, url),
    links: (key) => downloadLinks(app.session, key),
  },
});
const upload = new UploadPanel({
  panel: $("upload-panel"), chooseButton: $("choose-file"), attachButton: $("attach"), sampleButton: $("use-sample"),
  fileInput: $("file-input"), overlay: $("drop-overlay"), cards: dom.outbox,
  session: () => app.session,
  onSample: () => { setFileName("Sample data"); say("sample", "Use the sample data"); },
  onAccepted: (file) => setFileName(file.name),
  onSessionGone: () => sessionGone(),
  onFailed: (key) => chat.failProgress(key),
  isCommitted: (key) => app.seenReplies.has(`upload:${key}`),
});

function setFileName(name) {
  app.fileName = name;
  dom.fileInfo.hidden = !name;
  dom.fileName.textContent = name || "";
  persist();
}

function nearBottom() {
  const doc = document.scrollingElement || document.documentElement;
  return doc.scrollHeight - doc.scrollTop - window.innerHeight < 200;
}

function scrollToEnd(force) {
  if (force || nearBottom()) {
    requestAnimationFrame(() => window.scrollTo({ top: document.documentElement.scrollHeight }));
  }
}

/** New results: their headline (state TPR, counts) in view, under the sticky header. */
function showHeadline(el) {
  const head = el.querySelector(".results .headline") || el.querySelector(".results") || el;
  requestAnimationFrame(() => {
    const masthead = document.querySelector(".masthead");
    const below = masthead ? masthead.getBoundingClientRect().bottom : 0;
    window.scrollTo({ top: window.scrollY + head.getBoundingClientRect().top - below - 12 });
  });
}

function setStage(stage) {
  if (!stage || stage === app.stage) return;
  app.stage = stage;
  document.body.dataset.stage = stage;
  steps.set(stage);
  upload.setVisible(stage === "awaiting_upload");
  document.body.classList.toggle("upload-panel-shown", stage === "awaiting_upload");
}

function announce(el) {
  const text = (el.querySelector(".md")?.textContent || el.textContent || "").replace(/\s+/g, " ").trim();
  if (!text) return;
  dom.announcer.textContent = text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

/** The loaded file's name, from an upload summary ("**name** is loaded: ..."). */
function fileNameFrom(ev) {
  const data = ev.data || {};
  const direct = [data.file_name, data.overview?.file_name].find((c) => typeof c === "string" && c);
  if (direct) return direct;
  const m = data.overview && /^\*\*((?:\\.|[^*\\])+)\*\* is loaded/m.exec(ev.text || "");
  return m ? m[1].replace(/\\(.)/g, "$1") : null;
}

// ---- events ------------------------------------------------------------------------------
/** Keyboard users keep their place: when the choices they were on go away, focus the next ones. */
function keepFocus(focusWasIn, el) {
  const lost = !focusWasIn.isConnected || focusWasIn.classList.contains("stale") || focusWasIn.hidden
    || document.activeElement === document.body || document.activeElement == null;
  if (!lost) return;
  const visible = (x) => x && x.offsetParent !== null;
  const next = [...el.querySelectorAll(".options button.option:not([disabled])")].find(visible)
    || [...document.querySelectorAll("#upload-panel:not([hidden]) button")].find(visible)
    || dom.input;
  next.focus({ preventScroll: true });
}

function renderCommitted(ev, live) {
  const focusWasIn = live && document.activeElement?.closest?.(".options, .upload-panel");
  const seq = Number(ev.seq);
  app.lastSeq = seq;
  document.body.dataset.lastSeq = String(seq);
  const el = chat.renderEvent(ev);
  if (ev.role === "user" && ev.reply_to) app.seenReplies.add(ev.reply_to);
  if (ev.role === "bot") {
    if (ev.stage) setStage(ev.stage);
    // At the upload step a loaded file is offered as "continue"; without it nothing is loaded.
    if (ev.stage === "awaiting_upload" && !(ev.options || []).some((o) => o.value === "continue")) setFileName(null);
    const name = fileNameFrom(ev);
    if (name) setFileName(name);
    if (live && !(ev.data && ev.data.progress)) announce(el);
    if (focusWasIn && !(ev.data && ev.data.progress)) keepFocus(focusWasIn, el);
  }
  // A message whose user event is shown, or acked at or below this seq, leaves the outbox.
  outbox.shown(ev.role === "user" ? ev.reply_to : null, app.lastSeq);
  return el;
}

function onEvent(ev) {
  const seq = Number(ev.seq);
  if (!Number.isFinite(seq) || seq <= app.lastSeq) return; // already shown
  if (seq > app.lastSeq + 1) {
    // A gap: say hello again from the last seq we have and let the server replay.
    if (app.gap.seq === seq) app.gap.count += 1;
    else app.gap = { seq, count: 1 };
    if (app.gap.count <= 2) { conn.resync(); return; }
    console.warn(`tpr: accepting seq ${seq} after ${app.lastSeq} (gap persisted)`);
  }
  const live = app.catchUpTo == null || seq > app.catchUpTo;
  const el = renderCommitted(ev, live);
  scrollToEnd(live && ev.role === "user");
  if (live && ev.role === "bot" && ev.data && ev.data.results) showHeadline(el);
  persist();
  if (app.catchUpTo != null && app.lastSeq >= app.catchUpTo) caughtUp();
}

function onResync(frame) {
  chat.reset();
  app.lastSeq = 0;
  app.stage = null;
  const events = (frame.events || []).filter((e) => e && Number.isFinite(Number(e.seq))).sort((a, b) => a.seq - b.seq);
  for (const ev of events) renderCommitted(ev, false);
  app.lastSeq = Math.max(app.lastSeq, Number(frame.last_seq) || 0);
  document.body.dataset.lastSeq = String(app.lastSeq);
  persist();
  caughtUp();
  scrollToEnd(true);
}

function onWelcome(frame) {
  app.welcomed = true;
  // Which worker answered is for tests and logs only, never shown.
  document.body.dataset.worker = String(frame.worker ?? "");
  // Behind the server: its replay follows. Ahead of it (its log was reset): a resync follows.
  const serverLast = Number(frame.last_seq) || 0;
  app.catchUpTo = serverLast;
  clearTimeout(app.catchUpTimer);
  if (app.lastSeq === serverLast) caughtUp();
  else app.catchUpTimer = setTimeout(caughtUp, CATCH_UP_FALLBACK_MS);
}

function caughtUp() {
  clearTimeout(app.catchUpTimer);
  app.catchUpTo = null;
  document.body.dataset.synced = "true";
  flushOutbox();
  if (app.refocus) {
    // After "Start over" the focus (on the gone dialog's opener) is lost: it goes to the upload.
    app.refocus = false;
    if (document.activeElement === document.body || !document.activeElement) {
      const next = [...document.querySelectorAll("#upload-panel:not([hidden]) button")].find((b) => b.offsetParent !== null);
      (next || dom.input).focus({ preventScroll: true });
    }
  }
  if (!app.resumeChecked && app.session) {
    // An upload interrupted by a reload: its file must be chosen again (the page lost it).
    app.resumeChecked = true;
    const record = loadRecord(app.session.session_id);
    if (record) upload.resume(record);
  }
}

// ---- outbox ------------------------------------------------------------------------------
// The queue/ack/resend logic lives in js/outbox.js; here its statuses become what the page shows.
const STATUS_TEXT = {
  waiting: ["Waiting for the connection…", "queued"],
  queued: ["Queued", "queued"],
  sent: ["Sent; waiting for the reply…", null],
  acked: ["Sent", "acked"],
};

function showStatus(m, status, detail) {
  if (status === "removed") { chat.removePending(m.id); return; }
  if (status === "retrying") {
    const why = detail.code.endsWith("rate_limited") ? "Too many messages at once" : "The server could not finish that";
    chat.setPendingStatus(m.id, `${why}; trying again in ${Math.ceil(detail.delayMs / 1000)} s…`, "queued");
    return;
  }
  if (status === "failed") {
    chat.markFailed(m.id, detail.message, [
      h("button", { type: "button", class: "link-btn", onclick: () => outbox.retry(m.id) }, "Try again"),
      h("button", { type: "button", class: "link-btn", onclick: () => outbox.remove(m.id) }, "Dismiss"),
    ]);
    return;
  }
  const [text, cls] = STATUS_TEXT[status] || [status, null];
  chat.setPendingStatus(m.id, text, cls);
}

const outbox = new Outbox({
  send: (frame) => conn.send(frame),
  canSend: () => conn.ready && app.catchUpTo == null,
  onStatus: showStatus,
  onChange: () => persist(),
});

function flushOutbox() {
  outbox.flush();
}

// `label` is what a clicked choice says ("Under 5"); `text` is its value ("u5"), which the
// server matches. The server shows the label in the conversation.
function say(text, label = null) {
  const clean = String(text).trim();
  if (!clean || !app.session) return;
  const id = uuid();
  chat.addPending({ id, text: clean, label });
  outbox.add(id, clean, label);
  scrollToEnd(true);
}

function onAck(frame) {
  // Protocol 2: the ack carries its turn's events (one frame per turn); show them first.
  for (const ev of frame.events || []) onEvent(ev);
  outbox.ack(frame, app.lastSeq);
}

function onError(frame) {
  if (outbox.error(frame)) return;
  chat.notice(String(frame.message || frame.code || "Something went wrong."), "error");
  scrollToEnd(true);
}

// ---- connection --------------------------------------------------------------------------
const STATE_TEXT = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline: waiting for the network",
};

const conn = new Connection({
  hello: () => ({ type: "hello", protocol: 2, session_id: app.session.session_id, token: app.session.token, last_seq: app.lastSeq }),
  onFrame: (frame) => {
    switch (frame.type) {
      case "welcome": onWelcome(frame); break;
      case "event": onEvent(frame); break;
      case "resync": onResync(frame); break;
      case "ack": onAck(frame); break;
      case "error": onError(frame); break;
      default: break;
    }
  },
  onState: (state, detail) => {
    dom.conn.dataset.state = state;
    document.body.dataset.conn = state;
    let text = STATE_TEXT[state] || state;
    if (state === "reconnecting" && detail.delay > 1500) text = `Reconnecting in ${Math.ceil(detail.delay / 1000)} s…`;
    dom.connText.textContent = text;
    dom.retryNow.hidden = !(state === "reconnecting" && detail.delay > 1500);
    if (state !== "connected") {
      app.catchUpTo = null;
      document.body.dataset.synced = "false";
      // Whatever was on the old socket is resent, with the same ids, after the next welcome.
      outbox.disconnected();
    }
  },
  onSessionGone: () => sessionGone(),
});

async function newSession() {
  let attempt = 0;
  for (;;) {
    try {
      return await createSession();
    } catch (err) {
      attempt += 1;
      const delay = Math.random() * Math.min(15000, 500 * 2 ** attempt);
      dom.conn.dataset.state = navigator.onLine ? "reconnecting" : "offline";
      dom.connText.textContent = navigator.onLine ? "Cannot reach the server; retrying…" : STATE_TEXT.offline;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** Forget the session on this page and start a new one (after `notice`, if any). */
async function freshSession(notice) {
  conn.stop();
  try { localStorage.removeItem(STORE_KEY); } catch { /* ignore */ }
  clearRecord(null);
  outbox.clear();
  Object.assign(app, { session: null, lastSeq: 0, stage: null, seenReplies: new Set(), catchUpTo: null, resumeChecked: true });
  chat.reset();
  while (dom.outbox.firstChild) dom.outbox.firstChild.remove();
  setFileName(null);
  if (notice) chat.notice(notice, "warning");
  app.session = await newSession();
  document.body.dataset.sessionId = app.session.session_id;
  persist();
  conn.start();
}

function sessionGone() {
  return freshSession("Your previous session has ended (it expired or is no longer valid), so a new one has started. Please upload your data again.");
}

// ---- controls ----------------------------------------------------------------------------
dom.form.addEventListener("submit", (e) => {
  e.preventDefault();
  const text = dom.input.value;
  if (!text.trim()) return;
  dom.input.value = "";
  say(text);
  dom.input.focus();
});
// "Start over" asks first, then starts a new session: nothing is said in the user's name.
function askStartOver() {
  dom.confirmRestart.returnValue = "";
  if (typeof dom.confirmRestart.showModal === "function") dom.confirmRestart.showModal();
  else if (window.confirm("Start over? The conversation and the loaded file are cleared on this page.")) freshSession(null);
}
dom.restart.addEventListener("click", askStartOver);
dom.confirmRestart.addEventListener("close", () => {
  if (dom.confirmRestart.returnValue === "confirm") { app.refocus = true; freshSession(null); }
});
dom.retryNow.addEventListener("click", () => conn.reconnectNow());
document.querySelector(".skip-link").addEventListener("click", (e) => { e.preventDefault(); dom.input.focus(); });

async function boot() {
  const stored = loadStore();
  if (stored) {
    app.session = { session_id: stored.session_id, token: stored.token };
    if (stored.file_name) setFileName(stored.file_name);
    // Unacknowledged messages from before the reload are resent with the same ids.
    for (const m of outbox.restore(stored.outbox)) {
      chat.addPending(m);
      chat.setPendingStatus(m.id, "Waiting for the connection…", "queued");
    }
  } else {
    app.session = await newSession();
  }
  document.body.dataset.sessionId = app.session.session_id;
  persist();
  // On a (re)load start from seq 0: the server replays the whole conversation.
  app.lastSeq = 0;
  conn.start();
}

// A tiny handle for debugging and the browser tests.
window.tpr = { app, conn, outbox, say, reconnectNow: () => conn.reconnectNow() };
boot();
