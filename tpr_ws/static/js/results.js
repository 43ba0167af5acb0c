// The results card: state figure, distribution chart, sortable ward table, quality notes, downloads.

import { h, s, clear, num, fmtInt, fmtPct } from "./dom.js";
import { wardRows, wardTable } from "./wards.js";
import { qualityNotes } from "./quality.js";

/** The full ward table from a result object ({columns, rows}), as wardRows reads rows. */
function objectRows(object) {
  const columns = Array.isArray(object.columns) ? object.columns : [];
  const rows = Array.isArray(object.rows) ? object.rows : [];
  return wardRows({ wards: rows.map((values) => Object.fromEntries(columns.map((c, k) => [c, values[k]]))) }).rows;
}

function histogram(bins) {
  const width = 320, height = 150, padL = 28, padB = 30, padT = 10;
  const max = Math.max(1, ...bins.map((b) => num(b.count) || 0));
  const bw = (width - padL - 4) / bins.length;
  const plotH = height - padB - padT;
  const label = bins.map((b) => `${fmtRange(b)}: ${fmtInt(b.count)}`).join("; ");
  const svg = s("svg", {
    viewBox: `0 0 ${width} ${height}`, class: "histogram", role: "img",
    "aria-label": `Number of wards by TPR band. ${label}`,
  });
  svg.append(s("line", { x1: padL, y1: padT + plotH, x2: width - 2, y2: padT + plotH, class: "axis" }));
  svg.append(s("text", { x: padL - 4, y: padT + 8, class: "tick", "text-anchor": "end", text: fmtInt(max) }));
  svg.append(s("text", { x: padL - 4, y: padT + plotH, class: "tick", "text-anchor": "end", text: "0" }));
  const every = Math.ceil(bins.length / 6);
  bins.forEach((b, k) => {
    const c = num(b.count) || 0;
    const bh = (c / max) * plotH;
    const x = padL + k * bw + 1;
    const bar = s("rect", { x, y: padT + plotH - bh, width: Math.max(1, bw - 2), height: bh, class: "bar", rx: 2 });
    bar.append(s("title", { text: `${fmtRange(b)}: ${fmtInt(c)} wards` }));
    svg.append(bar);
    if (c > 0) svg.append(s("text", { x: x + (bw - 2) / 2, y: padT + plotH - bh - 2, class: "count", "text-anchor": "middle", text: fmtInt(c) }));
    const open = num(b.to) == null;
    if (k % every === 0 || open) {
      svg.append(s("text", { x: open ? x + (bw - 2) / 2 : padL + k * bw, y: height - padB + 14, class: "tick", "text-anchor": "middle", text: open ? `${fmtNum(b.from)}+` : fmtNum(b.from) }));
    }
  });
  const last = bins[bins.length - 1];
  if (num(last.to) != null) {
    svg.append(s("text", { x: width - 4, y: height - padB + 14, class: "tick", "text-anchor": "end", text: fmtNum(last.to) }));
  }
  svg.append(s("text", { x: (width + padL) / 2, y: height - 2, class: "axis-label", "text-anchor": "middle", text: "Ward TPR (%)" }));
  return svg;
}

const fmtNum = (v) => { const n = num(v); return n == null ? "" : String(Math.round(n * 10) / 10); };
const fmtRange = (b) => (num(b.to) == null ? `${fmtNum(b.from)}% and over` : `${fmtNum(b.from)}–${fmtNum(b.to)}%`);

/** Why wards have no data: no facility at the level, or no usable tests (when the summary says). */
function withoutWhy(r) {
  if (num(r.wards_no_facility) == null) return "";
  const where = r.level === "All" ? "no facility" : `no ${String(r.level).toLowerCase()} facility`;
  return `: ${fmtInt(r.wards_no_facility)} with ${where}, ${fmtInt(r.wards_no_usable_tests)} with no usable tests`;
}

function stat(label, value, extra) {
  return h("div", { class: "stat" }, h("div", { class: "stat-value", text: value }), h("div", { class: "stat-label", text: label }), extra);
}

