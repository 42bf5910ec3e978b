"""Reading `mlgate.yaml`: safe YAML, `${ENV}` interpolation, errors that point at the field."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mlgate.config.models import PipelineConfig
from mlgate.errors import ConfigError

__all__ = [
    "config_hash",
    "interpolate_env",
    "load_config",
    "read_yaml",
    "validation_to_config_error",
]

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def read_yaml(path: Path, *, what: str = "config") -> Any:
    """The parsed content of a YAML file, or a ConfigError naming the file and line."""
    if not path.exists():
        raise ConfigError(f"{what} file not found", file=path, fix="Check the path.")
    if path.is_dir():
        raise ConfigError(f"expected a {what} file but found a folder", file=path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read the {what} file ({e})", file=path) from e
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(
            f"not valid YAML{at}: {problem}", file=path, fix="Fix the YAML syntax there."
        ) from e


def interpolate_env(value: Any, *, file: Path | None = None, field: str = "") -> Any:
    """The value with every `${VAR}` or `${VAR:-default}` in its strings replaced."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            found = os.environ.get(name)
            if found is not None:
                return found
            if default is not None:
                return default
            raise ConfigError(
                f"environment variable {name} is not set",
                file=file,
                field=field or None,
                fix=f"Export {name}, or write ${{{name}:-default}} to give a default.",
            )

        return _ENV.sub(substitute, value)
    if isinstance(value, Mapping):
        return {
            k: interpolate_env(v, file=file, field=f"{field}.{k}" if field else str(k))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [interpolate_env(v, file=file, field=f"{field}[{i}]") for i, v in enumerate(value)]
    return value


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _allowed_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> str | None:
    """The keys accepted at the place an unknown key was found."""
    current: Any = model
    for part in loc[:-1]:
        fields = getattr(current, "model_fields", None)
        if fields is None:
            return None
        by_alias = {(f.alias or n): f for n, f in fields.items()}
        info = by_alias.get(str(part))
        if info is None:
            return None
        annotation = info.annotation
        current = next(
            (
                a
                for a in getattr(annotation, "__args__", (annotation,))
                if hasattr(a, "model_fields")
            ),
            None,
        )
    fields = getattr(current, "model_fields", None)
    if not fields:
        return None
    return ", ".join(sorted(f.alias or n for n, f in fields.items()))


def validation_to_config_error(
    error: ValidationError, model: type[BaseModel], *, file: Path | None, root: str = ""
) -> ConfigError:
    """One ConfigError that lists every problem pydantic found, each with its field path."""
    problems: list[str] = []
    for item in error.errors():
        loc = tuple(item["loc"])
        field = _field_path(((root,) if root else ()) + loc)
        kind = item["type"]
        if kind == "extra_forbidden":
            allowed = _allowed_keys(model, loc)
            hint = f" (allowed: {allowed})" if allowed else ""
            problems.append(f"{field}: unknown key{hint}")
        elif kind == "missing":
            problems.append(f"{field}: required but missing")
        else:
            message = item["msg"].removeprefix("Value error, ")
            shown = item.get("input")
            value = "" if isinstance(shown, dict) else f" (got {shown!r})"
            problems.append(f"{field}: {message}{value}")
    if len(problems) == 1:
        return ConfigError(problems[0], file=file)
    return ConfigError(f"{len(problems)} problems:\n  - " + "\n  - ".join(problems), file=file)


def load_config(path: str | Path) -> PipelineConfig:
    """The pipeline config in `path`, validated, with environment variables filled in."""
    path = Path(path).expanduser().resolve()
    raw = read_yaml(path)
    if raw is None:
        raise ConfigError("the config file is empty", file=path, fix="Start from `mlgate init`.")
    if not isinstance(raw, dict):
        raise ConfigError(
            f"expected a mapping of keys at the top level, got a {type(raw).__name__}", file=path
        )
    data = interpolate_env(raw, file=path)
    try:
        config = PipelineConfig.model_validate(data)
    except ValidationError as e:
        raise validation_to_config_error(e, PipelineConfig, file=path) from e
    config._source = path
    _check_files(config, path)
    return config


def _check_files(config: PipelineConfig, path: Path) -> None:
    local = [("data.train", config.data.train), ("data.test", config.data.test)]
    local.append(("schema", config.schema_file))
    for field, location in local:
        if location is None or "://" in location:
            continue
        resolved = Path(config.resolve(location))
        if not resolved.is_file():
            raise ConfigError(
                "file not found" if not resolved.exists() else "expected a file, found a folder",
                file=path,
                field=field,
                value=location,
                fix=f"Paths are relative to the config's folder ({path.parent}); "
                f"looked for {resolved}.",
            )


def config_hash(config: PipelineConfig) -> str:
    """A sha256 of the config's content, stable across key order; identifies a training setup."""
    payload = json.dumps(config.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()
