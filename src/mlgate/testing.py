"""pytest helpers for a project's own model tests: fixtures and assertions that explain.

Installed as a pytest plugin (entry point `mlgate`), so in a project with an
mlgate.yaml these fixtures are there without any import:

- `mlgate_config`: the project's config (MLGATE_CONFIG or mlgate.yaml in the root);
- `mlgate_train_data`: its training data as a pandas DataFrame;
- `mlgate_run`: a model trained once per session into a temporary folder (not registered);
- `mlgate_champion`: the registered champion, loaded and verified (skipped if there is none).

The assertions fail with the metric, the value, the bound and, against the
champion, the paired interval of the difference.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mlgate.config.models import PipelineConfig
    from mlgate.data.schema import Schema
    from mlgate.registry.refs import LoadedModel
    from mlgate.results import RunResult

__all__ = [
    "assert_metric_at_least",
    "assert_metric_at_most",
    "assert_no_regression",
    "assert_valid",
    "mlgate_champion",
    "mlgate_config",
    "mlgate_run",
    "mlgate_train_data",
]


def _metrics(result: Any) -> dict[str, float | None]:
    if isinstance(result, dict):
        return result
    metrics = getattr(result, "metrics", None)
    if isinstance(metrics, dict):
        return metrics
    raise TypeError(f"expected a RunResult or a dict of metrics, got {type(result).__name__}")


def assert_metric_at_least(result: Any, metric: str, bound: float) -> None:
    """Fail unless `metric` of a run (or a metrics dict) is at least `bound`."""
    value = _metrics(result).get(metric)
    if value is None:
        raise AssertionError(f"{metric} was not measured (metrics: {sorted(_metrics(result))})")
    if value < bound:
        raise AssertionError(f"{metric} {value:.4f} is below the minimum {bound:g}")


def assert_metric_at_most(result: Any, metric: str, bound: float) -> None:
    """Fail unless `metric` of a run (or a metrics dict) is at most `bound`."""
    value = _metrics(result).get(metric)
    if value is None:
        raise AssertionError(f"{metric} was not measured (metrics: {sorted(_metrics(result))})")
    if value > bound:
        raise AssertionError(f"{metric} {value:.4f} is above the maximum {bound:g}")


def assert_valid(data: Any, schema: Schema | str | Path) -> None:
    """Fail with every violation when `data` (a frame or a file) breaks `schema`."""
    from mlgate.data.io import read_polars
    from mlgate.data.schema import Schema, load_schema
    from mlgate.data.validate import validate

    rules = schema if isinstance(schema, Schema) else load_schema(schema)
    frame = read_polars(data) if isinstance(data, str | Path) else data
    report = validate(frame, rules, source=str(data) if isinstance(data, str | Path) else None)
    if not report.passed:
        lines = [
            f"  {v.column or '(dataset)'}: {v.rule}: {v.message}"
            + (f" (rows {', '.join(str(e.row) for e in v.examples)})" if v.examples else "")
            for v in report.violations
        ]
        raise AssertionError(report.summary() + "\n" + "\n".join(lines))


def assert_no_regression(
    candidate: Any,
    *,
    against: str = "champion",
    metric: str = "accuracy",
    margin: float = 0.02,
    config: str | Path = "mlgate.yaml",
    rule: str = "point",
) -> None:
    """Fail when the candidate loses more than `margin` of `metric` against a registered model.

    `candidate` is a RunResult, a run folder or a model reference; `against` an
    alias (or `models:/...` reference) of the config's model.
    """
    from mlgate.config.models import GatesConfig
    from mlgate.gates.decide import decide
    from mlgate.project import Project
    from mlgate.road.compare import compare_refs

    ref = getattr(candidate, "output_dir", None) or str(candidate)
    with Project.open(config, create=False) as project:
        name = project.name
        baseline = against if against.startswith("models:/") else f"models:/{name}@{against}"
        comparison = compare_refs(project, baseline, ref)
    verdict = decide(
        comparison,
        GatesConfig(max_regression={metric: margin}, rule=rule),
    )
    failures = [c.reason for c in verdict.checks if not c.passed]
    if failures:
        raise AssertionError(f"regression against {baseline}: " + "; ".join(failures))


def pytest_configure(config: pytest.Config) -> None:
    """Keep MLflow's own SQLAlchemy deprecation noise out of a project's test report."""
    config.addinivalue_line(
        "filterwarnings", "ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning"
    )


def _config_path(rootpath: Path) -> Path:
    return Path(os.environ.get("MLGATE_CONFIG", rootpath / "mlgate.yaml"))


@pytest.fixture(scope="session")
def mlgate_config(pytestconfig: pytest.Config) -> PipelineConfig:
    """The project's pipeline config."""
    from mlgate.config.loader import load_config

    path = _config_path(pytestconfig.rootpath)
    if not path.exists():
        pytest.skip(f"no mlgate config at {path}")
    return load_config(path)


@pytest.fixture(scope="session")
def mlgate_train_data(mlgate_config: PipelineConfig) -> Any:
    """The project's training data as a pandas DataFrame."""
    from mlgate.data.io import read_pandas

    return read_pandas(mlgate_config.resolve(mlgate_config.data.train))


@pytest.fixture(scope="session")
def mlgate_run(
    mlgate_config: PipelineConfig, tmp_path_factory: pytest.TempPathFactory
) -> RunResult:
    """The project's model trained and gated once per session (not registered)."""
    from mlgate.road.run import run

    return run(mlgate_config, output=tmp_path_factory.mktemp("mlgate-run"))


@pytest.fixture(scope="session")
def mlgate_champion(mlgate_config: PipelineConfig) -> Iterator[LoadedModel]:
    """The registered champion, loaded and hash-checked; skipped when there is none."""
    from mlgate.errors import RegistryError
    from mlgate.project import Project
    from mlgate.registry.refs import load_ref

    with Project.open(mlgate_config, create=False) as project:
        try:
            champion = load_ref(f"models:/{project.name}@champion", catalog=project.catalog)
        except RegistryError as e:
            pytest.skip(f"no champion registered: {e}")
        yield champion
