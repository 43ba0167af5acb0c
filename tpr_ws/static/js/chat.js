// The conversation view: committed events in seq order, pending outbox bubbles after them,
// progress bars updated in place, option buttons on the latest question only.

import { h, clear } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { renderResults } from "./results.js";

/**
 * The part of a results message the card does not already show: anything said before it and
 * the "**Results:** ..." line. With no data the text explains why, so it is kept whole.
 */
function resultsIntro(text, results) {
  if (results.state_tpr == null) return text;
  const blocks = text.split(/\n\s*\n/);
  const k = blocks.findIndex((b) => b.trim().startsWith("**Results:**"));
  return k === -1 ? text : blocks.slice(0, k + 1).join("\n\n");
}

export class ChatView {
  /** @param {object} ctx { log, outbox, onOption(option), linkFilter(href)?, results: {table(url), links(key)} } */
  constructor(ctx) {
    this.ctx = ctx;
    this.log = ctx.log;
    this.outbox = ctx.outbox;
    this.progress = new Map(); // upload_id -> {el, bar, label}
    this.latestOptions = null;
  }

  reset() {
    clear(this.log);
    this.progress.clear();
    this.latestOptions = null;
  }

  /** Render one committed event (already deduped by seq). Returns the element. */
  renderEvent(ev) {
    const data = ev.data || {};
    if (ev.role === "bot" && data.progress && typeof data.progress === "object") return this.renderProgress(ev, data.progress);
    if (ev.role === "user") {
      const el = this.append(this.userBubble(ev));
      // An upload's progress card (its events come first) sits under its "Uploaded ..." line.
      const id = String(ev.reply_to || "");
      const item = id.startsWith("upload:") ? this.progress.get(id.slice("upload:".length)) : null;
      if (item) el.after(item.el);
      return el;
    }
    return this.append(this.botBubble(ev));
  }

  append(el) {
    this.log.append(el);
    return el;
  }

  userBubble(ev) {
    const replyTo = String(ev.reply_to || "");
    const el = h("article", { class: "msg user", dataset: { seq: ev.seq, role: "user", replyTo } });
    if (replyTo.startsWith("upload:")) {
      // The server writes the upload line itself, in Markdown with the file name escaped.
      el.append(h("div", { class: "bubble md" }, renderMarkdown(ev.text ?? "")));
      this.finishProgress(replyTo.slice("upload:".length));
    } else {
      // What a person typed is shown exactly as typed.
      el.append(h("div", { class: "bubble", text: ev.text ?? "" }));
    }
    return el;
  }

  /** The upload failed over HTTP: its server-side progress will not move again. */
  failProgress(uploadId) {
    const item = this.progress.get(uploadId);
    if (!item || item.el.classList.contains("done")) return;
    item.el.classList.add("failed");
    item.bar.classList.remove("indeterminate");
    item.label.textContent = "Stopped: see the message below.";
  }

  /** The upload's turn is committed: its progress bar is complete. */
  finishProgress(uploadId) {
    const item = this.progress.get(uploadId);
    if (!item) return;
    item.el.classList.add("done");
    item.fill.style.width = "100%";
    item.bar.setAttribute("aria-valuenow", "100");
    item.label.textContent = "✓ Done";
  }

  botBubble(ev) {
    const data = ev.data || {};
    const bubble = h("div", { class: "bubble" });
    const hasResults = data.results && typeof data.results === "object";
    const text = hasResults ? resultsIntro(ev.text || "", data.results) : ev.text;
    if (text) bubble.append(h("div", { class: "md" }, renderMarkdown(text, { linkFilter: this.ctx.linkFilter })));
    if (hasResults) {
      // Each card keeps its own downloads: they are addressed by the analysis's result key.
      bubble.append(renderResults(data, { seq: ev.seq, results: this.ctx.results }));
    }
    const el = h("article", { class: "msg bot", dataset: { seq: ev.seq, role: "bot", stage: ev.stage || "" } }, bubble);
    if (Array.isArray(ev.options) && ev.options.length) {
      const opts = this.optionList(ev.options);
      el.append(opts);
      if (this.latestOptions) this.latestOptions.classList.add("stale");
      this.latestOptions = opts;
    } else if (this.latestOptions) {
      // A new question without choices supersedes the old buttons.
      this.latestOptions.classList.add("stale");
      this.latestOptions = null;
    }
    return el;
  }

