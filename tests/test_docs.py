"""The docs a new user reads stay true: the config reference and the Quick start commands."""

from __future__ import annotations

import re
from pathlib import Path

from tradeguard.configdoc import render

ROOT = Path(__file__).resolve().parents[1]


def test_configuration_reference_is_current():
    doc = (ROOT / "docs" / "configuration.md").read_text()
    assert doc.strip() == render().strip(), (
        "docs/configuration.md is stale: run `.venv/bin/python -m tradeguard.configdoc > "
        "docs/configuration.md`"
    )


def test_quick_start_has_exactly_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)\n```", section, re.S)
    assert len(commands) == 2
    run_cmd, test_cmd = commands
    assert "tradeguard run --until-end" in run_cmd and "pip install" in run_cmd
    assert test_cmd.strip() == "bash scripts/test.sh"
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_every_key_every_config_model_accepts_is_in_the_reference():
    """Walk the config's models from the top (a venue's `dex` table, the alert channels, ...):
    each one has a section of the reference and each of its keys a row there."""
    from tradeguard.config import Config
    from tradeguard.configdoc import SECTIONS, _models_in

    doc = render()
    seen: list[type] = []
    todo: list[type] = [Config] + [model for _, model, _ in SECTIONS]
    while todo:
        model = todo.pop(0)
        if model in seen:
            continue
        seen.append(model)
        titles = [title for title, m, _ in SECTIONS if m is model]
        assert titles, f"{model.__name__} (a config model) has no section in the reference"
        for title in titles:
            table = doc.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
            for key, info in model.model_fields.items():
                assert f"| `{key}` |" in table, f"{title}: key {key!r} missing"
                todo += _models_in(info.annotation)
    assert "DexVenueConfig" in {m.__name__ for m in seen}
    assert "PydanticUndefined" not in doc and "tradeguard.venues." not in doc
