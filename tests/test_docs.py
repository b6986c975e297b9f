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
