"""Rows written before lone UTF-16 surrogates were replaced on the way in (SQLite kept the escape
`\\ud800` as given) are read with U+FFFD in its place: every read of such a row, and every API
answer carrying it, failed to be sent as UTF-8 (a 500)."""

from __future__ import annotations

from sqlalchemy import text

from test_api_support import bearer, build_app, client, replayed_node
from tradeguard.storage import Database, Storage


def _old_event(db: Database, data: str) -> None:
    # the text an older release wrote: the JSON escape of a lone surrogate, kept by SQLite
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO events (ts, kind, severity, venue, symbol, strategy_id, data) "
                "VALUES (1, 'venue.error', 'warning', 'paper', '', '', :data)"
            ),
            {"data": data},
        )


def test_an_old_row_holding_a_lone_surrogate_reads_with_a_stand_in(sqlite_url) -> None:
    db = Database(sqlite_url)
    db.migrate()
    _old_event(db, '{"msg": "a\\ud800b", "\\udc00": "x", "ok": "\\ud83d\\ude00"}')
    [event] = Storage(db).load_events(kind_prefix="venue.error")
    assert event.data == {"msg": "a\ufffdb", "\ufffd": "x", "ok": "\U0001f600"}


async def test_the_events_route_answers_an_old_row_holding_a_lone_surrogate(tmp_path, data_dir):
    node = await replayed_node(tmp_path, data_dir, rows=60)
    _old_event(node.db, '{"msg": "refused: \\udfff"}')
    app, tokens = build_app(node)
    async with client(app) as http:
        r = await http.get(
            "/api/v1/events", params={"kind_prefix": "venue.error"}, headers=bearer(tokens.viewer)
        )
    assert r.status_code == 200, r.text
    assert r.json()["items"][0]["data"] == {"msg": "refused: \ufffd"}
    node.close()
