"""Turning `model.estimator` and `model.params` into an estimator, or saying why not."""

from __future__ import annotations

import contextlib
import difflib
import importlib
import inspect
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mlgate.config.models import ModelConfig
from mlgate.errors import ConfigError

__all__ = ["resolve_estimator"]

FIELD = "model.estimator"


def _suggest(name: str, module: Any) -> str:
    classes = [n for n, v in vars(module).items() if inspect.isclass(v) and not n.startswith("_")]
    close = difflib.get_close_matches(name, classes, n=1, cutoff=0.6)
    if close:
        return f"Did you mean {close[0]}? Check the class name's spelling and case."
    return "Check the class name's spelling and case."


def _import(path: str, file: Path | None, field: str = FIELD, needs: str = "predict") -> type[Any]:
    """The class at import path `path`, refused unless it has fit and `needs` (predict for
    an estimator, transform for a pipeline step) and can be cloned."""
    module_name, _, class_name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # a module that exists may still fail on import, in any way
        detail = str(e) if isinstance(e, ImportError) else f"{type(e).__name__}: {e}"
        raise ConfigError(
            f"cannot import module {module_name!r} ({detail}).",
            file=file,
            field=field,
            value=path,
            fix="Check the spelling, or install the package that provides it.",
        ) from e
    found = getattr(module, class_name, None)
    if found is None:
        raise ConfigError(
            f"module {module_name!r} has no class {class_name!r}.",
            file=file,
            field=field,
            value=path,
            fix=_suggest(class_name, module),
        )
    if not inspect.isclass(found):
        raise ConfigError(
            f"{class_name!r} is a {type(found).__name__}, not an estimator class.",
            file=file,
            field=field,
            value=path,
            fix="Name a class with fit and predict, "
            "such as sklearn.ensemble.RandomForestClassifier.",
        )
    if needs == "predict" and path == "sklearn.pipeline.Pipeline":
        raise ConfigError(
            "a pipeline is written as its parts, not as sklearn.pipeline.Pipeline.",
            file=file,
            field=field,
            value=path,
            fix="List the transformers under model.pipeline (each with its import path and "
            "params) and name the final estimator under model.estimator.",
        )
    if needs == "transform":
        lacking = [m for m in ("fit", "transform") if not hasattr(found, m)]
        if lacking:
            raise ConfigError(
                f"{class_name} is not a transformer: it has no {' or '.join(lacking)} method.",
                file=file,
                field=field,
                value=path,
                fix="A pipeline step transforms the features, such as "
                "sklearn.preprocessing.PolynomialFeatures; the model goes under model.estimator.",
            )
    lacking = [m for m in ("fit", needs) if not hasattr(found, m)] if needs == "predict" else []
    if lacking:
        raise ConfigError(
            f"{class_name} is not a model that predicts: it has no {' or '.join(lacking)} method.",
            file=file,
            field=field,
            value=path,
            fix="Name a classifier or regressor, such as sklearn.ensemble.RandomForestClassifier; "
            "preprocessing is built from the schema (model.preprocessing).",
        )
    if not hasattr(found, "get_params"):
        raise ConfigError(
            f"{class_name} is not scikit-learn-compatible: it has no get_params method, "
            "so it cannot be cloned for cross-validation.",
            file=file,
            field=field,
            value=path,
            fix="Wrap it in a class that inherits sklearn.base.BaseEstimator.",
        )
    return found


