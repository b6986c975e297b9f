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


def loads_toml(text: str) -> dict[str, Any]:
    """Parse `text` as TOML; nesting beyond the parser's reach raises TOMLDecodeError."""
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise tomllib.TOMLDecodeError(TOO_DEEP) from None


__all__ = ["TOO_DEEP", "loads_toml"]
