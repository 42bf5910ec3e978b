"""`mlgate init`: a project in the chapter's layout, ready to run and to push.

It writes the config, a schema, example data (unless bare), tests that call
mlgate, requirements, a README and the GitHub Actions workflows. It never
overwrites a file unless told to, and says which files are in the way; it never
writes through a symbolic link, even when told to (see `mlgate.scaffold._files`).
"""

from __future__ import annotations

from pathlib import Path

from mlgate.errors import ConfigError
from mlgate.scaffold._files import refuse_links
from mlgate.scaffold.example import EXAMPLE_FILES
from mlgate.scaffold.requirement import mlgate_requirement

__all__ = ["EXAMPLES", "init_project"]

EXAMPLES = ("credit",)

_BARE_CONFIG = """\
# mlgate.yaml: one model's road. Paths are relative to this file.
name: my-model
data:
  train: data/train.csv
  split: {test_size: 0.2, seed: 42, stratify: true}
  target: label
model:
  estimator: sklearn.ensemble.RandomForestClassifier
  params: {n_estimators: 100}
gates:
  min: {accuracy: 0.80}
  max_regression: {accuracy: 0.02}
  # max_latency_ratio: 1.5   # p99 against the champion's, served as the gateway serves both
# A regressor instead: estimator sklearn.ensemble.RandomForestRegressor, stratify: false,
# and gates on a regressor's metrics (r2, rmse, mae), e.g.
#   min: {r2: 0.70}
#   max: {rmse: 10.0}
#   max_regression: {rmse: 0.5}
"""

_TEST_DATA = '''\
"""Data validation tests: the data the model learns from keeps its schema."""

from pathlib import Path

import pytest

from mlgate.testing import assert_valid


def test_training_data_matches_the_schema(mlgate_config):
    schema = Path(mlgate_config.resolve(mlgate_config.schema_file or "schema.yaml"))
    if not schema.exists():
        pytest.skip("no schema yet: write one with `mlgate schema infer`")
    assert_valid(mlgate_config.resolve(mlgate_config.data.train), schema)


def test_training_data_has_a_target_to_learn(mlgate_train_data, mlgate_config):
    assert mlgate_train_data[mlgate_config.data.target].nunique() >= 2
'''

_TEST_MODEL = '''\
"""Model performance tests: the trained model meets the gates in mlgate.yaml."""

from mlgate.testing import assert_metric_at_least, assert_metric_at_most, assert_no_regression


def test_the_floors(mlgate_run, mlgate_config):
    for metric, bound in mlgate_config.gates.min.items():
        assert_metric_at_least(mlgate_run, metric, bound)


def test_the_ceilings(mlgate_run, mlgate_config):
    for metric, bound in mlgate_config.gates.max.items():
        assert_metric_at_most(mlgate_run, metric, bound)


def test_no_regression_against_the_champion(mlgate_run, mlgate_champion, mlgate_config):
    for metric, margin in mlgate_config.gates.max_regression.items():
        assert_no_regression(mlgate_run, against="champion", metric=metric, margin=margin)
'''

_TEST_INTEGRATION = '''\
"""Integration test: the whole road runs and says why it passed or failed."""


def test_the_road_runs_end_to_end(mlgate_run):
    assert mlgate_run.stage in ("done", "gate"), mlgate_run.reasons
    assert mlgate_run.passed, mlgate_run.reasons
'''

