"""What the routes share: the node, the token store and the guards around them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tradeguard.api.arb_figures import ArbFigures
from tradeguard.api.auth import FailureLimiter, TokenInfo, TokenStore
from tradeguard.api.clients import Network
from tradeguard.api.confirmations import Confirmations
from tradeguard.api.metrics import NodeMetrics
from tradeguard.model.events import Event

if TYPE_CHECKING:
    from tradeguard.node import TradingNode


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token (never its value) and the client address."""

    token: TokenInfo
    client: str

    @property
    def by(self) -> str:
        return f"api:{self.token.name}({self.token.id})"


@dataclass
class ApiState:
    """What the routes share: the node, the token store and the guards around them."""

    node: TradingNode
    tokens: TokenStore
    limiter: FailureLimiter
    passphrase: str | None
    metrics: NodeMetrics
    arb: ArbFigures
    confirmations: Confirmations = field(default_factory=Confirmations)
    max_body_bytes: int = 65_536
    proxies: tuple[Network, ...] = ()

    def audit(
        self,
        kind: str,
        who: Principal | None,
        data: dict[str, Any],
        severity: str = "info",
        client: str = "",
    ) -> None:
        """Publish an API action to the bus and write the audit log at once."""
        payload = {"wall_ts": int(time.time() * 1000), **data}
        if who is not None:
            payload.update(
                token_id=who.token.id,
                token_name=who.token.name,
                role=who.token.role.label,
                client=who.client,
            )
        elif client:
            payload["client"] = client
        node = self.node
        node.bus.publish(Event(kind, node.clock.now_ms(), payload, severity=severity))
        node.flush_audit()
