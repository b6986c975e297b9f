"""Parse TOML a person wrote, where nesting too deep for the parser is bad TOML like any other.

`tomllib` recurses once per `[` or `{`: a file of thousands of them (a fuzzer's, a broken
generator's) raised RecursionError through every command that reads a config, a market map or
a grid, a traceback instead of the one line naming the file.

```python
data = loads_toml(path.read_text(encoding="utf-8"))   # TOMLDecodeError when too deep
```
"""

from __future__ import annotations

import tomllib
from typing import Any

TOO_DEEP = "arrays or inline tables nested more than a few hundred levels deep"
BOM = (
    "it starts with a byte-order mark (U+FEFF, an editor's 'UTF-8 with BOM'); "
    "save it as UTF-8 without BOM"
)


def loads_toml(text: str) -> dict[str, Any]:
    """Parse `text` as TOML; nesting beyond the parser's reach raises TOMLDecodeError, and so
    does a byte-order mark, named as one (the parser's "Invalid statement (at line 1, column
    1)" points at nothing the file shows)."""
    if text.startswith("\ufeff"):
        raise tomllib.TOMLDecodeError(BOM)
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise tomllib.TOMLDecodeError(TOO_DEEP) from None


__all__ = ["BOM", "TOO_DEEP", "loads_toml"]
