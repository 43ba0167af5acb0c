// The results card: state figure, distribution chart, sortable ward table, quality notes, downloads.

import { h, s, clear, num, fmtInt, fmtPct } from "./dom.js";

const COLUMNS = [
  { key: "LGA", label: "LGA", type: "text" },
  { key: "Ward", label: "Ward", type: "text" },
  { key: "TPR", label: "TPR", type: "pct" },
  { key: "Tested", label: "Tested", type: "int" },
  { key: "Positive", label: "Positive", type: "int" },
];

/** Ward rows from data.wards (full table) or the summary's top_wards. */
function wardRows(data) {
  const summary = data.results || {};
  if (Array.isArray(data.wards) && data.wards.length) {
    return { rows: data.wards.map((r) => pick(r)), complete: true };
  }
  const top = Array.isArray(summary.top_wards) ? summary.top_wards : [];
  return { rows: top.map((r) => pick(r)), complete: false };
}

function pick(row) {
  const get = (...keys) => { for (const k of keys) if (row[k] !== undefined) return row[k]; return null; };
  return {
    LGA: get("LGA", "lga") ?? "",
    Ward: get("Ward", "ward") ?? "",
    TPR: num(get("TPR", "tpr")),
    Tested: num(get("Tested", "tested")),
    Positive: num(get("Positive", "positive")),
  };
}

function compare(a, b, col, dir) {
  const x = a[col.key], y = b[col.key];
  if (col.type === "text") return dir * String(x).localeCompare(String(y), "en", { sensitivity: "base" });
  // Wards without data always sort last, whichever the direction.
  if (x == null && y == null) return 0;
  if (x == null) return 1;
  if (y == null) return -1;
  return dir * (x - y);
}