def _takes_any_keyword(cls: type[Any]) -> bool:
    """Whether the constructor of `cls` takes **kwargs (XGBoost, LightGBM pass them on)."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return True
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())


def _accepted_params(cls: type[Any]) -> tuple[set[str], bool]:
    """The parameters `cls` is known to take, and whether it also takes any other keyword.

    A constructor with **kwargs hides most of its parameters from its signature, so
    those of a default instance (`get_params()`) are read as well.
    """
    open_ended = _takes_any_keyword(cls)
    known: set[str] = set()
    names = getattr(cls, "_get_param_names", None)
    if callable(names):
        try:
            known = set(names())
        except RuntimeError:  # scikit-learn refuses classes whose __init__ takes *args
            return known, True
    else:
        try:
            signature = inspect.signature(cls)
        except (TypeError, ValueError):
            return known, True
        known = {
            n
            for n, p in signature.parameters.items()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        }
    if open_ended:
        # A constructor that needs arguments (or fails in any way): its signature is all.
        with contextlib.suppress(Exception):
            known |= set(cls().get_params())
    return known, open_ended


def _param_field(message: str, params: dict[str, Any], where: str = "model.params") -> str:
    for key in params:
        if f"'{key}' parameter" in message or f"argument '{key}'" in message:
            return f"{where}.{key}"
    return where


def _objects_as_text(params: dict[str, Any]) -> str | None:
    """How to pass a function or an estimator as a parameter, when a rejected parameter was
    given one's import path as text (YAML has only text for them)."""
    named = [k for k, v in params.items() if isinstance(v, str) and "." in v and " " not in v]
    if not named:
        return None
    return (
        f"mlgate.yaml gives {', '.join(named)} as text; a parameter that takes a function "
        "or an estimator cannot be written there. Build the model in a function of your "
        "own module (def build(): return SelectFromModel(RandomForestClassifier(), ...)), "
        "beside mlgate.yaml, name it as model.estimator: mymodule:build, and train again."
    )


def resolve_estimator(
    model: ModelConfig, *, seed: int, file: Path | None = None, project: Path | None = None
) -> Any:
    """A new, unfitted estimator built from the config, its params checked before any fit;
    with `model.pipeline`, a scikit-learn Pipeline of those transformers and the estimator.

    `random_state` is set to `seed` wherever a step takes one and the config does not
    give it, so the same config trains the same model. Modules in the `project` folder
    are found as if it were on the import path, while they are imported.
    """
    with _on_path(project):
        return _resolve(model, seed, file)


@contextlib.contextmanager
def _on_path(folder: Path | None) -> Iterator[None]:
    """`folder` first on the import path within the block (when it is not already on it)."""
    entry = str(folder.resolve()) if folder is not None else None
    if entry is None or entry in sys.path:
        yield
        return
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


def _resolve(model: ModelConfig, seed: int, file: Path | None) -> Any:
    if ":" in model.estimator:
        estimator = _from_factory(model.estimator, model.params, seed, file)
    else:
        estimator = _build(_import(model.estimator, file), model.params, "model.params", seed, file)
    if not model.pipeline:
        return estimator
    from sklearn.pipeline import Pipeline

    steps = []
    for i, step in enumerate(model.pipeline):
        where = f"model.pipeline[{i}]"
        cls = _import(step.transformer, file, f"{where}.transformer", needs="transform")
        built = _build(cls, step.params, f"{where}.params", seed, file)
        steps.append((f"{i}_{cls.__name__.lower()}", built))
    return Pipeline([*steps, ("estimator", estimator)])


