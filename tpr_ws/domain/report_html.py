"""The summary report as one self-contained HTML page: inline CSS, an inline SVG chart of the
ward TPR distribution, print rules for a clean A4 PDF, and nothing fetched from anywhere (its
own Content-Security-Policy forbids it). Every file-derived text is HTML-escaped.
"""

from __future__ import annotations

from html import escape
from typing import Final

from tpr_ws.domain.report import ReportFacts

_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_CSS: Final = """
@page { size: A4; margin: 16mm 14mm 18mm; }
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 190mm; padding: 24px 20px; color: #1b1f24;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
h1 { font-size: 22px; margin: 0 0 2px; }
h2 { font-size: 15px; margin: 22px 0 8px; padding-bottom: 3px; border-bottom: 1px solid #d0d7de; }
.sub { color: #57606a; margin: 0 0 14px; }
.headline { display: flex; gap: 16px; align-items: baseline; padding: 12px 14px;
  border: 1px solid #d0d7de; border-radius: 6px; background: #f6f8fa; }
.big { font-size: 30px; font-weight: 700; color: #8a1c1c; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e4e8ec;
  vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
table.facts th { width: 50%; background: none; font-weight: 500; color: #424a53; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 0 24px; }
figure { margin: 0; }
figcaption { color: #57606a; font-size: 12px; }
svg { width: 100%; max-width: 520px; height: auto; }
svg .bar { fill: #b4463c; } svg .axis { stroke: #57606a; stroke-width: 1; }
svg text { font: 10px system-ui, Arial, sans-serif; fill: #24292f; }
.audit td { font-family: ui-monospace, "SFMono-Regular", Consolas, monospace; font-size: 12px;
  word-break: break-all; }
footer { margin-top: 22px; color: #57606a; font-size: 11px; }
@media print {
  body { padding: 0; max-width: none; font-size: 11pt; }
  .headline { background: none; }
  h2 { break-after: avoid; }
  table, figure, .headline { break-inside: avoid; }
  tr { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""


def _facts_table(rows: list[tuple[str, str]], css: str = "facts") -> str:
    body = "".join(f"<tr><th scope=row>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="{css}"><tbody>{body}</tbody></table>'


def histogram_svg(bins: list[tuple[str, int]]) -> str:
    """Bars of wards per TPR band, with counts and band labels; described for screen readers."""
    width, height, left, bottom, top = 520, 210, 34, 46, 14
    plot_h, most = height - bottom - top, max([1, *(n for _, n in bins)])
    step = (width - left - 6) / max(1, len(bins))
    summary = "; ".join(f"{band}: {n} wards" for band, n in bins)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Number of wards in each TPR band. {escape(summary)}">',
        "<title>Wards by TPR band</title>",
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width - 4}" '
        f'y2="{top + plot_h}"/>',
        f'<text x="{left - 5}" y="{top + 8}" text-anchor="end">{most}</text>',
        f'<text x="{left - 5}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for k, (band, n) in enumerate(bins):
        bar_h = plot_h * n / most
        x = left + k * step + 2
        y = top + plot_h - bar_h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{step - 4:.1f}" '
            f'height="{bar_h:.1f}"><title>{escape(band)}: {n} wards</title></rect>'
        )
        if n:
            parts.append(f'<text x="{x + (step - 4) / 2:.1f}" y="{y - 3:.1f}" '
                         f'text-anchor="middle">{n}</text>')  # fmt: skip
        tick = escape(band.split("–")[0].replace("% and over", "+").rstrip("%"))
        parts.append(f'<text x="{x + (step - 4) / 2:.1f}" y="{top + plot_h + 14}" '
                     f'text-anchor="middle">{tick}</text>')  # fmt: skip
    parts.append(f'<text x="{(width + left) / 2:.0f}" y="{height - 8}" '
                 'text-anchor="middle">Ward TPR (%), bands of 10 points</text></svg>')  # fmt: skip
    return "".join(parts)


def _top_wards(facts: ReportFacts) -> str:
    if not facts.top_wards:
        return "<p>No ward has data for this choice.</p>"
    head = ("<tr><th class=n scope=col>#</th><th scope=col>LGA</th><th scope=col>Ward</th>"
            "<th class=n scope=col>TPR</th><th class=n scope=col>Tested</th>"
            "<th class=n scope=col>Positive</th></tr>")  # fmt: skip
    rows = "".join(
        f"<tr><td class=n>{w.rank}</td><td>{escape(w.lga)}</td><td>{escape(w.ward)}</td>"
        f"<td class=n>{escape(w.tpr)}</td><td class=n>{escape(w.tested)}</td>"
        f"<td class=n>{escape(w.positive)}</td></tr>"
        for w in facts.top_wards
    )
    return f"<table><thead>{head}</thead><tbody>{rows}</tbody></table>"


def report_html(facts: ReportFacts) -> str:
    """The report as a complete, self-contained HTML document."""
    title = f"Malaria test positivity rate: {facts.state} ({facts.subtitle})"
    quality = "".join(f"<li>{escape(n)}</li>" for n in facts.quality)
    body = [
        f"<h1>Malaria test positivity rate: {escape(facts.state)}</h1>",
        f'<p class="sub">{escape(facts.subtitle)}</p>',
        f'<div class="headline"><span class="big">{escape(facts.headline)}</span>'
        f"<span>state TPR: {escape(facts.headline_detail)}</span></div>",
        '<div class="grid"><section><h2>Parameters</h2>',
        _facts_table(facts.parameters),
        "</section><section><h2>Results</h2>",
        _facts_table(facts.results),
        "</section></div>",
        "<h2>Ward TPR distribution</h2><figure>",
        histogram_svg(facts.histogram),
        "<figcaption>Number of wards in each band of ward TPR; wards without data are not "
        "drawn. The state figure is pooled over all wards, not the mean of ward rates."
        "</figcaption></figure>",
        "<h2>Highest TPR wards</h2>",
        _top_wards(facts),
        f"<h2>Data quality</h2><ul>{quality}</ul>",
        f"<h2>Rule</h2><p>{escape(facts.rule)}</p>",
        "<h2>Audit</h2>",
        _facts_table(facts.audit, "facts audit"),
        "<footer>Computed by tpr_ws. This page is self-contained: print it to PDF from the "
        "browser (A4).</footer>",
    ]
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


def content_security_policy() -> str:
    """The policy the report declares (and the server sends with it)."""
    return _CSP
