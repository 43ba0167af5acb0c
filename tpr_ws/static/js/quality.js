// Data-quality notes of a results card: each note in words, and the wards it concerns in an
// expandable list (from the ward table's own columns, or from lists the summary carries).

import { h, num, fmtInt } from "./dom.js";
import { whyNoTpr } from "./wards.js";

function humanize(key) {
  const text = key.replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

const wardName = (r) => [r.LGA ?? r.lga, r.Ward ?? r.ward].filter((x) => x != null && x !== "").join(" · ");

/** A note with the wards it concerns behind a <details> ("3 wards: show them"). */
function withWards(text, wards, describe) {
  if (!wards.length) return h("li", { text });
  const list = h("ul", { class: "ward-list" }, wards.map((w) => h("li", { text: describe(w) })));
  return h("li", { class: "has-wards" }, text, " ",
    h("details", { class: "ward-details" },
      h("summary", { text: `Show the ${wards.length === 1 ? "ward" : `${fmtInt(wards.length)} wards`}` }), list));
}

function excludedNote(q, rows) {
  const n = num(q.excluded_rows);
  if (!n) return h("li", { text: "No rows had to be excluded for positives greater than tested or negative counts" });
  const inWards = num(q.wards_with_excluded_rows) != null ? ` in ${fmtInt(q.wards_with_excluded_rows)} wards` : "";
  const wards = rows.filter((r) => num(r.Excluded) > 0).sort((a, b) => b.Excluded - a.Excluded);
  return withWards(`${fmtInt(n)} facility-month rows excluded (positives greater than tested, or negative counts)${inWards}.`,
    wards, (r) => `${wardName(r)}: ${fmtInt(r.Excluded)} ${r.Excluded === 1 ? "row" : "rows"}`);
}

function noTprNotes(rows) {
  const notes = [];
  const noFacility = rows.filter((r) => whyNoTpr(r) === "no_facility");
  const noTests = rows.filter((r) => whyNoTpr(r) === "no_tests");
  if (noFacility.length) notes.push(withWards(`${fmtInt(noFacility.length)} wards have no facility at this level.`, noFacility, wardName));
  if (noTests.length) notes.push(withWards(`${fmtInt(noTests.length)} wards have facilities that reported no usable tests.`, noTests, wardName));
  return notes;
}

const KNOWN = new Set(["excluded_rows", "wards_with_excluded_rows", "reporting_rows", "rows_without_data"]);

function isWardList(value) {
  return Array.isArray(value) && value.length && value.every((v) => v && typeof v === "object" && ("ward" in v || "Ward" in v));
}

/** Notes for keys this page does not know: a readable label; ward lists become <details>. */
function otherNotes(quality) {
  const items = [];
  const add = (label, value) => {
    if (value == null || value === "" || (Array.isArray(value) && !value.length)) return;
    if (isWardList(value)) {
      items.push(withWards(`${label}: ${fmtInt(value.length)} wards.`, value, (w) => {
        const extra = Object.entries(w).filter(([k]) => !/^(lga|ward|state)$/i.test(k)).map(([k, v]) => `${humanize(k).toLowerCase()} ${typeof v === "number" ? fmtInt(v) : v}`);
        return [wardName(w), extra.join(", ")].filter(Boolean).join(": ");
      }));
    } else if (Array.isArray(value)) {
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
  else for (const [k, v] of Object.entries(quality)) if (!KNOWN.has(k)) add(k === "notes" ? null : humanize(k), v);
  return items;
}

/** The "Data quality" list of a results card, or null when there is nothing to say. */
export function qualityNotes(quality, rows = [], complete = false) {
  if (!quality || typeof quality !== "object") return null;
  const items = [];
  if (!Array.isArray(quality)) {
    if ("excluded_rows" in quality) items.push(excludedNote(quality, complete ? rows : []));
    if ("reporting_rows" in quality) {
      items.push(h("li", { text: `${fmtInt(quality.reporting_rows)} facility-month rows reported tests for this selection`
        + (num(quality.rows_without_data) != null ? `; ${fmtInt(quality.rows_without_data)} did not` : "") }));
    }
  }
  if (complete) items.push(...noTprNotes(rows));
  items.push(...otherNotes(quality));
  return items.length ? h("ul", { class: "quality" }, items) : null;
}