def _from_factory(path: str, given: dict[str, Any], seed: int, file: Path | None) -> Any:
    """The estimator the function at `path` (module:function) builds from the params."""
    module_name, _, name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # a module that exists may still fail on import, in any way
        detail = str(e) if isinstance(e, ImportError) else f"{type(e).__name__}: {e}"
        raise ConfigError(
            f"cannot import module {module_name!r} ({detail}).",
            file=file,
            field=FIELD,
            value=path,
            fix="Check the spelling; a module of the project sits beside mlgate.yaml.",
        ) from e
    factory = getattr(module, name, None)
    if not callable(factory) or inspect.isclass(factory):
        raise ConfigError(
            f"module {module_name!r} has no function {name!r}.",
            file=file,
            field=FIELD,
            value=path,
            fix="Name a function that returns an estimator, or write the class's import path "
            "with dots (module.Class).",
        )
    params = dict(given)
    try:
        accepted: set[str] = set(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        accepted = set()
    if "random_state" in accepted and "random_state" not in params:
        params["random_state"] = seed
    try:
        built = factory(**params)
    except TypeError as e:
        raise ConfigError(
            f"{name} rejects its params: {e}", file=file, field=_param_field(str(e), params)
        ) from e
    lacking = [m for m in ("fit", "predict", "get_params") if not hasattr(built, m)]
    if lacking:
        raise ConfigError(
            f"{name} returned a {type(built).__name__}, which has no "
            f"{' or '.join(lacking)} method: not a scikit-learn-compatible estimator.",
            file=file,
            field=FIELD,
            value=path,
            fix="Return an estimator, such as a sklearn.pipeline.Pipeline ending in a "
            "classifier or regressor.",
        )
    return built


#: Per library: the params that keep it from printing every iteration or writing files into
#: the working folder, and the params a user sets either with (then left alone).
_QUIET: dict[str, tuple[dict[str, Any], frozenset[str]]] = {
    # CatBoost logs each iteration and writes catboost_info/ into the current folder.
    "catboost": (
        {"verbose": False, "allow_writing_files": False},
        frozenset({"verbose", "logging_level", "silent", "verbose_eval", "allow_writing_files"}),
    ),
    # LightGBM prints its warnings and progress, [LightGBM] lines, from its own library.
    "lightgbm": ({"verbose": -1}, frozenset({"verbose", "verbosity"})),
}


def _lightgbm_params() -> set[str]:
    """Every parameter LightGBM's own library takes, by name and alias."""
    from lightgbm.basic import _ConfigAliases

    names: set[str] = set()
    for name, aliases in _ConfigAliases._get_all_param_aliases().items():
        names |= {name, *aliases}
    return names


#: Per library whose estimators pass unknown keywords on to it: every name it takes.
_NATIVE_PARAMS: dict[str, Callable[[], set[str]]] = {"lightgbm": _lightgbm_params}


def _refuse_typos(
    cls: type[Any], given: dict[str, Any], known: set[str], where: str, file: Path | None
) -> None:
    """Refuse what is plainly a misspelt parameter of an estimator that takes any keyword.

    Such an estimator hands unknown keywords to its library, which at best warns during
    the fit and trains with the default. Where the library lists every name it takes
    (LightGBM), any other is refused; elsewhere (XGBoost's booster parameters are not
    listed), a name close to one of the estimator's own, and not one of them, is.
    """
    library = cls.__module__.partition(".")[0]
    native: set[str] | None = None
    lister = _NATIVE_PARAMS.get(library)
    if lister is not None:
        with contextlib.suppress(Exception):  # a library version without the list
            native = lister()
    for key in given:
        if key in known or (native is not None and key in native):
            continue
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.8)
        if native is None and not close:
            continue
        hint = f"Did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"{cls.__name__} has no parameter {key!r}, and {library} would ignore it.",
            file=file,
            field=f"{where}.{key}",
            fix=f"{hint}Its parameters: {', '.join(sorted(known))}"
            + (f", and the names {library}'s own documentation lists." if native else "."),
            show_value=False,
        )


def _quiet(cls: type[Any], params: dict[str, Any]) -> dict[str, Any]:
    """`params` with the library's quiet defaults where the user set none of their kind."""
    found = _QUIET.get(cls.__module__.partition(".")[0])
    if found is None or found[1] & params.keys():
        return params
    return found[0] | params


def _build(cls: type[Any], given: dict[str, Any], where: str, seed: int, file: Path | None) -> Any:
    """An instance of `cls` with the `given` params (at `where` in the config), checked."""
    name = cls.__name__
    accepted, open_ended = _accepted_params(cls)
    if not open_ended:
        for key in given:
            if key not in accepted:
                raise ConfigError(
                    f"{name} has no parameter {key!r}.",
                    file=file,
                    field=f"{where}.{key}",
                    allowed=", ".join(sorted(accepted)) or "none",
                    show_value=False,
                )
    else:
        _refuse_typos(cls, given, accepted, where, file)
    params = dict(given)
    if "random_state" in accepted and "random_state" not in params and "random_seed" not in params:
        params["random_state"] = seed
    params = _quiet(cls, params)
    try:
        built = cls(**params)
    except (TypeError, ValueError) as e:
        raise ConfigError(
            f"{name} rejects its params: {e}",
            file=file,
            field=_param_field(str(e), params, where),
            fix=_objects_as_text(given),
        ) from e
    # scikit-learn checks params at fit; asking now refuses them before any data is read.
    # Estimators outside scikit-learn inherit the method without the constraints it reads.
    validate = getattr(built, "_validate_params", None)
    if callable(validate) and hasattr(built, "_parameter_constraints"):
        try:
            validate()
        except (TypeError, ValueError) as e:
            message = str(e)
            raise ConfigError(
                message,
                file=file,
                field=_param_field(message, params, where),
                fix=_objects_as_text(given),
            ) from e
    return built
