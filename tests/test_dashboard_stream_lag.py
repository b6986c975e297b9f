"""The dashboard after its stream fell behind: the node closes the stream with 4008 (a client
more than 2,000 events behind), and the page in real Chromium opens a new one, shows itself
live again and shows the state as it is now, not what the lost events would have told it."""

from __future__ import annotations

from playwright.async_api import expect

from dashboard_support import TALL, dashboard, require_chromium
from test_api_support import replayed_node, resting_buy
from tradeguard.model.events import Event

# every stream the page opens and the code each one was closed with
RECORD_SOCKETS = """
window.__streams = [];
const Native = window.WebSocket;
window.WebSocket = function (...args) {
  const ws = new Native(...args);
  const entry = { code: null };
  window.__streams.push(entry);
  ws.addEventListener("close", (ev) => { entry.code = ev.code; });
  return ws;
};
window.WebSocket.prototype = Native.prototype;
"""


async def test_the_dashboard_reconnects_after_4008_and_shows_the_state_now(tmp_path, data_dir):
    require_chromium()
    node = await replayed_node(tmp_path, data_dir)
    async with dashboard(node, TALL) as board:
        page, tokens = board.page, board.tokens
        assert tokens is not None
        await page.add_init_script(RECORD_SOCKETS)
        await board.log_in(tokens.viewer)
        await expect(page.locator("#ws-status")).to_have_text("live")
        await expect(page.locator("#open-orders tbody tr")).to_have_count(0)
        # more events than the stream's queue holds, published without a pause: it falls behind
        for seq in range(2_100):
            node.bus.publish(Event("test.flood", seq, {"seq": seq}))
        await expect(page.locator("#ws-status")).to_have_text("offline")
        await resting_buy(node)  # while the page has no stream
        await expect(page.locator("#ws-status")).to_have_text("live")
        streams = await page.evaluate("window.__streams")
        assert [s["code"] for s in streams] == [4008, None], streams
        await expect(page.locator("#open-orders tbody tr")).to_have_count(1)
    node.close()
