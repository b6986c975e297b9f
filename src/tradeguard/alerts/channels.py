"""Alert delivery channels: a JSON webhook, the Telegram Bot API and SMTP email.

Each channel's `send` either delivers or raises `ChannelError`, whose text never holds a
credential (tokens, webhook URLs, passwords).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import email.utils
import functools
import hashlib
import html
import logging
import queue
import re
import smtplib
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterable
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from tradeguard.alerts.config import AlertsConfig, SmtpConfig, TelegramConfig, WebhookConfig
from tradeguard.alerts.rules import Alert
from tradeguard.ctrl_c_reach import start_thread
from tradeguard.secrets.redact import MASK, RedactingFilter, redact, register_secret

if TYPE_CHECKING:  # imported by an HTTP channel's making: a node without one never loads it
    import httpx

log = logging.getLogger(__name__)

_SLACK_LIMIT = 40_000
_DISCORD_LIMIT = 2_000
_TELEGRAM_LIMIT = 4_096
# The defaults of alerts.delivery_timeouts (one delivery, an HTTP request and its answer or a
# whole SMTP session, is cut after this many alerts.timeout_s) and of
# alerts.max_connections_per_receiver (POSTs one receiver may hold at once).
DELIVERY_TIMEOUTS = 5
MAX_POSTS = 4
_httpx_guarded = False
# what a Message-ID's left part takes as it is (an alert id: digits, a dash, hex digits)
_ID_LEFT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class ChannelError(Exception):
    """A channel could not deliver an alert (HTTP >= 400, connection or SMTP failure)."""

    def __init__(self, channel: str, message: str) -> None:
        self.channel = channel
        super().__init__(f"{channel}: {message}")


class Channel(Protocol):
    """Something that delivers alerts."""

    name: str

    async def send(self, alert: Alert) -> None:
        """Deliver one alert or raise ChannelError."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def guard_secret(value: str) -> None:
    """Register `value` for redaction and mask it in httpx's request log lines."""
    global _httpx_guarded
    register_secret(value)
    if not _httpx_guarded:
        # httpx logs every request URL at INFO; a Telegram URL holds the bot token.
        logging.getLogger("httpx").addFilter(RedactingFilter())
        _httpx_guarded = True


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, MASK)
    return redact(text)


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain_message(alert: Alert) -> str:
    return f"{alert.title}\n{alert.text}"


