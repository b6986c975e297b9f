"""Keep the interpreter's recursion limit across imports that raise it.

`py_ecc`, which `eth_account` and `web3` import, sets the limit to 100,000 when it loads. With
it, a deeply nested JSON document (64 KiB of `[` is enough) overflows the C stack inside
`json.loads`: the process dies with a segmentation fault instead of raising RecursionError.
The Ethereum signing and RPC code tradeguard uses needs no deep recursion.

```python
with kept_recursion_limit():
    from eth_account import Account
```
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def kept_recursion_limit() -> Iterator[None]:
    """Restore the recursion limit as it was before the block (imports inside may raise it)."""
    limit = sys.getrecursionlimit()
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)
