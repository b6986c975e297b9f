"""While the node starts, a bot's trade routes check the caller first: a request with no token,
a bad one or too low a role is refused as at any other time (401/403), never told 503 STARTING
and to retry, which a token without the role would do until the node started."""

from __future__ import annotations

import pytest

from bots_support import add_bot
from test_api_support import bare_paper_config, bearer, build_app, client
from test_bots_starting import ROUTES
from tradeguard.node import build_node


@pytest.mark.parametrize(("path", "body"), ROUTES)
async def test_a_caller_without_the_role_is_refused_before_starting_is_said(
    tmp_path, data_dir, path, body
):
    node = build_node(bare_paper_config(tmp_path, data_dir, rows=30))
    try:
        add_bot(node, "alpha", require_confirmation=False)
        app, tokens = build_app(node)
        assert not node.markets_loaded
        async with client(app) as http:
            anonymous = await http.post(path, json=body)
            assert anonymous.status_code == 401, anonymous.text
            forged = await http.post(path, json=body, headers=bearer("tg_not-a-real-token"))
            assert forged.status_code == 401, forged.text
            # was: 503 STARTING (retry), the role unchecked until the node had started
            viewer = await http.post(path, json=body, headers=bearer(tokens.viewer))
            assert viewer.status_code == 403, viewer.text
    finally:
        node.close()
