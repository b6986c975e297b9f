"""`tradeguard doctor`: the ledger audit the node runs at start, on demand.

    tradeguard doctor [--db URL | --config FILE] [--json]

Exit 0 when every balance and open position equals its fills, 1 with the figures otherwise.
An exchange venue's stored balances are its last report (run it after a start, whose
reconciliation stores them); they may differ from the ledger by the fees' rounding.
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from typing import Any

from tradeguard.execution.ledger_audit import LedgerAudit, audit_storage, stored_start_balances
from tradeguard.model.holdings import HOLDINGS

EXIT_OK, EXIT_MISMATCH = 0, 1
MULTI_LEG_KINDS = frozenset({"triangular", "cross_venue"})


def add_doctor_parser(sub: Any) -> None:
    """Register `tradeguard doctor`."""
    sp = sub.add_parser(
        "doctor",
        help="audit the ledger: balances and positions against fills",
        epilog="example: tradeguard doctor --config examples/paper.toml --json",
    )
    sp.add_argument("--config", help="TOML config file (default: built-in paper config)")
    sp.add_argument("--db", help="database URL (overrides node.database_url)")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    """Print the ledger audit of the configured database; exit 1 on a mismatch."""
    from tradeguard.cli.common import apply_db, refuse_missing_sqlite_file
    from tradeguard.config import load_config
    from tradeguard.storage.db import Database
    from tradeguard.storage.repository import Storage

    config = load_config(args.config)
    apply_db(config, args.db)
    refuse_missing_sqlite_file(config.node.database_url)  # an empty one would show a mismatch
    db = Database(config.node.database_url)
    try:
        db.migrate()
        audit = audit_database(Storage(db), config)
    finally:
        db.dispose()
    if args.json:
        print(json.dumps(audit.to_json(), indent=2))
    else:
        print("\n".join(render(audit)))
    return EXIT_OK if audit.ok else EXIT_MISMATCH


def audit_database(storage: Any, config: Any) -> LedgerAudit:
    """Audit the ledger in `storage`; paper venues without a stored start use the config's."""
    starts = stored_start_balances(storage)
    paper = {vc.name for vc in config.venues if vc.kind == "paper"}
    for vc in config.venues:
        if vc.kind == "paper" and vc.name not in starts:
            starts[vc.name] = dict(vc.balances)
    # Exchange venues round the fees they charge; their stored figures are their reports.
    return audit_storage(storage, starts, _balance_only(config), rounded=set(starts) - paper)


def _balance_only(config: Any) -> set[str]:
    # Multi-leg strategies (those trading through execution gateways: triangular cycles,
    # cross-venue pairs) book balances only: their fills belong to no position.
    # Spot trades of no journal order move balances only too (model.holdings).
    multi = {sc.id for sc in config.strategies if sc.kind in MULTI_LEG_KINDS}
    return multi | {HOLDINGS}


def render(audit: LedgerAudit) -> list[str]:
    """The audit as text: one line per asset and open position, then the verdict."""
    lines = ["balances (stored = start + fills - fees + adjustments):"]
    for a in audit.assets:
        mark = "ok" if not a.off else f"MISMATCH {_s(a.difference)}"
        lines.append(
            f"  {a.venue} {a.asset}: stored {_s(a.stored)} = {_s(a.start)} + {_s(a.fills)} "
            f"- {_s(a.fees)} + {_s(a.adjustments)}  {mark}"
        )
    lines.append("open positions (quantity = net of their fills):")
    if not audit.positions:
        lines.append("  none")
    for p in audit.positions:
        mark = "ok" if not p.difference else f"MISMATCH {_s(p.difference)}"
        lines.append(
            f"  {p.venue} {p.symbol} ({p.strategy_id or '-'}): {_s(p.stored)} "
            f"vs fills {_s(p.fills)}  {mark}"
        )
    if audit.ok:
        lines.append("ledger ok: every balance and open position equals its fills")
    else:
        lines.append(f"ledger MISMATCH ({len(audit.mismatches)}):")
        lines += [f"  {m}" for m in audit.describe()]
    return lines


def _s(d: Decimal) -> str:
    return format(d.normalize(), "f") if d else "0"
