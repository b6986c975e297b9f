"""The `[api]` and `[health]` sections: how the HTTP API listens and what it calls healthy."""

import re
import ssl
from typing import Any

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from tradeguard.model.config_model import ConfigModel
from tradeguard.model.errors import ConfigError
from tradeguard.model.fields import empty_list, home_path

_HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\.?")


class _Strict(ConfigModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ApiConfig(_Strict):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # TLS certificate and key (PEM files; a relative path is taken from the config file's
    # folder); without them a non-loopback bind is warned about
    tls_certfile: str | None = None
    tls_keyfile: str | None = Field(default=None, validate_default=True)
    # failed authentications per client IP per minute before it gets 429 for the rest of it
    # (and wrong TOTP codes per token: its second factor is then not checked either)
    auth_failures_per_min: int = Field(default=10, ge=1, le=10_000)
    # failed authentications per minute from one network (an IPv6 /48, an IPv4 /24: clients
    # rotating addresses) before all of it gets 429; unset: 5 x auth_failures_per_min
    auth_failures_per_min_network: int | None = Field(default=None, ge=1, le=100_000)
    # failed authentications per minute from all clients together (a guesser holding many
    # networks) before every client without a valid token gets 429; a valid token still passes
    auth_failures_per_min_global: int = Field(default=200, ge=1, le=1_000_000)
    # request bodies above this many bytes are refused with 413 before they are read whole
    max_body_bytes: int = Field(default=65_536, ge=1_024, le=16_777_216)
    # request heads (request line and headers) above this many bytes are refused with 431
    max_header_bytes: int = Field(default=32_768, ge=4_096, le=1_048_576)
    # a request not received whole (head and body) this long after its first byte gets 408
    request_read_timeout_s: float = Field(default=10.0, ge=0.1, le=300)
    # open connections (WebSocket streams included) beyond this are answered 503 and closed
    max_connections: int = Field(default=256, ge=4, le=10_000)
    # addresses or CIDRs of reverse proxies whose X-Forwarded-For names the client (default none)
    trusted_proxies: list[str] = Field(default_factory=empty_list, max_length=64)
    # a plain POST /api/v1/kill (no flatten) also needs the caller's TOTP code in X-TOTP
    require_totp_for_kill: bool = False
    # names (besides localhost, *.localhost, IP addresses and api.host) the API is reached by,
    # such as "tradeguard.lan": a request naming another Host is refused (DNS rebinding)
    allowed_hosts: list[str] = Field(default_factory=empty_list, max_length=64)

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, v: list[str]) -> list[str]:
        for item in v:
            if not _HOST_NAME.fullmatch(item):
                raise ValueError(
                    f"{item!r} is not a host name such as tradeguard.lan (letters, digits, "
                    "'-' and '.', at most 253, no port)"
                )
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        import ipaddress

        for item in v:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or CIDR such as 10.0.0.0/8"
                ) from None
        return v

    @field_validator("tls_certfile", "tls_keyfile")
    @classmethod
    def _tls_home(cls, v: str | None) -> str | None:
        return home_path(v) if v else v

    @field_validator("tls_keyfile")
    @classmethod
    def _tls_pair(cls, v: str | None, info: ValidationInfo) -> str | None:
        # One without the other served plain HTTP while `status` asked over https.
        cert = info.data.get("tls_certfile")
        if cert and not v:
            raise ValueError(f"missing: api.tls_certfile = {cert!r} needs its key file; set both")
        if v and not cert:
            raise ValueError("api.tls_certfile is missing; set both or neither")
        return v


class HealthConfig(_Strict):
    """When `GET /api/v1/health` (and the dead-man ping) says degraded or down."""

    # the live loop's last beat older than this: down (it beats several times a second)
    heartbeat_max_age_s: float = Field(default=30.0, ge=1, le=3600)
    # the event loop waking a timer later than this: degraded
    loop_lag_max_s: float = Field(default=1.0, gt=0, le=600)
    # more live market-data streams stale than this: degraded
    stale_streams_max: int = Field(default=0, ge=0, le=100_000)
    # more orders in an unknown state (awaiting a venue's answer) than this: degraded
    unresolved_orders_max: int = Field(default=0, ge=0, le=100_000)


def checked_tls_files(config: Any) -> tuple[str, str] | None:
    """The API's certificate chain and key files (`api.tls_certfile`, `api.tls_keyfile`,
    relative to the config file's folder), None without TLS. ConfigError (exit 2) names both
    keys when a file is missing or the pair does not load as a PEM chain and its key: the
    server's start failed on them as on a port in use."""
    api = config.api
    if not (api.tls_certfile and api.tls_keyfile):
        return None
    cert = config.file_path("api.tls_certfile", api.tls_certfile)
    key = config.file_path("api.tls_keyfile", api.tls_keyfile)
    try:
        with key.open("rb") as f:
            encrypted = b"ENCRYPTED" in f.read(4096)
        if encrypted:  # its passphrase is asked for at the server's start: the chain alone
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=cert)
        else:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(
            f"api.tls_certfile = {api.tls_certfile!r}, api.tls_keyfile = {api.tls_keyfile!r}: "
            f"not a PEM certificate chain and its private key ({exc}); give the server's "
            "certificate (with its chain) and the key it was issued for"
        ) from None
    return str(cert), str(key)