  optionList(options) {
    const list = h("div", { class: "options", role: "group", "aria-label": "Choices" });
    options.forEach((opt, k) => {
      const recommended = Boolean(opt.recommended);
      // A choice the file cannot serve: visible, not clickable, its reason in the detail.
      const unavailable = opt.available === false;
      list.append(h("button", {
        type: "button", class: `option${recommended ? " recommended" : ""}${unavailable ? " unavailable" : ""}`,
        dataset: { value: opt.value ?? opt.label ?? "" },
        disabled: unavailable,
        onclick: (e) => {
          if (list.classList.contains("stale") || unavailable) return;
          e.currentTarget.classList.add("chosen");
          this.ctx.onOption(opt);
        },
      },
      h("span", { class: "option-num", "aria-hidden": "true", text: String(k + 1) }),
      h("span", { class: "option-body" },
        h("span", { class: "option-label", text: opt.label ?? opt.value ?? "" }),
        recommended ? h("span", { class: "badge", text: "Recommended" }) : null,
        opt.detail ? h("span", { class: "option-detail", text: String(opt.detail) }) : null)));
    });
    return list;
  }

  renderProgress(ev, p) {
    const key = String(p.upload_id ?? "upload");
    let item = this.progress.get(key);
    if (!item) {
      const label = h("div", { class: "progress-label" });
      const fill = h("div", { class: "progress-fill" });
      const bar = h("div", { class: "progress-bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100" }, fill);
      const el = h("article", { class: "msg bot progress", dataset: { seq: ev.seq, role: "bot", uploadId: key, stage: ev.stage || "" } },
        h("div", { class: "bubble" }, label, bar));
      item = { el, label, bar, fill };
      this.progress.set(key, item);
      this.append(el);
    }
    // The server has the file: the local "sending" card has done its job.
    const local = this.pendingEl(`upload:${key}`);
    if (local && local.dataset.state !== "failed") local.remove();
    const fraction = typeof p.fraction === "number" && Number.isFinite(p.fraction) ? Math.max(0, Math.min(1, p.fraction)) : null;
    const phase = p.phase ? String(p.phase) : "";
    item.label.textContent = p.message || ev.text || phase || "Working…";
    item.el.dataset.lastSeq = ev.seq;
    item.el.dataset.seqs = item.el.dataset.seqs ? `${item.el.dataset.seqs} ${ev.seq}` : String(ev.seq);
    item.el.dataset.phase = phase;
    item.bar.classList.toggle("indeterminate", fraction == null);
    item.bar.setAttribute("aria-label", item.label.textContent);
    if (fraction == null) {
      item.bar.removeAttribute("aria-valuenow");
      item.fill.style.width = "";
    } else {
      item.bar.setAttribute("aria-valuenow", String(Math.round(fraction * 100)));
      item.fill.style.width = `${(fraction * 100).toFixed(1)}%`;
    }
    const done = /^(done|complete|completed|finished|ready)$/i.test(phase) || fraction === 1;
    const failed = /^(error|failed|rejected)$/i.test(phase);
    item.el.classList.toggle("done", done);
    item.el.classList.toggle("failed", failed);
    return item.el;
  }

  // --- the outbox: messages not yet committed -----------------------------------------
  addPending(msg) {
    const status = h("div", { class: "msg-status", text: "Sending…" });
    const el = h("article", { class: "msg user pending", dataset: { id: msg.id, role: "user" } },
      h("div", { class: "bubble", text: msg.label || msg.text }), status);
    this.outbox.append(el);
    return el;
  }

  pendingEl(id) {
    return [...this.outbox.children].find((el) => el.dataset.id === id) || null;
  }

  setPendingStatus(id, text, cls) {
    const el = this.pendingEl(id);
    if (!el) return;
    el.querySelector(".msg-status").textContent = text;
    el.classList.remove("queued", "acked", "failed");
    if (cls) el.classList.add(cls);
  }

  removePending(id) {
    const el = this.pendingEl(id);
    if (el) el.remove();
  }

  markFailed(id, message, actions) {
    const el = this.pendingEl(id);
    if (!el) return;
    el.classList.add("failed");
    const status = el.querySelector(".msg-status");
    clear(status);
    status.append(h("span", { class: "error-text", text: `Not sent: ${message}` }), ...actions);
  }

  /** A notice that is not part of the session log (errors, session changes). */
  notice(text, kind = "info", extra = null) {
    const el = h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" },
      h("span", { class: "notice-text", text }), extra);
    this.log.append(el);
    return el;
  }
}