/** Build the results card for a bot event carrying data.results. */
export function renderResults(data, ctx) {
  const r = data.results || {};
  const st = r.stats || {};
  const idBase = `res-${ctx.seq}`;
  const { rows, complete } = wardRows(data);
  const card = h("section", { class: "results", "aria-labelledby": `${idBase}-h` });

  const title = [r.state, r.level === "All" ? "all levels" : r.level, r.age_label || r.age].filter(Boolean).join(" · ");
  card.append(h("h3", { id: `${idBase}-h`, class: "sr-only", text: title ? `Results: ${title}` : "Results" }));
  if (num(r.state_tpr) != null) {
    card.append(h("div", { class: "headline" },
      h("div", { class: "big-figure" },
        h("span", { class: "big-value", dataset: { testid: "state-tpr" }, text: fmtPct(r.state_tpr) }),
        h("span", { class: "big-label", text: "state TPR (pooled)" })),
      h("div", { class: "headline-sub" },
        h("div", {}, h("strong", { text: fmtInt(r.positive) }), " positive of ", h("strong", { text: fmtInt(r.tested) }), " tested"),
        h("div", {}, h("strong", { text: fmtInt(r.wards_with_data) }), " of ", h("strong", { text: fmtInt(r.wards_total) }), " wards have data",
          num(r.wards_no_data) ? ` (${fmtInt(r.wards_no_data)} without${withoutWhy(r)})` : null))));

    card.append(h("div", { class: "stats" },
      stat("Median ward TPR", fmtPct(st.median)),
      stat("Mean ward TPR", fmtPct(st.mean)),
      stat("Range", `${fmtPct(st.min)} – ${fmtPct(st.max)}`),
      stat("Wards above 50%", fmtInt(r.above_50)),
      stat("Wards above 70%", fmtInt(r.above_70))));

    if (Array.isArray(r.histogram) && r.histogram.length) {
      const unplotted = num(r.wards_no_data) ? `; ${fmtInt(r.wards_no_data)} wards without data are not in a band` : "";
      card.append(h("figure", { class: "chart" }, histogram(r.histogram),
        h("figcaption", { class: "muted", text: `How many wards fall in each TPR band${unplotted}` })));
    }

    // Quality notes name their wards from the table's rows: drawn again with the full table.
    const quality = h("div", { class: "quality-block" });
    const drawNotes = (all, whole) => {
      clear(quality);
      const notes = qualityNotes(r.quality, all, whole);
      if (notes) quality.append(h("h4", { text: "Data quality" }), notes);
    };
    if (rows.length) {
      const heading = h("h4", { text: complete ? "Wards" : "Wards with the highest TPR" });
      const block = wardTable(rows, complete, idBase, r);
      card.append(heading, block);
      const url = data.analysis && data.analysis.url;
      if (!complete && url && ctx.results) {
        loadWards(url, ctx.results, block, (all) => {
          heading.textContent = "Wards";
          block.replaceWith(wardTable(all, true, idBase, r));
          drawNotes(all, true);
        });
      }
    }
    drawNotes(rows, complete);
    card.append(quality);
    if (r.rule) card.append(h("p", { class: "rule muted" }, h("strong", { text: "Rule: " }), String(r.rule)));

  }
  const analysis = data.analysis && typeof data.analysis === "object" ? data.analysis : null;
  if (analysis && analysis.label) {
    card.prepend(h("p", { class: "analysis-label muted", dataset: { key: analysis.key || "" }, text: analysis.label }));
  }
  if (analysis && analysis.key && ctx.results) card.append(downloadGroup(analysis, ctx.results));
  return card;
}

/** Fetch the card's result object; `show(rows)` draws the full table (the card first shows
 * the summary's top wards, which the event carries). */
async function loadWards(url, results, block, show) {
  block.classList.add("loading");
  try {
    const rows = objectRows(await results.table(url));
    if (rows.length) show(rows);
  } catch (err) {
    const note = block.querySelector(".ward-count");
    if (note) note.textContent += " · the full table could not be loaded; the downloads have it";
  } finally {
    block.classList.remove("loading");
  }
}

const DOWNLOADS = [
  { fmt: "csv", text: "⬇ Ward table (CSV)", cls: "btn" },
  { fmt: "xlsx", text: "⬇ Ward table (Excel)", cls: "btn" },
  { fmt: "html", text: "⬇ Report (HTML)", cls: "btn" },
  { fmt: "md", text: "Report as Markdown text", cls: "link-download" },
];
const LINK_MARGIN_S = 30;

/**
 * This card's downloads. Links are signed by the server per analysis and expire within
 * minutes, so they are fetched when needed (on hover or focus, or at the click) and
 * fetched again once stale; the session token never appears in a URL.
 */
function downloadGroup(analysis, results) {
  let links = null;
  let pending = null;
  // Until signed, a link names its file by its address (which needs the signature to open).
  const anchors = DOWNLOADS.map((d) => h("a", {
    class: d.cls, href: analysis.url ? `${analysis.url}/${d.fmt}` : "#", download: "", dataset: { download: d.fmt },
  }, d.text));
  const fresh = () => links && links.expires_at - Date.now() / 1000 > LINK_MARGIN_S;
  const refresh = () => {
    if (fresh()) return Promise.resolve();
    if (!pending) {
      pending = results.links(analysis.key).then((got) => {
        links = got;
        anchors.forEach((a) => { if (got.links[a.dataset.download]) a.href = got.links[a.dataset.download]; });
      }).finally(() => { pending = null; });
    }
    return pending;
  };
  const group = h("div", {
    class: "downloads", role: "group", "aria-label": `Downloads: ${analysis.label || "this analysis"}`,
    dataset: { key: analysis.key },
  }, anchors);
  group.addEventListener("pointerenter", () => { refresh().catch(() => {}); });
  group.addEventListener("focusin", () => { refresh().catch(() => {}); });
  for (const a of anchors) {
    a.addEventListener("click", (ev) => {
      if (fresh()) return; // the signed link is current: let the browser download it
      ev.preventDefault();
      refresh().then(() => a.click()).catch(() => {
        a.setAttribute("aria-invalid", "true");
        a.title = "The download link could not be made; check the connection and try again.";
      });
    });
  }
  return group;
}
