"""GitHub Actions workflows for an mlgate project: CI, scheduled training, PR check, deploy.

Actions are pinned to a major version, each workflow asks for the least
permissions it needs, and secrets are read only from `secrets.*`.

A pull request's code runs in the PR check (its estimator is imported, its
requirements installed), so that job gets no secret that can write: it trains
without registering and reads the champion through `MLGATE_REGISTRY_URI_READONLY`
(a read-only database user or tracking-server account), or compares with nothing
when that secret is unset. Only the jobs that run after a merge or on a schedule
(`train`, `deploy`) see the registry, state store and webhook secrets, and only
inside the `staging` and `production` environments, whose protection rules decide
who may run them; one concurrency group keeps their registrations one after
another. `deploy` runs the tests (`ci`, called) first, then staging, then
production, each ending with smoke requests to that environment's gateway.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlgate.config.models import PipelineConfig
from mlgate.errors import ConfigError
from mlgate.scaffold._files import refuse_links

__all__ = ["ENVIRONMENT", "STAGES", "WORKFLOWS", "render_workflows", "write_workflows"]

_SETUP = """\
      - uses: actions/checkout@v4
        with:
          persist-credentials: false
      - uses: actions/setup-python@v5
        with:
          python-version: "{python}"
          cache: pip
      - name: Install
        run: pip install -r requirements.txt
"""

#: The protected environment that holds the secrets which write (see the module's docstring).
ENVIRONMENT = "production"

_WRITER = """\
    environment: {environment}
    env:
      MLGATE_REGISTRY_URI: ${{{{ secrets.MLGATE_REGISTRY_URI }}}}
      MLGATE_STATE_URL: ${{{{ secrets.MLGATE_STATE_URL }}}}
      MLGATE_WEBHOOK_URL: ${{{{ secrets.MLGATE_WEBHOOK_URL }}}}
"""


def _keep(step: str, artifact: str, paths: list[str], *, days: int | None = None) -> str:
    """A step that uploads `paths` as the artifact `artifact`, even after a failed step."""
    listed = "".join(f"            {path}\n" for path in paths)
    kept = f"          retention-days: {days}\n" if days is not None else ""
    return (
        f"      - name: {step}\n"
        "        if: always()\n"
        "        uses: actions/upload-artifact@v4\n"
        "        with:\n"
        f"          name: {artifact}\n"
        "          path: |\n"
        f"{listed}{kept}"
    )


# On pushes to main, deploy.yml calls this workflow before it deploys.
CI = """\
name: ci
on:
  pull_request:
  workflow_call:
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-latest
    timeout-minutes: 30
    steps:
{setup}\
      - name: Validate the training data
        run: mlgate validate {train} -c {config}
      - name: Tests
        run: python -m pytest -q
"""

# Registrations from train and deploy wait for one another (never cancelled: a run that
# registered half way would leave its version for the next run to mark failed).
_ONE_WRITER = """\
concurrency:
  group: mlgate-registry-{name}
  cancel-in-progress: false
"""

TRAIN = """\
name: train
on:
  schedule:
    - cron: "17 3 * * 1"
  workflow_dispatch:
permissions:
  contents: read
{one_writer}\
jobs:
  train:
    runs-on: ubuntu-latest
    timeout-minutes: 60
{writer}\
    steps:
{setup}\
      - name: Validate, train, evaluate, gate, register
        run: mlgate run -c {config} --json > run.json
{keep_run}\
"""

# The pull request's code runs here: no secret that writes, whatever the branch.
PR_CHECK = """\
name: pr-model-check
on:
  pull_request:
permissions:
  contents: read
  pull-requests: write
jobs:
  model-check:
    runs-on: ubuntu-latest
    timeout-minutes: 60
    env:
      # Only whether the read-only registry secret is set, not its value.
      READ_ONLY_REGISTRY: ${{{{ secrets.MLGATE_REGISTRY_URI_READONLY != '' }}}}
    steps:
{setup}\
      - name: Train the pull request's model (registers nothing)
        run: mlgate run -c {config} --no-register -o candidate
      - name: Compare with the champion
        id: compare
        if: env.READ_ONLY_REGISTRY == 'true'
        env:
          MLGATE_REGISTRY_URI: ${{{{ secrets.MLGATE_REGISTRY_URI_READONLY }}}}
        run: >-
          mlgate compare -c {config}
          --baseline models:/{name}@champion --candidate candidate
          -o comparison.json --markdown report.md --html report.html
      - name: Report the candidate alone (no read-only registry to compare with)
        if: always() && env.READ_ONLY_REGISTRY != 'true' && hashFiles('candidate/summary.md') != ''
        run: cp candidate/summary.md report.md
      - name: Comment on the pull request
        if: always() && hashFiles('report.md') != ''
        env:
          GITHUB_TOKEN: ${{{{ secrets.GITHUB_TOKEN }}}}
        run: mlgate report comment --file report.md --label model-check
{keep_reports}\
      - name: Fail on a regression
        if: env.READ_ONLY_REGISTRY == 'true'
        run: mlgate gate comparison.json -c {config}