function wardTable(rows, complete, idBase) {
  let sortKey = "TPR";
  let sortDir = -1;
  const tbody = h("tbody");
  const headCells = {};
  const filterInput = h("input", {
    type: "search", class: "ward-filter", placeholder: "Filter by ward or LGA",
    "aria-label": "Filter wards by name or LGA", id: `${idBase}-filter`,
  });
  const count = h("span", { class: "muted ward-count", "aria-live": "polite" });

  function draw() {
    const col = COLUMNS.find((c) => c.key === sortKey);
    const q = filterInput.value.trim().toLowerCase();
    const shown = rows
      .filter((r) => !q || String(r.Ward).toLowerCase().includes(q) || String(r.LGA).toLowerCase().includes(q))
      .sort((a, b) => compare(a, b, col, sortDir) || compare(a, b, COLUMNS[1], 1));
    clear(tbody);
    for (const r of shown) {
      tbody.append(h("tr", { class: r.TPR == null ? "no-data" : null },
        h("td", { text: r.LGA }),
        h("th", { scope: "row", text: r.Ward }),
        h("td", { class: "n", text: fmtPct(r.TPR) }),
        h("td", { class: "n", text: fmtInt(r.Tested) }),
        h("td", { class: "n", text: fmtInt(r.Positive) })));
    }
    count.textContent = `${shown.length} of ${rows.length} wards${complete ? "" : " (highest TPR only)"}`;
    for (const c of COLUMNS) {
      const th = headCells[c.key];
      th.setAttribute("aria-sort", c.key === sortKey ? (sortDir > 0 ? "ascending" : "descending") : "none");
      th.querySelector(".sort-mark").textContent = c.key === sortKey ? (sortDir > 0 ? "▲" : "▼") : "";
    }
  }

  const headRow = h("tr", {}, COLUMNS.map((c) => {
    const button = h("button", {
      type: "button", class: "sort", dataset: { sort: c.key },
      onclick: () => {
        if (sortKey === c.key) sortDir = -sortDir;
        else { sortKey = c.key; sortDir = c.type === "text" ? 1 : -1; }
        draw();
      },
    }, c.label, h("span", { class: "sort-mark", "aria-hidden": "true" }));
    const th = h("th", { scope: "col", class: c.type === "text" ? null : "n" }, button);
    headCells[c.key] = th;
    return th;
  }));
  filterInput.addEventListener("input", draw);
  const table = h("table", { class: "ward-table" },
    h("caption", { class: "sr-only", text: "Wards by TPR; select a column heading to sort" }),
    h("thead", {}, headRow), tbody);
  draw();
  return h("div", { class: "ward-block" },
    h("div", { class: "ward-tools" }, filterInput, count),
    h("div", { class: "table-wrap ward-wrap", tabindex: "0", role: "region", "aria-label": "Ward table" }, table));
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

function humanize(key) {
  const text = key.replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

const KNOWN_QUALITY = {
  excluded_rows: (q) => (num(q.excluded_rows) ? [`${fmtInt(q.excluded_rows)} facility-month rows excluded (positives greater than tested, or negative counts)`,
    num(q.wards_with_excluded_rows) != null ? ` in ${fmtInt(q.wards_with_excluded_rows)} wards` : ""].join("") : "No rows had to be excluded for positives greater than tested or negative counts"),
  wards_with_excluded_rows: () => null,
  reporting_rows: (q) => `${fmtInt(q.reporting_rows)} facility-month rows reported tests for this selection`
    + (num(q.rows_without_data) != null ? `; ${fmtInt(q.rows_without_data)} did not` : ""),
  rows_without_data: () => null,
};

/** Data-quality notes: known keys become sentences; anything else gets a readable label. */
function qualityList(quality) {
  if (!quality || typeof quality !== "object") return null;
  const items = [];
  if (!Array.isArray(quality)) {
    for (const [key, sentence] of Object.entries(KNOWN_QUALITY)) {
      if (!(key in quality)) continue;
      const text = sentence(quality);
      if (text) items.push(h("li", { text }));
    }
    quality = Object.fromEntries(Object.entries(quality).filter(([k]) => !(k in KNOWN_QUALITY)));
  }
  const add = (label, value) => {
    if (value == null || value === "" || (Array.isArray(value) && !value.length)) return;
    if (Array.isArray(value)) {
      items.push(h("li", {}, label ? `${label}: ` : null, value.map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v))).join("; ")));
    } else if (typeof value === "object") {
      for (const [k, v] of Object.entries(value)) add(label ? `${label} – ${humanize(k)}` : humanize(k), v);
    } else if (typeof value === "number") {
      items.push(h("li", {}, `${label}: `, h("strong", { text: fmtInt(value) })));
    } else {
      items.push(h("li", {}, label ? `${label}: ` : null, String(value)));
    }
  };
  if (Array.isArray(quality)) quality.forEach((q) => add(null, q));
  else for (const [k, v] of Object.entries(quality)) add(k === "notes" ? null : humanize(k), v);
  return items.length ? h("ul", { class: "quality" }, items) : null;
}

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

    if (rows.length) {
      card.append(h("h4", { text: complete ? "Wards" : "Wards with the highest TPR" }));
      card.append(wardTable(rows, complete, idBase));
    }

    const notes = qualityList(r.quality);
    if (notes) card.append(h("h4", { text: "Data quality" }), notes);
    if (r.rule) card.append(h("p", { class: "rule muted" }, h("strong", { text: "Rule: " }), String(r.rule)));

  }
  if (ctx.downloads) {
    const links = ctx.downloads();
    card.append(h("div", { class: "downloads", role: "group", "aria-label": "Downloads" },
      h("a", { class: "btn", href: links.csv, download: "", dataset: { download: "csv" } }, "⬇ Ward table (CSV)"),
      h("a", { class: "btn", href: links.xlsx, download: "", dataset: { download: "xlsx" } }, "⬇ Ward table (Excel)"),
      h("a", { class: "btn", href: links.report, download: "", dataset: { download: "report" } }, "⬇ Summary report")));
  }
  return card;
}
