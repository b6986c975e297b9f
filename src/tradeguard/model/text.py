"""Text from outside (a venue's asset names and error messages) made safe to echo: one line,
cut to a bound, so a hostile or broken answer cannot flood a log line or an alert.

```python
one_line("bad\\n  answer" * 1000, 40)   # "bad answer bad answer bad answer bad ans…"
```
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

SNIPPET = 120  # an error message's characters echoed
NAME_CHARS = 128  # an asset's or a symbol's characters echoed (an outcome contract's are long)


def one_line(text: str, limit: int = SNIPPET) -> str:
    """`text` on one line, whitespace runs folded, cut to `limit` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# Free text a person sends (a kill's or pause's reason, an order's tag, a signal's strings): no
# character that breaks a line, drives a terminal or reorders what is shown. The pattern is the
# API schema's (JSON Schema, Python and pydantic's Rust engine read it alike).
_NOT_ONE_LINE = r"\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"
ONE_LINE_PATTERN = f"^[^{_NOT_ONE_LINE}]*$"
ONE_LINE_RULE = (
    "one line of text: no control character (newline, CR, tab, escape, NUL), "
    "line separator or bidi control"
)
_BREAKS_LINE = re.compile(f"[{_NOT_ONE_LINE}]")
# A reason says why: one line holding a character other than a space (the command line trims
# its --reason and refuses what is left empty; `\s` is Unicode's spaces to Python, pydantic's
# engine and JSON Schema alike).
REASON_PATTERN = f"^[^{_NOT_ONE_LINE}]*[^{_NOT_ONE_LINE}\\s][^{_NOT_ONE_LINE}]*$"
REASON_RULE = f"{ONE_LINE_RULE}, holding a character other than a space"


def one_line_error(text: str) -> str | None:
    """What is wrong with `text` as free text, its first bad character escaped; None when
    it is one line of text (`ONE_LINE_RULE`)."""
    found = _BREAKS_LINE.search(text)
    if found is None:
        return None
    return f"character {found.start()} is {found.group()!a}; must be {ONE_LINE_RULE}"


def escaped(text: str) -> str:
    """`text` with each character `one_line_error` names written as its escape (`\\n`,
    `\\x1b`, `\\u202e`): a request that must act whatever it holds (a kill) keeps its words."""
    return _BREAKS_LINE.sub(lambda m: ascii(m.group())[1:-1], text)


def whole(text: str) -> str:
    """`text` with every lone UTF-16 surrogate (half of a pair, which JSON's `\\ud800` decodes
    to and no UTF-8 text holds) replaced by U+FFFD; a whole pair becomes its one character."""
    if text.isascii():
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def name_shown(name: str) -> str:
    """An asset or symbol name a venue sent, on one line and at most `NAME_CHARS` long."""
    return one_line(name, NAME_CHARS)


__all__ = [
    "NAME_CHARS",
    "ONE_LINE_PATTERN",
    "ONE_LINE_RULE",
    "REASON_PATTERN",
    "REASON_RULE",
    "SNIPPET",
    "escaped",
    "name_shown",
    "one_line",
    "one_line_error",
    "well_formed_url",
    "whole",
]


def well_formed_url(url: str) -> bool:
    """Tell whether `url` can be sent to: a host, a valid port, printable and without spaces
    ('http://[::1' or 'http://host:x' passed the prefix check and stopped the node at start)."""
    if not url.isprintable() or " " in url:  # controls, format characters (U+202E), spaces
        return False
    try:
        parts = urlsplit(url)
        port = parts.port  # reading it checks it
    except ValueError:
        return False
    return bool(parts.hostname) and port != 0