"""

# Tests first (ci.yml, called), then staging, then production: each environment holds its
# own secrets and protection rules (reviewers, wait timers) in the repository's settings.
DEPLOY = """\
name: deploy
on:
  push:
    branches: [main]
  workflow_dispatch:
permissions:
  contents: read
{one_writer}\
jobs:
  test:
    uses: ./.github/workflows/ci.yml
{stages}\
"""

_STAGE = """\
  {environment}:
    needs: {needs}
    runs-on: ubuntu-latest
    timeout-minutes: 60
{writer}\
      MLGATE_GATEWAY_URL: ${{{{ secrets.MLGATE_GATEWAY_URL }}}}
    steps:
{setup}\
      - name: Train, gate, register and start the rollout
        run: mlgate run -c {config} --deploy
      - name: Smoke requests against the gateway
        if: env.MLGATE_GATEWAY_URL != ''
        run: mlgate smoke "$MLGATE_GATEWAY_URL" -c {config}
      - name: No gateway to smoke-test
        if: env.MLGATE_GATEWAY_URL == ''
        run: >-
          echo "::warning::set the {environment} environment's MLGATE_GATEWAY_URL
          to smoke-test its gateway after each deploy"
      - name: Rollout status
        if: always()
        run: mlgate rollout status -c {config}
"""

#: The environments a deploy goes through, in order.
STAGES = ("staging", ENVIRONMENT)

WORKFLOWS = {"ci.yml": CI, "train.yml": TRAIN, "pr-model-check.yml": PR_CHECK, "deploy.yml": DEPLOY}


def render_workflows(
    config: PipelineConfig, *, config_path: str = "mlgate.yaml", python: str = "3.11"
) -> dict[str, str]:
    """Each workflow's file name and text for the project `config` describes."""
    _check_python(python)
    values = {
        "name": config.name,
        "config": config_path,
        "train": config.data.train,
        "python": python,
    }
    parts = {
        "setup": _SETUP.format(**values),
        "writer": _WRITER.format(environment=ENVIRONMENT),
        "stages": "".join(
            _STAGE.format(
                environment=stage,
                needs=before,
                writer=_WRITER.format(environment=stage),
                setup=_SETUP.format(**values),
                config=config_path,
            )
            for before, stage in zip(("test", *STAGES), STAGES, strict=False)
        ),
        "one_writer": _ONE_WRITER.format(**values),
        "keep_run": _keep("Keep the run", "mlgate-run", ["run.json", ".mlgate/runs/"], days=30),
        "keep_reports": _keep(
            "Keep the reports", "model-check", ["comparison.json", "report.md", "report.html"]
        ),
    }
    return {file: template.format(**parts, **values) for file, template in WORKFLOWS.items()}


#: The oldest Python mlgate runs on (pyproject's requires-python).
OLDEST_PYTHON = (3, 11)


def _check_python(python: str) -> None:
    """Refuse a CI Python that mlgate cannot be installed on (setup-python's own forms)."""
    found = re.fullmatch(r"3\.(\d+|x)(\.\d+)?", python)
    if found and (found[1] == "x" or (3, int(found[1])) >= OLDEST_PYTHON):
        return
    oldest = ".".join(map(str, OLDEST_PYTHON))
    raise ConfigError(
        f"--python {python!r}: mlgate needs Python {oldest} or later, and the workflows "
        "would fail to install it.",
        fix=f"Pass --python {oldest} (or a later 3.x, e.g. 3.12).",
    )


def write_workflows(
    config: PipelineConfig,
    folder: Path,
    *,
    config_path: str = "mlgate.yaml",
    python: str = "3.11",
) -> list[Path]:
    """Write (or refresh) the workflows into `folder`/.github/workflows; the paths written.

    A symbolic link on the way to any of them is refused before anything is written.
    """
    refuse_links(folder, [f".github/workflows/{file}" for file in WORKFLOWS])
    target = folder / ".github" / "workflows"
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for file, text in render_workflows(config, config_path=config_path, python=python).items():
        path = target / file
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
