"""Pydantic's validation errors as problems a person can fix: the field, what is wrong, the value.

Each problem names the field by its path as written in the file
(`data.train`, `gates.min.accuracy`), says what the field allows in plain words
(the keys a mapping accepts, with the likely one for a typo; the choices of a
literal), and shows the value received, never one taken from the environment.
`validation_to_config_error` makes them one `ConfigError` (or `SchemaError`)
that lists them all.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from mlgate.errors import ConfigError, SchemaError

__all__ = ["short_repr", "validation_problems", "validation_to_config_error"]


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _unwrap(annotation: Any) -> Any:
    """The useful part of `X | None` or `Annotated[X, ...]`."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
        nested = [a for a in args if hasattr(a, "model_fields") or get_origin(a) is not None]
        if len(nested) == 1:
            return _unwrap(nested[0])
    return annotation


def _locate(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[Any, FieldInfo | None]:
    """The type expected at `loc` in `model` and the field that declares it, when known."""
    current: Any = model
    info: FieldInfo | None = None
    for part in loc:
        current = _unwrap(current)
        fields: dict[str, FieldInfo] | None = getattr(current, "model_fields", None)
        origin = get_origin(current)
        if fields is not None:
            by_alias = {(f.alias or n): f for n, f in fields.items()}
            info = by_alias.get(str(part)) or fields.get(str(part))
            if info is None:
                return None, None
            current = info.annotation
        elif origin in (dict, Mapping) and len(get_args(current)) == 2:
            current, info = get_args(current)[1], None
        elif origin is list and get_args(current):
            current, info = get_args(current)[0], None
        else:
            return None, None
    return _unwrap(current), info


def _allowed_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys accepted at the place an unknown key was found."""
    parent, _ = _locate(model, loc[:-1])
    fields: dict[str, FieldInfo] | None = getattr(parent, "model_fields", None)
    return sorted(f.alias or n for n, f in fields.items()) if fields else []


_PLAIN = {
    "dict_type": "must be a mapping of keys to values",
    "model_type": "must be a mapping of keys to values",
    "model_attributes_type": "must be a mapping of keys to values",
    "list_type": "must be a list, e.g. [a, b]",
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
}


def short_repr(value: Any, limit: int = 80) -> str:
    """`repr(value)`, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _raw_at(raw: Any, loc: tuple[int | str, ...]) -> Any:
    for part in loc:
        if isinstance(raw, Mapping):
            raw = raw.get(part)
        elif isinstance(raw, list) and isinstance(part, int) and 0 <= part < len(raw):
            raw = raw[part]
        else:
            return None
    return raw


def _common_start(first: str, second: str) -> int:
    """How many leading characters two strings share."""
    for i, (a, b) in enumerate(zip(first, second, strict=False)):
        if a != b:
            return i
    return min(len(first), len(second))


def _suggest(key: str, allowed: list[str]) -> str | None:
    """The allowed key that `key` is most likely a typo of, if any is close enough."""
    key = key.lower()
    scored = []
    for name in allowed:
        ratio = difflib.SequenceMatcher(None, key, name).ratio()
        shared = _common_start(key, name)
        inside = len(key) >= 3 and (key in name or name in key)
        if ratio >= 0.75 or shared >= max(3, 0.75 * len(key)) or inside:
            scored.append((ratio, name))
    return max(scored)[1] if scored else None


def _problem(
    item: ErrorDetails, model: type[BaseModel], loc: tuple[int | str, ...], template: Any
) -> str:
    kind = item["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc)
        close = _suggest(str(loc[-1]), allowed)
        hint = f"did you mean {close!r}? " if close else ""
        return f"unknown key ({hint}allowed: {', '.join(allowed)})" if allowed else "unknown key"
    if kind == "missing":
        _, info = _locate(model, loc)
        about = info.description.rstrip(".") if info and info.description else ""
        return f"required but missing ({about})" if about else "required but missing"
    if kind in _PLAIN:
        message = _PLAIN[kind]
    elif kind == "literal_error":
        message = f"must be one of {item.get('ctx', {}).get('expected', '')}"
    else:
        message = item["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    shown = item.get("input")
    if isinstance(template, str) and "${" in template:
        # The value came from the environment and may be a secret: show the template.
        return f"{message} (got {short_repr(template)} with its ${{...}} filled in)"
    if isinstance(shown, dict):
        return message
    if kind == "literal_error" and isinstance(shown, bool):
        return f"{message} (got {short_repr(shown)}){_quote_hint(model, loc, shown)}"
    return f"{message} (got {short_repr(shown)})"


#: The words YAML 1.1 reads unquoted as true or false.
_YAML_TRUE, _YAML_FALSE = ("yes", "on", "true", "y"), ("no", "off", "false", "n")


def _quote_hint(model: type[BaseModel], loc: tuple[int | str, ...], value: bool) -> str:
    """For a choice of words given a bool: YAML read an unquoted yes/no/on/off as one."""
    expected, _ = _locate(model, loc)
    if get_origin(expected) is not Literal:
        return ""
    choices = [c for c in get_args(expected) if isinstance(c, str)]
    if not choices:
        return ""
    same, other = (_YAML_TRUE, _YAML_FALSE) if value else (_YAML_FALSE, _YAML_TRUE)
    example = next(
        (c for c in choices if c in same), next((c for c in choices if c not in other), choices[0])
    )
    return (
        "; YAML reads yes, no, on and off unquoted as true or false: write it in quotes, "
        f"e.g. {example!r}"
    )


def validation_problems(
    error: ValidationError,
    model: type[BaseModel],
    *,
    raw: Any = None,
    strip: tuple[str, ...] = (),
) -> list[str]:
    """Each problem pydantic found as `field.path: what is wrong (got value)`.

    `raw` is the data as written, before `${ENV}` interpolation, so that values taken
    from the environment are never shown. `strip` is a leading part of every location
    that the file did not spell out (the `columns` of a flat schema).
    """
    problems: list[str] = []
    for item in error.errors():
        loc = tuple(item["loc"])
        written = loc[len(strip) :] if loc[: len(strip)] == strip else loc
        problem = _problem(item, model, loc, _raw_at(raw, written) if raw is not None else None)
        problems.append(f"{_field_path(written) or '(top level)'}: {problem}")
    return list(dict.fromkeys(problems))


def validation_to_config_error(
    error: ValidationError,
    model: type[BaseModel],
    *,
    file: Path | None,
    raw: Any = None,
    strip: tuple[str, ...] = (),
    kind: type[ConfigError] | type[SchemaError] = ConfigError,
) -> ConfigError | SchemaError:
    """One error that lists every problem pydantic found, each with its field path."""
    problems = validation_problems(error, model, raw=raw, strip=strip)
    if len(problems) == 1:
        return kind(_sentence(problems[0]), file=file)
    return kind(_sentence(f"{len(problems)} problems:\n  - " + "\n  - ".join(problems)), file=file)


def _sentence(text: str) -> str:
    """`text` ending as a sentence does: with a full stop unless it ends in punctuation."""
    return text if text.endswith((".", "!", "?", ":", ")")) else text + "."
