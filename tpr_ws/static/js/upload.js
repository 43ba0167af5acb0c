// Uploads: file picker, drag and drop, resumable sending with progress, clear errors, picking
// the file again to resume after a reload, "use the sample data".

import { h, clear, fmtBytes, uuid } from "./dom.js";
import { ResumableUpload, clearRecord, probeRecord, sameFileProblem } from "./resumable.js";

const ACCEPTED = /\.(xlsx|xls|csv)$/i;

export class UploadPanel {
  /**
   * ctx: { panel, chooseButton, attachButton, sampleButton, fileInput, overlay, cards,
   *        session() -> {session_id, token}, onSample(), onAccepted(file), onSessionGone(),
   *        onFailed(key, err), isCommitted(key) }
   */
  constructor(ctx) {
    this.ctx = ctx;
    this.card = null;
    this.pending = null; // an interrupted upload waiting for its file to be chosen again
    this.active = null;
    ctx.chooseButton.addEventListener("click", () => ctx.fileInput.click());
    ctx.attachButton.addEventListener("click", () => ctx.fileInput.click());
    ctx.sampleButton.addEventListener("click", () => ctx.onSample());
    ctx.fileInput.addEventListener("change", () => {
      const file = ctx.fileInput.files && ctx.fileInput.files[0];
      ctx.fileInput.value = "";
      if (file) this.picked(file);
    });
    this.bindDrop();
  }

  setVisible(visible) {
    this.ctx.panel.hidden = !visible;
  }

  bindDrop() {
    const { overlay } = this.ctx;
    let depth = 0;
    const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes("Files");
    window.addEventListener("dragenter", (e) => { if (!hasFiles(e)) return; depth += 1; overlay.hidden = false; });
    window.addEventListener("dragleave", () => { depth = Math.max(0, depth - 1); if (!depth) overlay.hidden = true; });
    window.addEventListener("dragover", (e) => { if (hasFiles(e)) e.preventDefault(); });
    window.addEventListener("drop", (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      overlay.hidden = true;
      const file = e.dataTransfer.files && e.dataTransfer.files[0];
      if (file) this.picked(file);
    });
  }

  newCard(file, key) {
    if (this.card) this.card.remove();
    const label = h("div", { class: "progress-label" });
    const fill = h("div", { class: "progress-fill" });
    const bar = h("div", { class: "progress-bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-label": `Sending ${file.name}` }, fill);
    const body = h("div", { class: "upload-body" });
    const note = h("div", { class: "upload-note", role: "status" });
    // data-id matches the reply_to of the upload's user event, which replaces the card.
    const card = h("article", { class: "msg user upload-card", dataset: { state: "sending", id: `upload:${key}` } },
      h("div", { class: "bubble" }, h("div", { class: "upload-name", text: file.name }), label, bar, note, body));
    this.ctx.cards.append(card);
    this.card = card;
    return { card, label, bar, fill, body, note };
  }

  /** A file chosen or dropped: the one an interrupted upload waits for, or a new upload. */
  picked(file) {
    const record = this.pending;
    if (!record) { this.start(file); return; }
    const problem = sameFileProblem(record.record, file);
    if (problem) {
      record.note.textContent = `${problem} Choose "${record.record.name}" to continue, or cancel that upload.`;
      return;
    }
    this.pending = null;
    record.card.remove();
    this.start(file, record.record.key, record.record);
  }

  /**
   * After a reload: an upload was interrupted. If the server has every byte it is finished
   * without the file; otherwise the file is asked for again (the page lost it).
   */
  async resume(record) {
    if (this.ctx.isCommitted && this.ctx.isCommitted(record.key)) { clearRecord(record.key); return; }
    const where = await probeRecord(this.ctx.session(), record);
    if (!where) { clearRecord(record.key); return; } // expired or gone: nothing to resume
    if (where.state !== "receiving" && where.state !== "unknown" || where.offset >= record.length) {
      this.start(null, record.key, record);
      return;
    }
    if (this.pending) this.pending.card.remove();
    const note = h("p", { class: "upload-note", role: "status" },
      `Sending "${record.name}" was interrupted when the page closed. Choose the same file again to continue where it stopped.`);
    const card = h("article", { class: "msg user upload-card resume", dataset: { state: "resume", id: `upload:${record.key}` } },
      h("div", { class: "bubble" }, h("div", { class: "upload-name", text: record.name }), note,
        h("div", { class: "upload-actions" },
          h("button", { type: "button", class: "btn primary", onclick: () => this.ctx.fileInput.click() }, `Choose ${record.name}…`),
          h("button", { type: "button", class: "link-btn", onclick: () => { clearRecord(record.key); this.pending = null; card.remove(); } }, "Cancel this upload"))));
    this.ctx.cards.append(card);
    this.pending = { record, card, note };
  }

