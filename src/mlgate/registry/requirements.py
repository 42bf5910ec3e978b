"""The pip requirements of a saved model: mlgate and every library its objects come from,
pinned at the versions that trained it."""

from __future__ import annotations

from functools import cache
from importlib import metadata
from typing import Any

__all__ = ["model_requirements"]

#: Lineage entries that are not pip packages.
_NOT_PIP = frozenset({"python"})
#: Import names whose distribution is named otherwise, found without scanning every
#: installed distribution (which takes a third of a second).
_KNOWN = {"sklearn": "scikit-learn", "mlgate": "mlgate"}


def model_requirements(packages: dict[str, str], model: Any, *, onnx: bool = False) -> list[str]:
    """`name==version` lines: the lineage's `packages` as recorded at training, then the
    distributions `model`'s objects come from (XGBoost, LightGBM, a pipeline step's
    library) and, for an ONNX export, onnxruntime, pinned as installed here. mlgate
    itself always; a team's own module (stored with the version) is no requirement.
    Without a `model` (one that does not load), the lineage's packages only."""
    pins = {name: version for name, version in packages.items() if name not in _NOT_PIP}
    modules = set() if model is None else _modules(model)
    found = (_distribution(module) for module in modules)
    wanted = {name for name in found if name is not None} | {"mlgate"}
    if onnx:
        wanted.add("onnxruntime")
    for name in sorted(wanted - set(pins)):
        try:
            pins[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pins[name] = ""
    return [f"{name}=={version}" if version else name for name, version in sorted(pins.items())]


def _modules(model: Any) -> set[str]:
    """The top-level modules of `model` and of every estimator inside it (pipeline
    steps, column transformers' parts, a wrapped estimator)."""
    found = {type(model).__module__.partition(".")[0]}
    get_params = getattr(model, "get_params", None)
    if callable(get_params):
        try:
            params = get_params(deep=True)
        except Exception:  # a team's estimator whose get_params fails: its own module only
            params = {}
        for value in params.values():
            if hasattr(value, "fit") or hasattr(value, "transform"):
                found.add(type(value).__module__.partition(".")[0])
    return found - {"builtins", "__main__"}


def _distribution(module: str) -> str | None:
    """The installed distribution that provides import name `module`; None for a
    module no distribution installed (a team's own, stored with the version)."""
    if module in _KNOWN:
        return _KNOWN[module]
    try:
        metadata.distribution(module)
    except metadata.PackageNotFoundError:
        providers = _providers().get(module)
        return providers[0] if providers else None
    return module


@cache
def _providers() -> dict[str, list[str]]:
    return dict(metadata.packages_distributions())
