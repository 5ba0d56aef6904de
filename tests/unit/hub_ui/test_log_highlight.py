"""The log viewer's HTML (issue 22.5): everything escaped, search terms highlighted as the
full-text index matches them (whole words, phrases across punctuation, prefixes)."""

from __future__ import annotations

from fleetwatch.hub.services.logsearch import parse
from fleetwatch.hub.ui.logs_render import block_html, highlighter, marked


def _hl(q: str, text: str) -> str:
    return marked(text, highlighter(parse(q)))


def test_words_phrases_and_prefixes_are_marked_case_insensitively() -> None:
    assert _hl("disk", "Disk full; diskette ok") == (
        '<mark class="fw-log-hl">Disk</mark> full; diskette ok'
    )
    assert _hl('"disk /var full"', "disk /var full now") == (
        '<mark class="fw-log-hl">disk /var full</mark> now'
    )
    assert _hl("pay*", "Payment repay pay") == (
        '<mark class="fw-log-hl">Pay</mark>ment repay <mark class="fw-log-hl">pay</mark>'
    )


def test_markup_is_escaped_inside_and_outside_marks() -> None:
    out = _hl("script", "<script>alert(1)</script> & more")
    assert "<script>" not in out
    assert '&lt;<mark class="fw-log-hl">script</mark>&gt;alert(1)' in out
    assert marked("<b>x</b>", None) == "&lt;b&gt;x&lt;/b&gt;"


def test_a_line_block_escapes_every_field() -> None:
    row = {
        "id": 7,
        "ts": 0.0,
        "hostname": "<h>",
        "app": "<a>",
        "source": '"s"',
        "level": "error",
        "message": "<img src=x onerror=alert(1)>",
    }
    out = block_html([row], None, fleet=True)
    assert "<img" not in out and "<h>" not in out and "<a>" not in out
    assert 'class="fw-log-line fw-log-error"' in out and 'data-id="7"' in out