  async start(file, key = uuid(), record = null) {
    // Without a file (after a reload, the server has every byte), the record stands for it.
    const shown = file || { name: record.name, size: record.size };
    const parts = this.newCard(shown, key);
    if (file && !ACCEPTED.test(file.name)) {
      this.fail(parts, file, key, { code: "bad_type", message: `"${file.name}" is not an Excel or CSV file. Choose a .xlsx, .xls or .csv export from DHIS2.`, problems: [] }, false);
      return;
    }
    parts.label.textContent = file ? `Preparing ${fmtBytes(file.size)}…` : "Sent; the server is reading it…";
    parts.card.scrollIntoView({ block: "nearest" });
    const upload = new ResumableUpload({
      session: this.ctx.session(), file, key, record,
      events: {
        progress: (sent, total, phase) => this.showProgress(parts, shown, upload, sent, total, phase),
        state: (text) => { parts.note.textContent = text || ""; parts.card.dataset.waiting = text ? "true" : "false"; },
      },
    });
    this.active = upload;
    try {
      await upload.run();
      // The server has the file and its turn is committed (or being committed): the log tells the rest.
      if (!this.ctx.isCommitted || !this.ctx.isCommitted(key)) parts.label.textContent = "Sent; the server is reading it…";
      parts.card.remove();
      if (this.card === parts.card) this.card = null;
      this.ctx.onAccepted(shown);
    } catch (err) {
      if (err.status === 401 || err.status === 404) { parts.card.remove(); this.ctx.onSessionGone(); return; }
      this.fail(parts, shown, key, err, file != null && notFinished(err));
    } finally {
      if (this.active === upload) this.active = null;
    }
  }

  showProgress(parts, file, upload, sent, total, phase) {
    if (phase === "preparing") {
      parts.label.textContent = /\.csv$/i.test(file.name) ? `Compressing ${fmtBytes(file.size)}…` : `Preparing ${fmtBytes(file.size)}…`;
      return;
    }
    const fraction = total ? Math.min(1, sent / total) : 0;
    parts.fill.style.width = `${(fraction * 100).toFixed(1)}%`;
    parts.bar.setAttribute("aria-valuenow", String(Math.round(fraction * 100)));
    parts.card.dataset.sent = String(sent);
    const packed = upload.encoding === "gzip" ? ` · compressed from ${fmtBytes(file.size)}` : "";
    parts.label.textContent = fraction >= 1 || phase === "finishing"
      ? `Sent ${fmtBytes(total)}${packed}; the server is reading it…`
      : `Sending… ${fmtBytes(sent)} of ${fmtBytes(total)} (${Math.round(fraction * 100)}%)${packed}`;
  }

  fail(parts, file, key, err, canRetry) {
    if (this.ctx.onFailed) this.ctx.onFailed(key, err);
    if (this.ctx.isCommitted && this.ctx.isCommitted(key)) {
      // The upload's turn is in the chat, which already says what is wrong with the file.
      parts.card.remove();
      if (this.card === parts.card) this.card = null;
      return;
    }
    if (!parts.card.isConnected) this.ctx.cards.append(parts.card);
    parts.card.dataset.state = "failed";
    parts.card.classList.add("failed");
    parts.bar.remove();
    parts.label.textContent = "";
    parts.note.textContent = "";
    clear(parts.body);
    const title = notFinished(err) ? "The upload did not finish. " : "This file could not be used. ";
    const problems = Array.isArray(err.problems) ? err.problems : [];
    // With a list of problems the list says it all (the message repeats it).
    const message = problems.length ? "" : String(err.message || "Upload failed.");
    parts.body.append(h("p", { class: "error-text", role: "alert" }, h("strong", { text: title }), message));
    if (problems.length) {
      parts.body.append(h("ul", { class: "problems" }, problems.map((p) => h("li", { text: typeof p === "string" ? p : (p && (p.message || JSON.stringify(p))) }))));
    }
    const actions = h("div", { class: "upload-actions" });
    if (canRetry) actions.append(h("button", { type: "button", class: "btn", onclick: () => this.start(file, key) }, "Try again"));
    else clearRecord(key);
    actions.append(h("button", { type: "button", class: "btn", onclick: () => this.ctx.fileInput.click() }, "Choose another file"));
    actions.append(h("button", { type: "button", class: "link-btn", onclick: () => { parts.card.remove(); if (this.card === parts.card) this.card = null; } }, "Dismiss"));
    parts.body.append(actions);
  }
}

// Not the file's fault: the server, the network, a stalled body (408) or a limit (429).
function notFinished(err) {
  return err.status === 0 || err.status === 408 || err.status === 429 || err.status >= 500;
}
