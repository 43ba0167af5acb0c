// The WebSocket link: hello/welcome, jittered exponential backoff, online/offline, close codes.
// It knows nothing of the conversation; the app gives it the hello frame and gets frames back.

// Tunable for tests through window.tprConfig (set before the app loads).
const CONFIG = {
  baseDelayMs: 500, // reconnect backoff: full jitter in [0, min(max, base * 2^attempt)]
  maxDelayMs: 15000,
  welcomeTimeoutMs: 10000, // socket created -> welcome; a stalled worker accepts but never answers
  pingEveryMs: 10000, // the browser never pings by itself: a stalled worker would look connected
  deadAfterMs: 25000, // no frame at all for this long (pongs included): the socket is dead
  probeMs: 3000, // back online or visible again: a socket silent this long after a ping is dead
  ...(globalThis.tprConfig || {}),
};

export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_BAD_TOKEN = 4401;
export const CLOSE_UNKNOWN_SESSION = 4404;
// No valid hello in time (a stalled page) or too many sockets from this address: the server
// said why in an error frame; reconnect with the usual backoff.
export const CLOSE_HELLO_TIMEOUT = 4408;
export const CLOSE_TOO_MANY_SOCKETS = 4429;
const CLOSE_CLIENT_RESYNC = 4000;

export class Connection {
  /**
   * @param {object} hooks
   *   hello(): the hello frame to send on open (or null to wait)
   *   onFrame(frame), onState(state, detail), onSessionGone()
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.welcomeTimer = null;
    this.pingTimer = null;
    this.lastFrameAt = 0;
    this.ready = false;
    this.stopped = true;
    this.state = "connecting";
    this.probeTimer = null;
    window.addEventListener("online", () => this.wake());
    window.addEventListener("offline", () => this.goOffline());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.wake();
    });
  }

  url() {
    const proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    return `${proto}//${window.location.host}/ws`;
  }

  setState(state, detail = {}) {
    this.state = state;
    this.hooks.onState(state, detail);
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.drop(1000, "stop");
  }

  drop(code, reason) {
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    clearTimeout(this.welcomeTimer);
    clearInterval(this.pingTimer);
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(code, reason); } catch { /* already closed */ }
    }
  }

  open() {
    clearTimeout(this.timer);
    if (this.stopped) return;
    if (!navigator.onLine) { this.setState("offline"); return; }
    this.drop(1000, "reopen");
    this.setState(this.attempt === 0 && !this.everConnected ? "connecting" : "reconnecting", { attempt: this.attempt });
    let ws;
    try { ws = new WebSocket(this.url()); } catch { this.scheduleRetry(); return; }
    this.ws = ws;
    this.welcomeTimer = setTimeout(() => { if (this.ws === ws && !this.ready) this.fail(ws, 4002); }, CONFIG.welcomeTimeoutMs);
    ws.onopen = () => {
      ws.send(JSON.stringify(this.hooks.hello()));
    };
    ws.onmessage = (msg) => {
      if (this.ws !== ws) return;
      this.lastFrameAt = Date.now();
      let frame;
      try { frame = JSON.parse(msg.data); } catch { return; }
      if (frame.type === "welcome") {
        this.ready = true;
        this.everConnected = true;
        this.attempt = 0;
        clearTimeout(this.welcomeTimer);
        this.startHeartbeat(ws);
        this.setState("connected", { worker: frame.worker });
      }
      if (frame.type === "pong") return;
      this.hooks.onFrame(frame);
    };
    ws.onclose = (ev) => { if (this.ws === ws) this.fail(ws, ev.code); };
    ws.onerror = () => { /* onclose follows */ };
  }

  startHeartbeat(ws) {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (this.ws !== ws) { clearInterval(this.pingTimer); return; }
      if (Date.now() - this.lastFrameAt > CONFIG.deadAfterMs) { this.fail(ws, 4003); return; }
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ping" }));
    }, CONFIG.pingEveryMs);
  }

  fail(ws, code) {
    if (this.ws !== ws) return;
    this.drop(1000, "failed");
    if (this.stopped) return;
    if (code === CLOSE_BAD_TOKEN || code === CLOSE_UNKNOWN_SESSION) { this.hooks.onSessionGone(); return; }
    if (code === CLOSE_GOING_AWAY || code === CLOSE_CLIENT_RESYNC) { this.attempt = 0; this.open(); return; }
    // Too many sockets: waiting for one to close takes a while; do not start with short delays.
    if (code === CLOSE_TOO_MANY_SOCKETS) this.attempt = Math.max(this.attempt, 4);
    else if (code === CLOSE_HELLO_TIMEOUT) this.attempt = Math.max(this.attempt, 1);
    this.scheduleRetry();
  }

  scheduleRetry() {
    if (this.stopped) return;
    if (!navigator.onLine) { this.setState("offline"); return; }
    // Full jitter: a random delay in [0, min(cap, base * 2^attempt)].
    const ceiling = Math.min(CONFIG.maxDelayMs, CONFIG.baseDelayMs * 2 ** this.attempt);
    const delay = Math.random() * ceiling;
    this.attempt += 1;
    this.setState("reconnecting", { delay, attempt: this.attempt, retryAt: Date.now() + delay });
    this.timer = setTimeout(() => this.open(), delay);
  }

  /** The browser lost the network: drop the socket (it is dead or soon will be) and wait. */
  goOffline() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.drop(1000, "offline");
    this.setState("offline");
  }

  /**
   * The network is back or the tab is visible again (a laptop waking up): never wait out the
   * backoff. Without a socket, reconnect now; with one that may have died unnoticed while
   * asleep, ping it and reconnect unless it answers within `probeMs`.
   */
  wake() {
    if (this.stopped) return;
    if (!this.ready || !this.ws) { this.reconnectNow(); return; }
    const ws = this.ws;
    const asked = Date.now();
    clearTimeout(this.probeTimer);
    try { ws.send(JSON.stringify({ type: "ping" })); } catch { this.fail(ws, 4003); return; }
    this.probeTimer = setTimeout(() => {
      if (this.ws === ws && this.lastFrameAt < asked) { this.drop(1000, "silent"); this.reconnectNow(); }
    }, CONFIG.probeMs);
  }

  /** Reconnect at once (online again, a sequence gap, or the user asked). */
  reconnectNow() {
    if (this.stopped) return;
    this.attempt = 0;
    this.open();
  }

  /** Close and say hello again from the last seq (after a sequence gap). */
  resync() {
    if (this.ws) this.fail(this.ws, CLOSE_CLIENT_RESYNC);
    else this.reconnectNow();
  }

  send(frame) {
    if (!this.ready || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }
}
