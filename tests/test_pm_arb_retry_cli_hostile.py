"""`tradeguard pm arb retry` against what is not a tradeguard node, and with inputs it cannot
send: a server on the port answering junk, a body of the wrong shape, a huge body or escape
sequences; a URL carrying a user name and password; a token or code that is no header value; an
end of input at the prompt. Each ends in one line naming the cause, never a traceback, and no
secret is shown or sent where it does not belong."""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pty_support import run_in_pty
from rigs import threaded_http
from tradeguard.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
RETRY = [sys.executable, "-m", "tradeguard.cli", "pm", "arb", "retry"]


class _Hostile(http.server.ThreadingHTTPServer):
    answer: tuple[int, bytes] = (200, b"")
    seen_auth: list[str]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Hostile

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.server.seen_auth.append(str(self.headers.get("Authorization")))
        status, body = self.server.answer
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the client stopped reading (a body too large)
            self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[_Hostile]:
    with threaded_http(_Handler, _Hostile) as server:
        server.seen_auth = []
        yield server


def _cli(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """`tradeguard pm arb retry ARGS` in this process with exactly `env` as its environment and
    no terminal on stdin (pytest's); what it printed, out and err together."""
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        for name in set(os.environ) - set(env):
            mp.delenv(name)
        for name, value in env.items():
            mp.setenv(name, value)
        mp.chdir(ROOT)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                code = main([*RETRY[3:], *args])
            except SystemExit as exc:  # argparse's
                code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TG_API_URL"}
    return {**env, "TG_API_TOKEN": "tg_secret_token_value", **extra}


@pytest.mark.parametrize(
    "body",
    [b"<html><body>It works!</body></html>", b"[1, 2]", b'{"retried": "abc"}',
     b'{"retried": [1, 2]}', b"\xff\xfe not even text"],
    ids=["html", "list", "retried-string", "retried-numbers", "binary"],
)  # fmt: skip
def test_a_server_answering_200_with_junk_ends_in_one_line(hostile, body):
    hostile.answer = (200, body)
    url = f"http://127.0.0.1:{hostile.server_port}"
    code, out = _cli(["--url", url, "--totp", "123456"], _env())
    assert code == 1 and out.count("\n") == 1, out
    assert out.startswith(f"tradeguard: {url} answered 200 with no retry's answer"), out
    assert "Traceback" not in out


def test_a_huge_body_is_not_read_to_its_end(hostile):
    hostile.answer = (200, b'{"retried": [' + b" " * (64 << 20) + b"]}")
    url = f"http://127.0.0.1:{hostile.server_port}"
    code, out = _cli(["--url", url, "--totp", "123456"], _env())
    assert code == 1 and out.count("\n") == 1, out
    assert "answered more than 1048576 bytes" in out, out


def test_escape_sequences_in_a_refusal_never_reach_the_terminal(hostile):
    hostile.answer = (401, json.dumps({"detail": "\x1b]0;owned\x07\x1b[2Jbad token"}).encode())
    url = f"http://127.0.0.1:{hostile.server_port}"
    code, out = _cli(["--url", url, "--totp", "123456"], _env())
    assert code == 1 and out.count("\n") == 1, out
    assert "\x1b" not in out and "\x07" not in out, repr(out)
    assert "refused the token" in out and "bad token" in out, out


def test_a_url_with_a_user_name_and_password_is_refused_unsent(hostile):
    url = f"http://alice:s3cret@127.0.0.1:{hostile.server_port}"
    code, out = _cli(["--url", url, "--totp", "123456"], _env())
    assert code == 2 and out.count("\n") == 1, out
    assert "carries a user name or password" in out, out
    assert "s3cret" not in out
    assert hostile.seen_auth == []  # neither the password nor the token went anywhere
    code, out = _cli(["--totp", "123456"], _env(TG_API_URL=url))
    assert code == 2 and "s3cret" not in out and "TG_API_URL" in out, out


@pytest.mark.parametrize(
    ("env", "args", "says"),
    [({"TG_API_TOKEN": "tg_t\u00f6ken"}, ["--totp", "123456"], "TG_API_TOKEN"),
     ({"TG_API_TOKEN": "tg_a\rb"}, ["--totp", "123456"], "TG_API_TOKEN"),
     ({}, ["--totp", "\u0661\u0662\u0663\u0664\u0665\u0666"], "--totp")],
    ids=["token-not-ascii", "token-control", "totp-not-ascii-digits"],
)  # fmt: skip
def test_a_token_or_code_that_is_no_header_value_is_refused(hostile, env, args, says):
    url = f"http://127.0.0.1:{hostile.server_port}"
    code, out = _cli(["--url", url, *args], _env(**env))
    assert code == 2 and out.count("\n") == 1, out
    assert says in out and "Traceback" not in out, out
    assert "t\u00f6ken" not in out  # the token itself is not shown
    assert hostile.seen_auth == []


def test_end_of_input_at_the_code_prompt_ends_in_one_line(hostile):
    url = f"http://127.0.0.1:{hostile.server_port}"
    code, screen = run_in_pty([*RETRY, "--url", url], cwd=ROOT, env=_env(),
                              answer=("TOTP code:", "\x04"))  # fmt: skip
    assert code == 2, screen
    assert "no TOTP code typed" in screen and "Traceback" not in screen, screen
    assert hostile.seen_auth == []


def test_a_token_in_the_command_line_is_refused_and_the_prompt_takes_it(hostile):
    # argv is visible to every user of the machine (ps, /proc): the token is never taken there
    url = f"http://127.0.0.1:{hostile.server_port}"
    code, out = _cli(["--url", url, "--token", "tg_in_argv", "--totp", "123456"], _env())
    assert code == 2 and out.count("\n") == 1, out
    assert "TG_API_TOKEN" in out and "tg_in_argv" not in out, out
    assert hostile.seen_auth == []
    hostile.answer = (200, b'{"retried": []}')
    env = {k: v for k, v in _env().items() if k != "TG_API_TOKEN"}
    typed = [("API token:", "tg_typed\n"), ("TOTP code:", "123456\n")]
    code, screen = run_in_pty([*RETRY, "--url", url], cwd=ROOT, env=env, answer=typed)
    assert code == 0, screen
    assert "tg_typed" not in screen and "nothing was offered" in screen, screen
    assert hostile.seen_auth == ["Bearer tg_typed"]


def test_a_tls_node_named_by_the_config_is_asked_over_its_own_certificate(tmp_path, hostile):
    # the node serves its own certificate (api.tls_certfile, often self-signed): the retry
    # trusts it for that node, and a certificate it cannot trust is named as such
    import ssl

    from test_api_wire import _self_signed

    cert, key = _self_signed(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    hostile.socket = tls.wrap_socket(hostile.socket, server_side=True)
    hostile.answer = (200, b'{"retried": []}')
    config = tmp_path / "node.toml"
    config.write_text(
        f'[api]\nhost = "127.0.0.1"\nport = {hostile.server_port}\n'
        f'tls_certfile = "{cert}"\ntls_keyfile = "{key}"\n'
    )
    code, out = _cli(["--config", str(config), "--totp", "123456"], _env())
    assert code == 0 and "nothing was offered" in out, out
    assert hostile.seen_auth == ["Bearer tg_secret_token_value"]
    url = f"https://127.0.0.1:{hostile.server_port}"
    code, out = _cli(["--url", url, "--totp", "123456"], _env())
    assert code == 1 and out.count("\n") == 1, out
    assert "certificate" in out and "connection refused" not in out, out


@pytest.mark.parametrize("bind", ["0.0.0.0", "::"])
def test_a_node_bound_to_every_address_is_asked_on_loopback(tmp_path, hostile, bind):
    # api.host "0.0.0.0" or "::" is where the node listens, not an address to ask: its
    # certificate names 127.0.0.1, as `tradeguard status` asks
    import ssl

    from test_api_wire import _self_signed

    cert, key = _self_signed(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    hostile.socket = tls.wrap_socket(hostile.socket, server_side=True)
    hostile.answer = (200, b'{"retried": []}')
    config = tmp_path / "node.toml"
    config.write_text(
        f'[api]\nhost = "{bind}"\nport = {hostile.server_port}\n'
        f'tls_certfile = "{cert}"\ntls_keyfile = "{key}"\n'
    )
    code, out = _cli(["--config", str(config), "--totp", "123456"], _env())
    assert code == 0 and "nothing was offered" in out, out
