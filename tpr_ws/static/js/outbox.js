// The outbox: messages the user sent that the server has not yet committed and shown.
// No DOM, no socket, no clock of its own: the page gives it `send`, `canSend`, timers and a
// listener, so tests drive it directly (tests/browser/test_outbox.py).
//
// One say is in flight at a time. The server runs a session's turns one by one anyway, so this
// costs one round trip per message; it keeps the order when a message must be retried, and it
// pins an error frame that carries no id (the server refuses some frames before reading their
// id) on the one message that can have caused it. It reads only `id` and `seq` of an ack, so an
// ack that also carries the turn's events changes nothing here.

/** Error codes worth retrying by themselves, and how many times. */
export const AUTO_RETRY = Object.freeze({
  rate_limited: 8, session_rate_limited: 8, client_rate_limited: 8,
  server_error: 3, storage_unavailable: 6, lease_lost: 3, fenced: 3, state_version: 3,
});
const MAX_RETRY_DELAY_MS = 15000;

/**
 * Status names given to `onStatus(message, status, detail)`:
 *   "waiting"  not sendable now (no connection, or still catching up)
 *   "queued"   behind the message in flight
 *   "sent"     on the socket, no ack yet
 *   "acked"    committed; its user event is not shown yet
 *   "retrying" refused for a passing reason; detail = {code, delayMs}
 *   "failed"   refused; detail = {code, message}; stays until retry() or dismiss()
 *   "removed"  its user event is shown (or it was dismissed): gone from the outbox
 */
export class Outbox {
  /**
   * @param {object} io
   *   send(frame) -> boolean    put a frame on the socket (false: not sent)
   *   canSend() -> boolean      connected and caught up
   *   onStatus(message, status, detail)
   *   onChange()                the persistable records changed
   *   setTimer(fn, ms) -> handle, clearTimer(handle)   (default: setTimeout / clearTimeout)
   *   random() -> [0, 1)        (default: Math.random)
   */
  constructor(io) {
    this.io = {
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (handle) => clearTimeout(handle),
      random: Math.random,
      onStatus: () => {},
      onChange: () => {},
      ...io,
    };
    this.messages = []; // {id, text, label, sent, acked, ackSeq, failed, tries, timer}
    this.committed = new Set(); // ids whose user event has been shown
  }

  /** Queue a new message; returns it. `label` is what a clicked choice shows, `text` is matched. */
  add(id, text, label = null) {
    const m = { id, text, label, sent: false, acked: false, ackSeq: null, failed: false, tries: 0, timer: null };
    this.messages.push(m);
    this.io.onChange();
    this.flush();
    return m;
  }

  /** Messages kept from before a reload (from `records()`), resent with the same ids. */
  restore(records) {
    for (const r of records || []) {
      if (!r || typeof r.id !== "string" || typeof r.text !== "string") continue;
      if (this.get(r.id)) continue;
      this.messages.push({ id: r.id, text: r.text, label: r.label || null, sent: false, acked: false, ackSeq: null, failed: false, tries: 0, timer: null });
    }
    return this.messages.slice();
  }

  /** What survives a reload: the messages not yet acknowledged nor given up. */
  records() {
    return this.messages.filter((m) => !m.acked && !m.failed).map((m) => ({ id: m.id, text: m.text, label: m.label || null }));
  }

  get(id) {
    return this.messages.find((m) => m.id === id) || null;
  }

  inFlight() {
    return this.messages.find((m) => m.sent && !m.acked && !m.failed) || null;
  }

  /** Send the next message if nothing is in flight; tell each waiting message where it is. */
  flush() {
    for (const m of [...this.messages]) if (this.committed.has(m.id)) this.remove(m.id);
    const waiting = this.messages.filter((m) => !m.acked && !m.failed);
    if (!this.io.canSend()) {
      for (const m of waiting) if (!m.timer) this.io.onStatus(m, "waiting");
      return;
    }
    let next = this.inFlight();
    if (!next) {
      next = waiting[0];
      if (!next || next.timer) return;
      const frame = { type: "say", id: next.id, text: next.text };
      if (next.label && next.label !== next.text) frame.label = next.label;
      if (!this.io.send(frame)) {
        this.io.onStatus(next, "waiting");
        return;
      }
      next.sent = true;
      this.io.onStatus(next, "sent");
    }
    for (const m of waiting) if (m !== next && !m.timer) this.io.onStatus(m, "queued");
  }

  /** The socket is gone: whatever was on it is resent, with the same ids, once `canSend()`. */
  disconnected() {
    for (const m of this.messages) {
      if (m.acked || m.failed) continue;
      m.sent = false;
      if (!m.timer) this.io.onStatus(m, "waiting");
    }
  }

  /** An ack frame ({id, seq}); `lastSeq` is the last event shown. */
  ack(frame, lastSeq) {
    const m = this.get(frame.id);
    // Already done: its user event came first (protocol 2 carries it inside the ack).
    if (!m) { this.flush(); return; }
    m.acked = true;
    m.sent = false;
    const seq = Number(frame.seq);
    m.ackSeq = Number.isFinite(seq) ? seq : null;
    if (this.committed.has(m.id) || (m.ackSeq != null && m.ackSeq <= lastSeq)) this.remove(m.id);
    else { this.io.onStatus(m, "acked"); this.io.onChange(); }
    this.flush();
  }

  /** A user event was shown: its message (if ours) is done. `lastSeq` is now shown too. */
  shown(replyTo, lastSeq) {
    if (replyTo) {
      this.committed.add(replyTo);
      this.remove(replyTo);
    }
    for (const m of [...this.messages]) if (m.acked && m.ackSeq != null && m.ackSeq <= lastSeq) this.remove(m.id);
  }

  /**
   * An error frame. Returns the message it was pinned on (retrying or failed), or null when it
   * concerns none (the page shows it as a notice).
   */
  error(frame) {
    const m = frame.id ? this.get(frame.id) : this.inFlight();
    if (!m || m.acked) return null;
    if (m.tries < (AUTO_RETRY[frame.code] || 0)) {
      this.retryLater(m, frame.code);
      return m;
    }
    m.failed = true;
    m.sent = false;
    this.io.onChange();
    this.io.onStatus(m, "failed", { code: frame.code, message: String(frame.message || frame.code || "Something went wrong.") });
    this.flush();
    return m;
  }

  retryLater(m, code) {
    m.sent = false;
    m.tries += 1;
    const ceiling = Math.min(MAX_RETRY_DELAY_MS, 1000 * 2 ** Math.min(m.tries, 4));
    const delayMs = ceiling * (0.5 + this.io.random() / 2);
    this.io.onStatus(m, "retrying", { code, delayMs });
    m.timer = this.io.setTimer(() => { m.timer = null; this.flush(); }, delayMs);
  }

  /** The user asked to send a failed message again. */
  retry(id) {
    const m = this.get(id);
    if (!m || !m.failed) return;
    m.failed = false;
    m.tries = 0;
    this.io.onChange();
    this.flush();
  }

  /** Drop a message (dismissed, or its user event is shown). */
  remove(id) {
    const k = this.messages.findIndex((m) => m.id === id);
    if (k === -1) return;
    const [m] = this.messages.splice(k, 1);
    if (m.timer) this.io.clearTimer(m.timer);
    m.timer = null;
    this.io.onStatus(m, "removed");
    this.io.onChange();
  }

  /** Forget everything (the session ended). */
  clear() {
    for (const m of this.messages) if (m.timer) this.io.clearTimer(m.timer);
    this.messages = [];
    this.committed.clear();
    this.io.onChange();
  }
}
