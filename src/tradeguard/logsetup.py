"""Logging: readable lines by default, one JSON object per line with --log-format json.

Secret redaction is installed on every handler, always. A readable line shows control and
format characters escaped (`\\x1b`), as JSON does: text from outside (a kill reason, a venue's
error) must not clear, retitle or reorder the operator's terminal.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime


def printable(text: str, keep: str = "") -> str:
    """Return `text` with every character a terminal would act on rather than show (control
    characters, ESC and CSI above all, and format characters such as bidi overrides) written
    as its Python escape; characters in `keep` (a newline) pass."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() or c in keep else c.encode("unicode_escape").decode("ascii")
        for c in text
    )


class TextFormatter(logging.Formatter):
    """The readable line, its message shown printable (a traceback keeps its lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, message, and exception text if any."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup_logging(fmt: str = "text", level: str = "INFO") -> None:
    """Configure the root logger once for the process (idempotent)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # httpx logs every request at INFO (the Kalshi and Polymarket venues poll several a second):
    # kept for DEBUG, where they are what is asked for.
    chatty = logging.DEBUG if root.getEffectiveLevel() <= logging.DEBUG else logging.WARNING
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(chatty)
    from tradeguard.secrets.redact import install_redaction

    install_redaction()


def guard_last_resort() -> None:
    """Show the records of a process that set up no logging (a short command: `kill` logs its
    halt) printable too: Python's last-resort handler prints them as they are."""
    if logging.lastResort is not None:
        logging.lastResort.setFormatter(TextFormatter("%(message)s"))
