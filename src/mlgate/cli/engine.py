"""The `--engine` option of the data commands, and the config's default for it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["EngineOption", "data_engine"]

EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="local (this process) or spark (the active SparkSession, else a local one) "
        "[default: the config's data.engine, else local].",
        show_default=False,
    ),
]


def data_engine(engine: str | None, config: Path | None) -> tuple[str, dict[str, str]]:
    """The engine a data command runs on (`--engine`, else the config's `data.engine`, else
    local) and the config's `data.spark` settings; a usage error when it cannot run."""
    from mlgate.data.spark import check_engine

    settings: dict[str, str] = {}
    chosen = engine
    if config is not None and config.is_file() and engine != "local":
        from mlgate.config.loader import load_config

        loaded = load_config(config, data_files=False)
        settings = dict(loaded.data.spark)
        chosen = engine or loaded.data.engine
    return check_engine(chosen or "local"), settings
