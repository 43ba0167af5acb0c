// A small, safe Markdown renderer: builds DOM nodes with textContent only, never innerHTML.
// Supports headings, paragraphs (single newlines become line breaks, as in chat), bold, italic,
// inline code, fenced code, bullet and numbered lists (nested by indentation), tables with |,
// block quotes, rules, and links to same-origin relative paths (anything else shows as text).

import { h } from "./dom.js";

const RE_FENCE = /^\s*(```|~~~)/;
const RE_HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RE_RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
const RE_LIST = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const RE_QUOTE = /^\s{0,3}>\s?(.*)$/;
const RE_TABLE_SEP = /^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$/;

/** Render Markdown `src` to a DocumentFragment. `linkFilter(url)` may rewrite a safe link. */
export function renderMarkdown(src, options = {}) {
  const frag = document.createDocumentFragment();
  const lines = String(src ?? "").replace(/\r\n?/g, "\n").split("\n");
  renderBlocks(lines, frag, options);
  return frag;
}

function isTableStart(lines, i) {
  return lines[i].includes("|") && i + 1 < lines.length && RE_TABLE_SEP.test(lines[i + 1])
    && lines[i + 1].includes("-");
}

function startsBlock(lines, i) {
  const line = lines[i];
  return RE_FENCE.test(line) || RE_HEADING.test(line) || RE_RULE.test(line)
    || RE_LIST.test(line) || RE_QUOTE.test(line) || isTableStart(lines, i);
}

function renderBlocks(lines, parent, options) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === "") { i += 1; continue; }
    let m;
    if ((m = RE_FENCE.exec(line))) {
      const fence = m[1];
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(fence)) body.push(lines[i++]);
      i += 1;
      parent.append(h("pre", {}, h("code", { text: body.join("\n") })));
    } else if ((m = RE_HEADING.exec(line))) {
      // Chat headings stay modest: # -> h3, ## -> h4, deeper -> h5/h6.
      const level = Math.min(6, m[1].length + 2);
      parent.append(h(`h${level}`, { class: "md-h" }, inline(m[2], options)));
      i += 1;
    } else if (RE_RULE.test(line)) {
      parent.append(h("hr"));
      i += 1;
    } else if (isTableStart(lines, i)) {
      i = renderTable(lines, i, parent, options);
    } else if (RE_LIST.test(line)) {
      i = renderList(lines, i, parent, options);
    } else if (RE_QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && (m = RE_QUOTE.exec(lines[i]))) { body.push(m[1]); i += 1; }
      const quote = h("blockquote");
      renderBlocks(body, quote, options);
      parent.append(quote);
    } else {
      const para = [];
      while (i < lines.length && lines[i].trim() !== "" && (para.length === 0 || !startsBlock(lines, i))) {
        para.push(lines[i].trim());
        i += 1;
      }
      const p = h("p");
      para.forEach((text, k) => {
        if (k > 0) p.append(h("br"));
        p.append(...inline(text.replace(/\\$/, ""), options));
      });
      parent.append(p);
    }
  }
}

function splitRow(line) {
  let text = line.trim();
  if (text.startsWith("|")) text = text.slice(1);
  if (text.endsWith("|") && !text.endsWith("\\|")) text = text.slice(0, -1);
  const cells = [];
  let cur = "";
  for (let k = 0; k < text.length; k += 1) {
    if (text[k] === "\\" && text[k + 1] === "|") { cur += "|"; k += 1; }
    else if (text[k] === "|") { cells.push(cur.trim()); cur = ""; }
    else cur += text[k];
  }
  cells.push(cur.trim());
  return cells;
}

function renderTable(lines, i, parent, options) {
  const head = splitRow(lines[i]);
  const aligns = splitRow(lines[i + 1]).map((c) => {
    const left = c.startsWith(":"), right = c.endsWith(":");
    return right && !left ? "right" : left && right ? "center" : null;
  });
  i += 2;
  const rows = [];
  while (i < lines.length && lines[i].includes("|") && lines[i].trim() !== "") {
    rows.push(splitRow(lines[i]));
    i += 1;
  }
  // A class, not a style attribute: the Content-Security-Policy allows no inline style.
  const cellAttrs = (k) => (aligns[k] ? { class: `md-${aligns[k]}` } : {});
  const table = h("table", { class: "md-table" },
    h("thead", {}, h("tr", {}, head.map((c, k) => h("th", { scope: "col", ...cellAttrs(k) }, inline(c, options))))),
    h("tbody", {}, rows.map((r) => h("tr", {}, head.map((_, k) => h("td", cellAttrs(k), inline(r[k] ?? "", options)))))),
  );
  parent.append(h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Table" }, table));
  return i;
}

function renderList(lines, i, parent, options) {
  const first = RE_LIST.exec(lines[i]);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const list = h(ordered ? "ol" : "ul");
  if (ordered && parseInt(first[2], 10) !== 1) list.setAttribute("start", String(parseInt(first[2], 10)));
  let item = null;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === "") {
      // A blank line ends the list unless the next line continues it.
      const next = lines[i + 1];
      if (next !== undefined && RE_LIST.test(next) && RE_LIST.exec(next)[1].length >= indent) { i += 1; continue; }
      break;
    }
    const m = RE_LIST.exec(line);
    if (m && m[1].length > indent && item) {
      i = renderList(lines, i, item, options);
      continue;
    }
    if (m && m[1].length < indent) break;
    if (m) {
      if (/\d/.test(m[2]) !== ordered) break;
      item = h("li", {}, inline(m[3], options));
      list.append(item);
      i += 1;
    } else if (item && /^\s+/.test(line) && !startsBlock(lines, i)) {
      item.append(h("br"), ...inline(line.trim(), options));
      i += 1;
    } else break;
  }
  parent.append(list);
  return i;
}

/** Resolve a Markdown link target; only same-origin relative paths are allowed. */
function safeHref(url, options) {
  const raw = url.trim();
  if (raw === "" || /^[a-z][a-z0-9+.-]*:/i.test(raw) || raw.startsWith("//") || raw.startsWith("\\")) return null;
  let resolved;
  try { resolved = new URL(raw, window.location.href); } catch { return null; }
  if (resolved.origin !== window.location.origin) return null;
  const href = resolved.pathname + resolved.search + resolved.hash;
  return options.linkFilter ? options.linkFilter(href) : href;
}

function findClosing(text, delim, from) {
  let k = text.indexOf(delim, from);
  while (k !== -1) {
    const before = text[k - 1];
    if (before !== "\\" && before !== " " && k > from) return k;
    k = text.indexOf(delim, k + 1);
  }
  return -1;
}

// Character references, as CommonMark decodes them in text (never inside code spans).
const ENTITIES = {
  amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'", nbsp: "\u00a0", middot: "·", hellip: "…",
  mdash: "—", ndash: "–", ge: "≥", le: "≤", times: "×", copy: "©", deg: "°", rsquo: "’", lsquo: "‘",
  rdquo: "”", ldquo: "“", bull: "•", laquo: "«", raquo: "»", shy: "\u00ad",
};
const RE_ENTITY = /^&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([A-Za-z][A-Za-z0-9]{1,31}));/;

function decodeEntity(m) {
  if (m[3]) return ENTITIES[m[3]] ?? null;
  const code = m[1] ? parseInt(m[1], 10) : parseInt(m[2], 16);
  if (!code || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return "\ufffd";
  return String.fromCodePoint(code);
}

const isWordChar = (c) => c !== undefined && /[\p{L}\p{N}]/u.test(c);

/** Inline Markdown -> array of Nodes. */
export function inline(text, options = {}) {
  const out = [];
  let buf = "";
  const flush = () => { if (buf) { out.push(document.createTextNode(buf)); buf = ""; } };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "\\" && i + 1 < text.length && /[\\`*_{}[\]()#+\-.!|<>~]/.test(text[i + 1])) {
      buf += text[i + 1];
      i += 2;
      continue;
    }
    if (c === "&") {
      const m = RE_ENTITY.exec(text.slice(i, i + 40));
      const decoded = m && decodeEntity(m);
      if (decoded != null) {
        buf += decoded;
        i += m[0].length;
        continue;
      }
    }
    if (c === "`") {
      let run = 1;
      while (text[i + run] === "`") run += 1;
      const fence = "`".repeat(run);
      const end = text.indexOf(fence, i + run);
      if (end !== -1) {
        flush();
        out.push(h("code", { text: text.slice(i + run, end).trim() }));
        i = end + run;
        continue;
      }
      buf += fence;
      i += run;
      continue;
    }
    if ((c === "*" || c === "_") && text[i + 1] === c && text[i + 2] !== " ") {
      const delim = c + c;
      const end = findClosing(text, delim, i + 2);
      const okBoundary = c === "*" || (!isWordChar(text[i - 1]) && !isWordChar(text[end + 2]));
      if (end !== -1 && okBoundary) {
        flush();
        out.push(h("strong", {}, inline(text.slice(i + 2, end), options)));
        i = end + 2;
        continue;
      }
    }
    if ((c === "*" || c === "_") && text[i + 1] !== c && text[i + 1] !== " " && text[i + 1] !== undefined) {
      const end = findClosing(text, c, i + 1);
      const okBoundary = c === "*" || (!isWordChar(text[i - 1]) && !isWordChar(text[end + 1]));
      if (end !== -1 && okBoundary && text[end + 1] !== c) {
        flush();
        out.push(h("em", {}, inline(text.slice(i + 1, end), options)));
        i = end + 1;
        continue;
      }
    }
    if (c === "[") {
      const m = /^\[([^\]]*)\]\(([^()\s]*(?:\([^()\s]*\)[^()\s]*)*)(?:\s+"[^"]*")?\)/.exec(text.slice(i));
      if (m) {
        flush();
        const href = safeHref(m[2], options);
        const label = inline(m[1] || m[2], options);
        if (href) {
          const isDownload = /\.(csv|xlsx|md)(\?|$)/.test(href.split("#")[0]);
          out.push(h("a", { href, download: isDownload ? "" : null }, label));
        } else {
          out.push(h("span", { class: "md-link-text" }, label));
        }
        i += m[0].length;
        continue;
      }
    }
    buf += c;
    i += 1;
  }
  flush();
  return out;
}
