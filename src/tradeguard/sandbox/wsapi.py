"""The WebSocket API (`/ws-api/v3`): ping, time and user data stream subscription by signature."""

from __future__ import annotations

from typing import Any

from tradeguard.sandbox.auth import Auth
from tradeguard.sandbox.params import ApiError, ws_value
from tradeguard.sandbox.streams import StreamHub, WsConn


class WsApi:
    """Answers ws-api requests on a connection."""

    def __init__(self, hub: StreamHub, auth: Auth, now_ms: Any) -> None:
        self.hub = hub
        self.auth = auth
        self.now_ms = now_ms
        self._next_sub_id = 0

    def handle(self, conn: WsConn, req: dict[str, Any]) -> None:
        """Answer one request with a result or a Binance error."""
        rid = req.get("id")
        try:
            params = req.get("params") or {}
            if not isinstance(params, dict):
                raise ApiError(-1100, "Illegal parameters: 'params' must be a JSON object.")
            result = self._call(conn, req.get("method"), params)
        except ApiError as exc:
            error = {"code": exc.code, "msg": exc.msg}
            self.hub.send(conn, {"id": rid, "status": exc.status, "error": error})
            return
        self.hub.send(conn, {"id": rid, "status": 200, "result": result, "rateLimits": []})

    def _call(self, conn: WsConn, method: Any, params: dict[str, Any]) -> Any:
        if method == "ping":
            return {}
        if method == "time":
            return {"serverTime": self.now_ms()}
        if method == "userDataStream.subscribe.signature":
            key = self.auth.keys.get(str(params.get("apiKey", "")))
            if key is None:
                raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
            signature = str(params.get("signature", ""))
            rest = {k: v for k, v in params.items() if k != "signature"}
            payload = "&".join(f"{k}={ws_value(v)}" for k, v in sorted(rest.items()))
            self.auth.check_signature(key, payload, signature)
            self.auth.check_timestamp({k: str(v) for k, v in rest.items()})
            self._next_sub_id += 1
            conn.subs[self._next_sub_id] = key.account_id
            return {"subscriptionId": self._next_sub_id}
        if method == "userDataStream.unsubscribe":
            sub = params.get("subscriptionId")
            if sub is None:
                conn.subs.clear()
            elif (isinstance(sub, int) and not isinstance(sub, bool)) or (
                isinstance(sub, str) and sub.isascii() and sub.isdigit() and len(sub) < 19
            ):
                conn.subs.pop(int(sub), None)
            else:
                raise ApiError(
                    -1100, f"Illegal parameter 'subscriptionId' {sub!r}: not an integer."
                )
            return {}
        raise ApiError(-1100, f"Unsupported method {method!r} in this sandbox.")
