"""The page's Markdown renderer, run in the browser: structure right, nothing executable."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.browser.pages import open_app, settle

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

RENDER = """async (sources) => {
  const { renderMarkdown } = await import('/static/js/markdown.js');
  return sources.map((src) => {
    const box = document.createElement('div');
    box.append(renderMarkdown(src));
    return box.innerHTML;
  });
}"""


def render(page: Any, *sources: str) -> list[str]:
    return list(page.evaluate(RENDER, list(sources)))


def test_markdown_structure(new_page: Any, stack: Any) -> None:
    page, _ = new_page()
    open_app(page, stack.url)
    heading, emphasis, listed, table, code = render(
        page,
        "# Title",
        "**bold** and *italic* and _under_ but snake_case_name stays",
        "- one\n- two\n  - nested\n\n1. first\n2. second",
        "| # | Ward | TPR |\n|---:|---|---:|\n| 1 | Karewa | 51.0% |\n| 2 | A \\| B | 3.0% |",
        "Use `sample` or\n```\nraw <b>code</b>\n```",
    )
    assert heading == '<h3 class="md-h">Title</h3>'
    assert "<strong>bold</strong>" in emphasis and "<em>italic</em>" in emphasis
    assert "<em>under</em>" in emphasis and "snake_case_name" in emphasis
    assert listed.count("<li>") == 5 and "<ul><li>nested</li></ul>" in listed and "<ol>" in listed
    assert '<th scope="col" class="md-right">#</th>' in table and "style=" not in table
    assert "<td>A | B</td>" in table
    assert "<code>sample</code>" in code and "raw &lt;b&gt;code&lt;/b&gt;" in code


def test_markdown_never_makes_markup_or_foreign_links(new_page: Any, stack: Any) -> None:
    page, probe = new_page()
    open_app(page, stack.url)
    hostile = [
        "<img src=x onerror=alert(1)>",
        "<script>window.__pwned = 1</script>",
        "[click](javascript:alert(1))",
        "[x](JAVASCRIPT:alert(1)) [y](data:text/html,hi) [z](//evil.example/p) [w](https://evil.example/)",
        "[ok](/api/sessions/abc/results.csv) [rel](report.md)",
        "| <img src=x onerror=alert(2)> | b |\n|---|---|\n| <svg onload=alert(3)> | c |",
        "**<b onmouseover=alert(4)>x</b>**",
        "\\<img src=x onerror=alert(5)\\>",
        "&lt;img src=x onerror=alert(6)&gt; &amp;lt; &#60;b&#x3e; `&lt;`",
    ]
    out = render(page, *hostile)
    joined = "\n".join(out)
    assert (
        "<img" not in joined
        and "<script" not in joined
        and "<svg" not in joined
        and "<b " not in joined
    )
    assert not re.search(r'href="(?!/)', joined), joined
    hrefs = page.evaluate(
        """async (src) => {
          const { renderMarkdown } = await import('/static/js/markdown.js');
          const box = document.createElement('div');
          box.append(renderMarkdown(src));
          return [...box.querySelectorAll('a')].map(a => a.getAttribute('href'));
        }""",
        "\n\n".join(hostile),
    )
    assert hrefs == ["/api/sessions/abc/results.csv", "/report.md"], hrefs
    assert "&lt;img src=x onerror=alert(1)&gt;" in out[0]
    assert "&lt;img src=x onerror=alert(5)&gt;" in out[7]
    # Character references decode to text (as in CommonMark), except inside code spans.
    text8 = page.evaluate(
        """async (src) => {
          const { renderMarkdown } = await import('/static/js/markdown.js');
          const box = document.createElement('div');
          box.append(renderMarkdown(src));
          return [box.textContent, box.querySelectorAll('*').length];
        }""",
        hostile[8],
    )
    assert text8 == ["<img src=x onerror=alert(6)> &lt; <b> &lt;", 2], text8  # a p holding a code
    settle(page)  # any injected handler has had its chance to fire
    assert probe.dialogs == [] and page.evaluate("typeof window.__pwned") == "undefined"
    json.dumps(out)  # all plain strings
