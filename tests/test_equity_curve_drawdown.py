"""`/api/v1/equity` measures each point's drawdown from the run's peak, the one `/state`,
`status` and the metrics read (invariant 11), not from the highest of the points it samples."""

from __future__ import annotations

from decimal import Decimal

from node_support import paper_config, write_slice
from test_api_support import bearer, build_app, client
from tradeguard.node import build_node
from tradeguard.portfolio.equity import EquityTracker

D = Decimal


async def test_equity_points_measure_drawdown_from_the_runs_peak(tmp_path, data_dir) -> None:
    # Walked: the run peaked at 10,046 between two samples of the curve; the newest point said
    # 0.29 % down (from the sampled 10,029) while `/state` and the dashboard's figure said 0.46 %.
    data = write_slice(data_dir, tmp_path / "btc.csv", 50)
    node = build_node(paper_config(f"sqlite:///{tmp_path / 'tg.db'}", data, tmp=tmp_path))
    try:
        equity = node.portfolio.equity()
        assert equity == D(10_000)
        node.run_equity = EquityTracker(peak=D(10_046), last=equity, start=D(10_000))
        now = node.clock.now_ms()
        node.equity_curve.extend([(now - 2, D(10_029)), (now - 1, D(10_010))])
        app, tokens = build_app(node)
        async with client(app) as http:
            h = bearer(tokens.viewer)
            state = (await http.get("/api/v1/state", headers=h)).json()
            points = (await http.get("/api/v1/equity", headers=h)).json()["points"]
    finally:
        node.close()
    run = float(state["drawdown_pct"])
    assert round(run, 2) == 0.46
    assert points[-1]["drawdown_pct"] == round(run, 4), points
    # the earlier points are read from the whole curve before it is thinned to `points`
    assert [p["drawdown_pct"] for p in points[:-1]] == [0.0, 0.1895]
