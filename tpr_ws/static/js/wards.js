// The ward table of a results card: sortable, filterable, every ward of the state shown, and a
// ward without a TPR says why (no facility at the chosen level, or no usable tests).

import { h, clear, num, fmtInt, fmtPct } from "./dom.js";

const COLUMNS = [
  { key: "LGA", label: "LGA", type: "text" },
  { key: "Ward", label: "Ward", type: "text" },
  { key: "TPR", label: "TPR", type: "pct" },
  { key: "Tested", label: "Tested", type: "int" },
  { key: "Positive", label: "Positive", type: "int" },
  { key: "Facilities", label: "Facilities", type: "int" },
];

/** Ward rows from data.wards (full table) or the summary's top_wards. */
export function wardRows(data) {
  const summary = data.results || {};
  if (Array.isArray(data.wards) && data.wards.length) {
    return { rows: data.wards.map((r) => pick(r)), complete: true };
  }
  const top = Array.isArray(summary.top_wards) ? summary.top_wards : [];
  return { rows: top.map((r) => pick(r)), complete: false };
}

function pick(row) {
  const get = (...keys) => { for (const k of keys) if (row[k] !== undefined) return row[k]; return null; };
  const r = {
    LGA: get("LGA", "lga") ?? "",
    Ward: get("Ward", "ward") ?? "",
    TPR: num(get("TPR", "tpr")),
    Tested: num(get("Tested", "tested")),
    Positive: num(get("Positive", "positive")),
    Facilities: num(get("Facilities", "facilities")),
    Excluded: num(get("Excluded_Rows", "excluded_rows")),
  };
  r.why = whyNoTpr(r);
  return r;
}

/** Why a ward has no TPR: "no_facility" at the chosen level, "no_tests" usable; else null. */
export function whyNoTpr(r) {
  if (r.TPR != null) return null;
  return r.Facilities === 0 ? "no_facility" : "no_tests";
}

const WHY_TEXT = { no_facility: "no facility at this level", no_tests: "no usable tests" };

function compare(a, b, col, dir) {
  const x = a[col.key], y = b[col.key];
  if (col.type === "text") return dir * String(x).localeCompare(String(y), "en", { sensitivity: "base" });
  // Wards without data always sort last, whichever the direction.
  if (x == null && y == null) return 0;
  if (x == null) return 1;
  if (y == null) return -1;
  return dir * (x - y);
}

function levelWords(summary) {
  const level = summary && summary.level;
  return !level || level === "All" ? "any" : `a ${String(level).toLowerCase()}`;
}

/** One line under the table saying which wards have no TPR and why (nothing when all have). */
function explanation(rows, summary) {
  const noFacility = rows.filter((r) => r.why === "no_facility").length;
  const noTests = rows.filter((r) => r.why === "no_tests").length;
  if (!noFacility && !noTests) return null;
  const parts = [];
  if (noFacility) parts.push(`${fmtInt(noFacility)} ${noFacility === 1 ? "ward has" : "wards have"} no ${levelWords(summary).replace(/^a /, "")} facility in this file (Facilities 0)`);
  if (noTests) parts.push(`${fmtInt(noTests)} ${noTests === 1 ? "ward's facilities" : "wards' facilities"} reported no usable tests for this age group`);
  return h("p", { class: "ward-why muted", dataset: { noFacility: String(noFacility), noTests: String(noTests) } },
    `No TPR: ${parts.join("; ")}. They stay in the table and in the downloads, with TPR empty, never 0.`);
}

export function wardTable(rows, complete, idBase, summary = {}) {
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
      const tpr = r.why ? h("td", { class: "n why", text: WHY_TEXT[r.why] }) : h("td", { class: "n", text: fmtPct(r.TPR) });
      tbody.append(h("tr", { class: r.why ? `no-data ${r.why}` : null },
        h("td", { text: r.LGA }),
        h("th", { scope: "row", text: r.Ward }),
        tpr,
        h("td", { class: "n", text: fmtInt(r.Tested) }),
        h("td", { class: "n", text: fmtInt(r.Positive) }),
        h("td", { class: "n", text: fmtInt(r.Facilities) })));
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
  const wrap = h("div", { class: "table-wrap ward-wrap", tabindex: "0", role: "region", "aria-label": "Ward table" }, table);
  const hint = h("p", { class: "scroll-hint", "aria-hidden": "true", hidden: true }, "Swipe the table sideways for more columns ⟷");
  watchOverflow(wrap, hint);
  return h("div", { class: "ward-block" },
    h("div", { class: "ward-tools" }, filterInput, count),
    hint, wrap, explanation(rows, summary));
}

/** Show `hint` (and mark `wrap`) while the table is wider than its box: a phone says it scrolls. */
function watchOverflow(wrap, hint) {
  const update = () => {
    const wide = wrap.scrollWidth > wrap.clientWidth + 1;
    const atEnd = wrap.scrollLeft + wrap.clientWidth >= wrap.scrollWidth - 1;
    hint.hidden = !wide;
    wrap.classList.toggle("scrolls-x", wide);
    wrap.classList.toggle("more-right", wide && !atEnd);
    wrap.classList.toggle("more-left", wide && wrap.scrollLeft > 1);
  };
  wrap.addEventListener("scroll", update, { passive: true });
  if (typeof ResizeObserver === "function") new ResizeObserver(update).observe(wrap);
  requestAnimationFrame(update);
}
