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
from pydantic import ValidationError

from mlgate.config.models import PipelineConfig
from mlgate.config.problems import short_repr, validation_to_config_error
from mlgate.errors import ConfigError, SchemaError

__all__ = ["config_hash", "interpolate_env", "load_config", "read_yaml"]

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping instead of keeping the last."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.setdefault(key, key_node.start_mark.line)
        except TypeError:  # an unhashable key; construct_mapping reports it
            continue
        if first != key_node.start_mark.line:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"the key {key!r} is given twice (first at line {first + 1})",
                key_node.start_mark,
            )
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _unique_mapping,
)


def read_yaml(
    path: Path,
    *,
    what: str = "config",
    error: type[ConfigError] | type[SchemaError] = ConfigError,
) -> Any:
    """The parsed content of a YAML file, or an `error` naming the file and line."""
    if not path.exists():
        raise error(f"{what} file not found.", file=path, fix="Check the path.")
    if path.is_dir():
        raise error(f"expected a {what} file but found a folder.", file=path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise error(
            f"cannot read the {what} file: it is not UTF-8 text (byte {e.start}).",
            file=path,
            fix="Save it as UTF-8.",
        ) from e
    except OSError as e:
        raise error(f"cannot read the {what} file ({e.strerror or e})", file=path) from e
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise error(f"not valid YAML{at}: {problem}.", file=path, fix="Fix it there.") from e


def interpolate_env(value: Any, *, file: Path | None = None, field: str = "") -> Any:
    """The value with every `${VAR}` or `${VAR:-default}` in its strings replaced.

    As in the shell, `${VAR:-default}` also takes the default when VAR is set but empty.
    """
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            found = os.environ.get(name)
            if found is not None and (found or default is None):
                return found
            if default is not None:
                return default
            raise ConfigError(
                f"environment variable {name} is not set.",
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


def load_config(path: str | Path, *, data_files: bool = True) -> PipelineConfig:
    """The pipeline config in `path`, validated, with environment variables filled in.

    `data_files`: check that the local data and schema files exist (commands that only
    serve or roll out registered versions need none of them).
    """
    path = Path(path).expanduser().resolve()
    raw = read_yaml(path)
    if raw is None:
        raise ConfigError(
            "the config file is empty.",
            file=path,
            fix="It needs at least name, data (train, target) and model (estimator); "
            "`mlgate init` writes a complete one.",
        )
    if not isinstance(raw, dict):
        raise ConfigError(
            f"expected a mapping of keys (name:, data:, model:, ...) at the top level, "
            f"got a {_yaml_kind(raw)}.",
            file=path,
        )
    data = interpolate_env(raw, file=path)
    try:
        config = PipelineConfig.model_validate(data)
    except ValidationError as e:
        raise validation_to_config_error(e, PipelineConfig, file=path, raw=raw) from e
    config._source = path
    if data_files:  # serving and rollouts use what is registered, not the data on disk
        _check_files(config, path)
    return config


def _yaml_kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return f"single text value, {short_repr(value, 40)}"
    return f"single value, {short_repr(value, 40)}"


def _check_files(config: PipelineConfig, path: Path) -> None:
    """Raise one ConfigError naming every local data or schema file that is not there."""
    local = [("data.train", config.data.train), ("data.test", config.data.test)]
    local.append(("schema", config.schema_file))
    problems: list[tuple[str, str, Path, bool]] = []
    for field, location in local:
        if location is None or "://" in location:
            continue
        resolved = Path(config.resolve(location))
        if not resolved.is_file():
            problems.append((field, location, resolved, resolved.exists()))
    if not problems:
        return
    fix = f"Paths are relative to the config's folder, {path.parent}."
    if len(problems) == 1:
        field, location, resolved, exists = problems[0]
        raise ConfigError(
            "expected a file, found a folder." if exists else "file not found.",
            file=path,
            field=field,
            value=location,
            fix=f"{fix} Looked for {resolved}.",
        )
    lines = [
        f"{field}: {'a folder, not a file' if exists else 'file not found'} "
        f"(got {location!r}; looked for {resolved})"
        for field, location, resolved, exists in problems
    ]
    raise ConfigError(
        f"{len(problems)} problems:\n  - " + "\n  - ".join(lines) + f"\n{fix}", file=path
    )


def config_hash(config: PipelineConfig) -> str:
    """A sha256 of the config's content, stable across key order; identifies a training setup."""
    payload = json.dumps(config.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()