class _HttpChannel:
    name = "http"

    def __init__(
        self,
        timeout_s: float,
        secrets: list[str],
        delivery_timeouts: int = DELIVERY_TIMEOUTS,
        max_posts: int = MAX_POSTS,
    ) -> None:
        import httpx  # noqa: F401  (loaded with the channel, not at its first post in the loop)

        self._timeout = timeout_s
        self._timeouts = delivery_timeouts
        self._longest = timeout_s * delivery_timeouts
        self._max_posts = max_posts
        self._secrets = [s for s in secrets if s]
        self._client: httpx.AsyncClient | None = None
        self._inflight: tuple[Alert, asyncio.Task[httpx.Response]] | None = None
        self._posts: set[asyncio.Task[httpx.Response]] = set()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            import httpx

            # A receiver slower than timeout_s may have taken the alert, so its answer is
            # awaited (the manager's timeout abandons the wait, not the POST), up to the
            # delivery's own bound; the pool holds max_posts connections, waited for timeout_s.
            posts = self._max_posts
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout, read=self._longest),
                limits=httpx.Limits(max_connections=posts, max_keepalive_connections=posts),
            )
        return self._client

    async def _once(
        self, alert: Alert, post: Callable[[], Awaitable[httpx.Response]]
    ) -> httpx.Response:
        """POST `alert` once: a retry of it waits for the POST still awaiting its answer."""
        inflight = self._inflight
        if inflight is not None and inflight[0] is alert and _not_failed(inflight[1]):
            task = inflight[1]
        else:
            task = asyncio.ensure_future(post())
            task.add_done_callback(_consume)
            task.add_done_callback(self._posts.discard)
            self._posts.add(task)
            self._inflight = (alert, task)
        try:
            return await asyncio.shield(task)
        finally:
            if task.done() and self._inflight is not None and self._inflight[1] is task:
                self._inflight = None

    async def _post(
        self, url: str, payload: dict[str, Any], what: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        import httpx

        longest = self._longest
        try:
            # the whole request bounded too: a receiver dripping its answer never times a read out
            async with asyncio.timeout(longest):
                response = await self._http().post(url, json=payload, headers=headers)
        except TimeoutError:
            raise ChannelError(
                self.name,
                f"{what} failed: no answer within {longest:g} s (alerts.timeout_s x "
                f"{self._timeouts})",
            ) from None
        except httpx.HTTPError as exc:
            # `from None`: the original exception carries the URL with its credential.
            raise ChannelError(
                self.name,
                f"{what} failed: {type(exc).__name__}: {_scrub(str(exc), self._secrets)}",
            ) from None
        if response.status_code >= 400:
            body = _scrub(response.text[:300], self._secrets)
            raise ChannelError(self.name, f"{what} failed: HTTP {response.status_code}: {body}")
        return response

    async def aclose(self) -> None:
        """Stop the POSTs still awaiting an answer and close the HTTP connection pool."""
        for task in list(self._posts):
            task.cancel()
        self._inflight = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class WebhookChannel(_HttpChannel):
    """POST alerts as JSON: Slack `{"text"}`, Discord `{"content"}` or a generic object."""

    def __init__(
        self,
        url: str,
        format: str = "slack",
        timeout_s: float = 10.0,
        delivery_timeouts: int = DELIVERY_TIMEOUTS,
        max_posts: int = MAX_POSTS,
    ) -> None:
        if format not in ("slack", "discord", "generic"):
            raise ValueError(
                f"webhook format={format!r} is not one of slack, discord, generic "
                "(alerts.webhook.format)"
            )
        super().__init__(timeout_s, [url], delivery_timeouts, max_posts)
        self.name = f"webhook:{format}"
        self._url = url
        self._format = format
        # The path of a Slack/Discord webhook is its credential; only the host is shown.
        self._host = urlsplit(url).netloc
        guard_secret(url)

    def payload(self, alert: Alert) -> dict[str, Any]:
        """Return the JSON body sent for `alert`."""
        if self._format == "slack":
            return {"text": _truncate(f"*{alert.title}*\n{alert.text}", _SLACK_LIMIT)}
        if self._format == "discord":
            return {"content": _truncate(f"**{alert.title}**\n{alert.text}", _DISCORD_LIMIT)}
        body: dict[str, Any] = {
            "title": alert.title,
            "text": alert.text,
            "severity": alert.severity,
            "rule": alert.rule,
            "ts": alert.ts,
        }
        if alert.id:  # every alert the manager sends has one
            body["id"] = alert.id
        return body

    async def send(self, alert: Alert) -> None:
        """POST the alert to the webhook, its id in the `X-Alert-Id` header."""
        headers = {"X-Alert-Id": alert.id} if alert.id else None
        what = f"POST to webhook at {self._host}"
        await self._once(alert, lambda: self._post(self._url, self.payload(alert), what, headers))


class TelegramChannel(_HttpChannel):
    """Send alerts with the Telegram Bot API `sendMessage` method."""

    def __init__(
        self,
        bot_token: str,
        chat_id: str,
        api_base: str = "https://api.telegram.org",
        parse_mode: str = "HTML",
        timeout_s: float = 10.0,
        delivery_timeouts: int = DELIVERY_TIMEOUTS,
        max_posts: int = MAX_POSTS,
    ) -> None:
        if parse_mode not in ("HTML", ""):
            raise ValueError(
                f"telegram parse_mode={parse_mode!r} is not supported; use 'HTML' or '' "
                "(alerts.telegram.parse_mode)"
            )
        if not bot_token or not chat_id:
            raise ValueError(
                "telegram needs both bot_token and chat_id (alerts.telegram.bot_token, "
                "alerts.telegram.chat_id)"
            )
        super().__init__(timeout_s, [bot_token], delivery_timeouts, max_posts)
        self.name = "telegram"
        self._token = bot_token
        self._chat_id = chat_id
        self._api_base = api_base.rstrip("/")
        self._parse_mode = parse_mode
        guard_secret(bot_token)

    def __repr__(self) -> str:
        return f"TelegramChannel(chat_id={self._chat_id!r}, api_base={self._api_base!r})"

    def payload(self, alert: Alert) -> dict[str, Any]:
        """Return the sendMessage body for `alert`."""
        if self._parse_mode == "HTML":
            text = f"<b>{html.escape(alert.title)}</b>\n{html.escape(alert.text)}"
        else:
            text = _plain_message(alert)
        body: dict[str, Any] = {
            "chat_id": self._chat_id,
            "text": _truncate(text, _TELEGRAM_LIMIT),
            "disable_web_page_preview": True,
        }
        if self._parse_mode:
            body["parse_mode"] = self._parse_mode
        return body

    async def send(self, alert: Alert) -> None:
        """Call sendMessage; a Telegram `ok: false` answer counts as a failure."""
        url = f"{self._api_base}/bot{self._token}/sendMessage"
        payload = self.payload(alert)
        response = await self._once(alert, lambda: self._post(url, payload, "telegram sendMessage"))
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if isinstance(answer, dict) and answer.get("ok") is False:
            detail = _scrub(str(answer.get("description", "")), self._secrets)
            raise ChannelError(self.name, f"telegram sendMessage refused: {detail}")


class EmailChannel:
    """Send alerts as plain-text email through an SMTP relay (blocking I/O in a thread).

    The SMTP sessions run on the channel's own thread, one at a time: a hung relay holds that
    thread, never the loop's shared executor. A session abandoned by the caller's timeout runs
    on; its retry waits for its outcome instead of sending the email again. Each read waits at
    most `timeout_s` and a whole session `timeout_s * delivery_timeouts` (its socket is shut
    then): a relay that answers a byte at a time cannot hold the emails after it for good.
    """

    def __init__(
        self,
        host: str,
        port: int,
        from_addr: str,
        to_addrs: list[str],
        *,
        starttls: bool = True,
        username: str = "",
        password: str = "",
        timeout_s: float = 10.0,
        subject_prefix: str = "[tradeguard]",
        delivery_timeouts: int = DELIVERY_TIMEOUTS,
    ) -> None:
        if not host or not from_addr or not to_addrs:
            raise ValueError(
                "email needs host, from_addr and to_addrs (alerts.smtp.host, "
                "alerts.smtp.from_addr, alerts.smtp.to_addrs)"
            )
        self.name = "email"
        self._host = host
        self._port = port
        self._from = from_addr
        self._to = list(to_addrs)
        self._starttls = starttls
        self._username = username
        self._password = password
        self._timeout = timeout_s
        self._timeouts = delivery_timeouts
        self._longest = timeout_s * delivery_timeouts
        self._prefix = subject_prefix
        self._executor: _DaemonWorker | None = None
        self._inflight: tuple[Alert, concurrent.futures.Future[None]] | None = None
        if password:
            register_secret(password)

    def __repr__(self) -> str:
        return f"EmailChannel(host={self._host!r}, port={self._port}, to={self._to!r})"

    def message(self, alert: Alert) -> EmailMessage:
        """Build the email for `alert`."""
        msg = EmailMessage()
        prefix = f"{self._prefix} " if self._prefix else ""
        msg["Subject"] = f"{prefix}{alert.severity.upper()}: {alert.title}"
        msg["From"] = self._from
        msg["To"] = ", ".join(self._to)
        msg["Message-ID"] = self.message_id(alert)
        msg.set_content(alert.text + "\n")
        return msg

    def message_id(self, alert: Alert) -> str:
        """The email's Message-ID: the alert's durable id at the sender's domain, the same for
        every send of the alert (a retry after a session cut once the relay had the message, a
        restart), so a mail client or relay drops the copy. An alert without an id (never
        queued) gets one from its content."""
        local = alert.id
        if not _ID_LEFT.fullmatch(local):  # none, or one a header could not carry as it is
            content = (local, alert.rule, alert.dedupe_key, str(alert.ts), alert.title, alert.text)
            local = hashlib.sha256("\x1f".join(content).encode()).hexdigest()[:32]
        domain = email.utils.parseaddr(self._from)[1].rpartition("@")[2]
        return f"<{local}@{domain or 'tradeguard.invalid'}>"

    def _send_blocking(self, msg: EmailMessage) -> None:
        longest = self._longest
        smtp = smtplib.SMTP(timeout=self._timeout)
        cut = threading.Event()

        def cut_session() -> None:
            cut.set()  # first: a socket made after this look is refused below
            sock = smtp.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # wakes the read blocked on it

        timer = threading.Timer(longest, cut_session)
        timer.daemon = True
        timer.start()
        try:
            with smtp:
                smtp.connect(self._host, self._port)
                if cut.is_set():
                    raise TimeoutError
                if self._starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self._username:
                    smtp.login(self._username, self._password)
                smtp.send_message(msg, self._from, self._to)
        except (smtplib.SMTPException, OSError):
            if not cut.is_set():
                raise
            raise TimeoutError(
                f"session not over within {longest:g} s (alerts.timeout_s x {self._timeouts})"
            ) from None
        finally:
            timer.cancel()

    def _session(self, alert: Alert) -> concurrent.futures.Future[None]:
        inflight = self._inflight
        if inflight is not None and inflight[0] is alert:
            earlier = inflight[1]
            if not earlier.done() or earlier.exception() is None:
                # The relay may already have this email: wait for that session, send no copy.
                return earlier
        if self._executor is None:
            self._executor = _DaemonWorker("alerts-smtp")
        session = self._executor.submit(functools.partial(self._send_blocking, self.message(alert)))
        self._inflight = (alert, session)
        return session

    async def send(self, alert: Alert) -> None:
        """Send the email; SMTP and connection errors become ChannelError."""
        session = self._session(alert)
        outcome = asyncio.wrap_future(session)
        # An abandoned session's failure is read by its retry, not reported as unretrieved.
        outcome.add_done_callback(_consume)
        try:
            # shield: a timeout above abandons the wait, not the session, which runs on
            await asyncio.shield(outcome)
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            detail = _scrub(f"{type(exc).__name__}: {exc}", [self._password])
            raise ChannelError(
                self.name, f"SMTP to {self._host}:{self._port} failed: {detail}"
            ) from None
        finally:
            if session.done() and self._inflight is not None and self._inflight[1] is session:
                self._inflight = None

    async def aclose(self) -> None:
        """Let the channel's SMTP thread end after its session (a hung one is not waited for)."""
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None


_Call = tuple[Callable[[], None], concurrent.futures.Future[None]]


class _DaemonWorker:
    """Run calls one at a time on one daemon thread.

    Not a ThreadPoolExecutor: the interpreter joins its threads at exit, so an SMTP session
    hung on a dripping relay would keep a stopped node's process alive for good.
    """

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        start_thread(threading.Thread(target=self._run, name=name, daemon=True))

    def submit(self, fn: Callable[[], None]) -> concurrent.futures.Future[None]:
        """Queue `fn`; its future holds the outcome."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._calls.put((fn, future))
        return future

    def shutdown(self) -> None:
        """End the thread once the calls queued before this one have run."""
        self._calls.put(None)

    def _run(self) -> None:
        while (call := self._calls.get()) is not None:
            fn, future = call
            if not future.set_running_or_notify_cancel():
                continue
            try:
                fn()
            except BaseException as exc:  # handed to the waiting caller, like an executor
                future.set_exception(exc)
            else:
                future.set_result(None)


def _consume(outcome: asyncio.Future[Any]) -> None:
    if not outcome.cancelled():
        outcome.exception()


def _not_failed(task: asyncio.Future[Any]) -> bool:
    """Whether `task` is still running or succeeded (its alert may be delivered)."""
    return not task.done() or (not task.cancelled() and task.exception() is None)


def build_channels(config: AlertsConfig) -> list[Channel]:
    """Create a channel for each one configured in `config` (none when all are empty)."""
    channels: list[Channel] = []
    wh: WebhookConfig = config.webhook
    if wh.configured:
        channels.append(
            WebhookChannel(
                wh.url.get_secret_value(),
                wh.format,
                config.timeout_s,
                config.delivery_timeouts,
                config.max_connections_per_receiver,
            )
        )
    tg: TelegramConfig = config.telegram
    if tg.configured:
        channels.append(
            TelegramChannel(
                tg.bot_token.get_secret_value(),
                tg.chat_id,
                tg.api_base,
                tg.parse_mode,
                config.timeout_s,
                config.delivery_timeouts,
                config.max_connections_per_receiver,
            )
        )
    sm: SmtpConfig = config.smtp
    if sm.configured:
        channels.append(
            EmailChannel(
                sm.host,
                sm.port,
                sm.from_addr,
                sm.to_addrs,
                starttls=sm.starttls,
                username=sm.username,
                password=sm.password.get_secret_value(),
                timeout_s=config.timeout_s,
                subject_prefix=sm.subject_prefix,
                delivery_timeouts=config.delivery_timeouts,
            )
        )
    return channels
