"""The reference docs are generated from the code, and stay equal to it."""

from __future__ import annotations

from pathlib import Path

from mlgate.cli.app import app
from mlgate.cli.reference import cli_reference, config_reference

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_cli_reference_is_current() -> None:
    committed = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert committed == cli_reference(app), "run `mlgate docs` and commit docs/cli.md"


def test_the_config_reference_is_current() -> None:
    committed = (DOCS / "config.md").read_text(encoding="utf-8")
    assert committed == config_reference(), "run `mlgate docs` and commit docs/config.md"


def test_every_command_is_documented() -> None:
    text = cli_reference(app)
    for command in ("run", "serve", "rollout start", "drift", "monitor", "init", "models promote"):
        assert f"### `mlgate {command}`" in text
