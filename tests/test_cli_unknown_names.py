"""A bot or token name the user typed that does not exist is a usage error (exit 2) listing the
known names; sizing that cannot size a trade is refused naming the field."""

from __future__ import annotations

import pytest

from tradeguard.cli import main


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.err


LIMITS = ["--max-order-usd", "50", "--max-position-usd", "100", "--daily-loss-usd", "20"]


@pytest.mark.parametrize("command", ["enable", "disable", "token"])
def test_an_unknown_bot_is_a_usage_error_naming_the_known_bots(tmp_path, capsys, command):
    db = ["--db", f"sqlite:///{tmp_path / 'tg.db'}"]
    for name in ("alpha", "beta"):
        assert _run(["bot", "add", name, *LIMITS, *db], capsys)[0] == 0
    code, err = _run(["bot", command, "gamma", *db], capsys)
    assert code == 2, err
    assert "unknown bot 'gamma'" in err and "known: alpha, beta" in err


def test_the_known_names_listed_are_bounded(tmp_path, capsys):
    db = ["--db", f"sqlite:///{tmp_path / 'tg.db'}"]
    for i in range(12):
        assert _run(["bot", "add", f"b{i:02d}", *LIMITS, *db], capsys)[0] == 0
    code, err = _run(["bot", "enable", "Not A Name" * 20, *db], capsys)
    assert code == 2
    assert "b00, b01" in err and "b09" in err and "b10" not in err and "and 2 more" in err
    assert "Not A Name" * 7 not in err  # the typed name is cut too


@pytest.mark.parametrize("command", [["revoke", "nope"], ["totp-setup", "--name", "nope"]])
def test_an_unknown_token_is_a_usage_error_naming_the_known_tokens(tmp_path, capsys, command):
    db = ["--db", f"sqlite:///{tmp_path / 'tg.db'}"]
    create = ["token", "create", "--name", "grafana", "--role", "viewer", *db]
    assert _run(create, capsys)[0] == 0
    if command[0] == "revoke":
        command = [*command[:1], "--name", command[1]]
    code, err = _run(["token", *command, *db], capsys)
    assert code == 2, err
    assert "unknown token 'nope'" in err and "known: grafana" in err


@pytest.mark.parametrize(
    ("sizing", "needle"),
    [
        ("{}", "sizing: kind is required"),
        ('{"steps": [["0.5", "10"]]}', "sizing: kind is required"),
        ('{"kind": "table", "steps": [["0.5", "0"], ["0.8", "0"]]}', "every step sizes 0 USD"),
        ('{"kind": "linear", "min_score": "0", "max_score": "1", "min_usd": "0", '
         '"max_usd": "0"}', "max_usd > 0"),
    ],
    ids=["empty", "no-kind", "table-all-zero", "linear-zero"],
)  # fmt: skip
def test_sizing_that_cannot_size_a_trade_is_refused(tmp_path, capsys, sizing, needle):
    db = ["--db", f"sqlite:///{tmp_path / 'tg.db'}"]
    code, err = _run(["bot", "add", "alpha", *LIMITS, "--sizing", sizing, *db], capsys)
    assert code == 2 and needle in err, err
    code, err = _run(["bot", "add", "alpha", *LIMITS, "--sizing", '{"kind": "fixed"}', *db], capsys)
    assert code == 0, err
