"""Text from outside (a venue's asset names and error messages) made safe to echo: one line,
cut to a bound, so a hostile or broken answer cannot flood a log line or an alert.

```python
one_line("bad\\n  answer" * 1000, 40)   # "bad answer bad answer bad answer bad ans…"
```
"""

from __future__ import annotations

from urllib.parse import urlsplit

SNIPPET = 120  # an error message's characters echoed
NAME_CHARS = 128  # an asset's or a symbol's characters echoed (an outcome contract's are long)


def one_line(text: str, limit: int = SNIPPET) -> str:
    """`text` on one line, whitespace runs folded, cut to `limit` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def whole(text: str) -> str:
    """`text` with every lone UTF-16 surrogate (half of a pair, which JSON's `\\ud800` decodes
    to and no UTF-8 text holds) replaced by U+FFFD; a whole pair becomes its one character."""
    if text.isascii():
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def name_shown(name: str) -> str:
    """An asset or symbol name a venue sent, on one line and at most `NAME_CHARS` long."""
    return one_line(name, NAME_CHARS)


__all__ = ["NAME_CHARS", "SNIPPET", "name_shown", "one_line", "well_formed_url", "whole"]


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