_README = """\
# {name}

A model delivered with [mlgate](https://pypi.org/project/mlgate/).

```bash
pip install -r requirements.txt
mlgate run              # validate → train → evaluate → gate → register
python -m pytest -q     # data validation, model performance, integration tests
mlgate serve            # serve the champion on http://127.0.0.1:8080
```

Workflows in `.github/workflows/`: `ci.yml` (tests), `train.yml` (weekly and on
demand), `pr-model-check.yml` (compare a pull request's model with the champion
and comment), `deploy.yml` (on merge: the tests, then staging, then production;
each registers, starts a rollout and smoke-tests that environment's gateway).

Secrets:

- `MLGATE_REGISTRY_URI_READONLY` (repository secret, optional): the registry
  with read-only credentials, for the pull-request check, which runs the pull
  request's code. Use a database user granted SELECT only (or a read-only
  tracking-server account), or leave it unset: the check then reports the
  candidate alone, without comparing it with the champion.
- `MLGATE_REGISTRY_URI`, `MLGATE_STATE_URL`, `MLGATE_WEBHOOK_URL` and
  `MLGATE_GATEWAY_URL` (secrets of the `staging` and `production`
  environments): read and written by `train.yml` and `deploy.yml` only. Create
  the environments under Settings → Environments and limit their deployment
  branches to `main`, so no other branch's code runs with them; add reviewers
  to `production` to approve each deploy there.
"""

_GITIGNORE = ".mlgate/\n__pycache__/\n.pytest_cache/\ncandidate/\n"


def _planned(folder: Path, bare: bool) -> dict[str, str | None]:
    """Files to write, relative to `folder`; None marks one written by a generator."""
    files: dict[str, str | None] = {
        "mlgate.yaml": None if not bare else _BARE_CONFIG,
        "requirements.txt": f"{mlgate_requirement()}\npytest>=8\n",
        ".gitignore": _GITIGNORE,
        "tests/test_data_validation.py": _TEST_DATA,
        "tests/test_model_performance.py": _TEST_MODEL,
        "tests/test_integration.py": _TEST_INTEGRATION,
    }
    if not bare:
        files |= dict.fromkeys(EXAMPLE_FILES)
    return files


def init_project(
    folder: Path,
    *,
    example: str | None = "credit",
    bare: bool = False,
    ci: str | None = "github",
    force: bool = False,
) -> list[Path]:
    """Scaffold a project in `folder`; the files written."""
    import yaml

    from mlgate.config.loader import load_config
    from mlgate.config.models import PipelineConfig
    from mlgate.scaffold.example import write_example
    from mlgate.scaffold.workflows import WORKFLOWS, write_workflows

    if example is not None and example not in EXAMPLES and not bare:
        raise ConfigError(
            "unknown example", field="--example", value=example, allowed=", ".join(EXAMPLES)
        )
    if ci not in (None, "github"):
        raise ConfigError("unknown CI system", field="--ci", value=ci, allowed="github")
    if folder.exists() and not folder.is_dir():
        raise ConfigError(
            "not a folder", file=folder, fix="Name a folder to create the project in."
        )
    planned = list(_planned(folder, bare))
    if ci:
        planned += [f".github/workflows/{name}" for name in WORKFLOWS]
    planned.append("README.md")
    refuse_links(folder, planned)  # also with --force, also a dangling link
    existing = [name for name in planned if (folder / name).exists()]
    if existing and not force:
        raise ConfigError(
            f"refusing to overwrite {len(existing)} existing file(s): {', '.join(existing)}",
            file=folder,
            fix="Pass --force to replace them, or choose an empty folder.",
        )
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if not bare:
        config_path = write_example(folder)
        written += [config_path, folder / "schema.yaml", *sorted((folder / "data").iterdir())]
    for name, text in _planned(folder, bare).items():
        if text is None:
            continue
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    if bare:
        # No data yet, so the file checks of load_config would fail; the model suffices.
        (folder / "data").mkdir(exist_ok=True)
        raw = yaml.safe_load((folder / "mlgate.yaml").read_text(encoding="utf-8"))
        config = PipelineConfig.model_validate(raw)
    else:
        config = load_config(folder / "mlgate.yaml")
    (folder / "README.md").write_text(_README.format(name=config.name), encoding="utf-8")
    written.append(folder / "README.md")
    if ci:
        written += write_workflows(config, folder)
    return written
