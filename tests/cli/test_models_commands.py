"""`mlgate run` registering versions, and `mlgate models` reading and moving them."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner, Result

from mlgate.cli import app
from mlgate.cli.output import out
from mlgate.project import Project
from mlgate.registry.catalog import Catalog
from mlgate.registry.refs import load_ref
from mlgate.serving.runtime import ServedModel

ENV = ("MLGATE_REGISTRY_URI", "MLFLOW_TRACKING_URI", "MLGATE_STATE_URL", "MLGATE_ACTOR")
FOREST = {
    "estimator": "sklearn.ensemble.RandomForestClassifier",
    "params": {"n_estimators": 10},
    "cv_folds": 0,
}
DUMMY = {"estimator": "sklearn.dummy.DummyClassifier", "cv_folds": 0}


def invoke(*args: str | Path, actor: str | None = None) -> Result:
    env = {"MLGATE_ACTOR": actor} if actor else None
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def one_error(result: Result) -> str:
    """The single `error:` line a failed command printed, checked to be all it printed."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0].removeprefix("error: ")


@dataclass(frozen=True)
class Scenario:
    """A project after three `mlgate run`s: good (v1), clearly worse (v2), as good (v3)."""

    config: Path
    runs: tuple[Result, Result, Result]

    @property
    def project(self) -> Path:
        return self.config.parent


def write_config(folder: Path, model: dict[str, object]) -> Path:
    config = {
        "name": "demo",
        "data": {"train": "train.csv", "test": "test.csv", "target": "label"},
        "schema": "schema.yaml",
        "model": model,
        "gates": {"max_regression": {"accuracy": 0.02}},
        "card": {"intended_use": "Screening demo loans.", "owners": ["risk-team"]},
    }
    path = folder / "mlgate.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Iterator[Scenario]:
    project = tmp_path_factory.mktemp("models") / "project"
    (project / ".mlgate").mkdir(parents=True)
    shutil.copyfile(mlflow_template, project / ".mlgate" / "mlflow.db")
    rng = np.random.default_rng(0)
    rows = 240
    frame = pd.DataFrame(
        {"x1": rng.normal(0, 1, rows).round(4), "colour": rng.choice(["red", "blue"], rows)}
    )
    signal = frame["x1"] + 0.8 * (frame["colour"] == "red")
    frame["label"] = np.where(signal + rng.normal(0, 0.3, rows) > 0.3, "yes", "no")
    frame.iloc[:160].to_csv(project / "train.csv", index=False)
    frame.iloc[160:].to_csv(project / "test.csv", index=False)
    schema = {"columns": {name: {} for name in frame}}
    (project / "schema.yaml").write_text(yaml.safe_dump(schema), encoding="utf-8")
    with pytest.MonkeyPatch.context() as env:
        for name in ENV:
            env.delenv(name, raising=False)
        runs = []
        for model in (FOREST, DUMMY, FOREST):
            config = write_config(project, model)
            runs.append(invoke("run", "-c", config, "-q", actor="ci"))
        yield Scenario(config, (runs[0], runs[1], runs[2]))


@pytest.fixture(autouse=True)
def _no_registry_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def copy(scenario: Scenario, tmp_path: Path) -> Path:
    """A copy of the scenario's project to move aliases in; returns its mlgate.yaml."""
    shutil.copytree(scenario.project, tmp_path / "project")
    return tmp_path / "project" / "mlgate.yaml"


def as_json(*args: str | Path) -> object:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- mlgate run registers every version ----------------------------------------------------


def test_a_good_first_version_is_registered_as_champion(scenario: Scenario) -> None:
    first = scenario.runs[0]
    assert first.exit_code == 0, first.output
    assert "demo: PASSED\n" in first.stdout
    assert "registered models:/demo/1 as champion\n" in first.stdout


def test_a_clearly_worse_version_fails_and_says_metric_loss_and_margin(scenario: Scenario) -> None:
    worse = scenario.runs[1]
    assert worse.exit_code == 1, worse.output
    assert "demo: FAILED at gate\n" in worse.stdout
    found = re.search(
        r"✗ gate: accuracy: loss against the champion \+(0\.\d{4}) .*observed loss "
        r"\+(0\.\d{4}) beyond the allowed 0\.02",
        worse.stdout,
    )
    assert found is not None, worse.stdout
    assert float(found[1]) > 0.1
    assert found[1] == found[2]
    assert "against the champion (models:/demo/1 (champion)):" in worse.stdout
    assert "registered models:/demo/2 (no alias: it failed)\n" in worse.stdout


def test_an_equally_good_version_becomes_challenger(scenario: Scenario) -> None:
    third = scenario.runs[2]
    assert third.exit_code == 0, third.output
    assert "registered models:/demo/3 as challenger\n" in third.stdout


# --- reading the registry ------------------------------------------------------------------


def test_models_list(scenario: Scenario) -> None:
    assert as_json("models", "list", "-c", scenario.config) == [
        {"name": "demo", "versions": 3, "latest": "3", "champion": "1", "challenger": "3"}
    ]
    human = invoke("models", "list", "-c", scenario.config)
    assert human.exit_code == 0, human.output
    assert re.search(r"│ demo\s+│ 3\s+│ 3\s+│ 1\s+│ 3\s+│", human.stdout), human.stdout


def test_models_show_lists_versions_with_verdicts_and_aliases(scenario: Scenario) -> None:
    versions = as_json("models", "show", "demo", "-c", scenario.config)
    assert isinstance(versions, list)
    assert [(v["version"], v["passed"], v["aliases"]) for v in versions] == [
        ("1", True, ["champion"]),
        ("2", False, []),
        ("3", True, ["challenger"]),
    ]
    human = invoke("models", "show", "models:/demo", "-c", scenario.config)
    assert human.exit_code == 0, human.output
    assert re.search(r"│ 2\s+│ -\s+│ failed\s+│ 0\.\d{4}", human.stdout), human.stdout


def test_models_show_one_version_by_alias_and_by_number(scenario: Scenario) -> None:
    champion = invoke("models", "show", "demo@champion", "-c", scenario.config)
    assert champion.exit_code == 0, champion.output
    assert champion.stdout.startswith("demo version 1\n  aliases: champion\n  verdict: passed\n")
    assert "config_hash: " in champion.stdout
    failed = invoke("models", "show", "demo/2", "-c", scenario.config)
    assert failed.exit_code == 0, failed.output
    assert failed.stdout.startswith(
        "demo version 2\n  aliases: -\n  verdict: FAILED\n"
        "    - accuracy: loss against the champion +"
    )
    info = as_json("models", "show", "models:/demo/2", "-c", scenario.config)
    assert isinstance(info, dict)
    assert (info["name"], info["version"], info["passed"], info["aliases"]) == (
        "demo",
        "2",
        False,
        [],
    )
    assert info["tags"]["mlgate.passed"] == "false"
    assert info["reasons"][0].startswith("accuracy: loss against the champion")
    assert set(info["metrics"]) >= {"accuracy", "f1", "training_time_s", "model_size_mb"}
    same = as_json("models", "show", "models:/demo@challenger", "-c", scenario.config)
    assert isinstance(same, dict)
    assert same["version"] == "3"


def test_models_history_after_the_runs(scenario: Scenario) -> None:
    events = as_json("models", "history", "demo", "-c", scenario.config)
    assert isinstance(events, list)
    assert [
        (e["alias"], e["from_version"], e["to_version"], e["action"], e["actor"], e["reason"])
        for e in events
    ] == [
        ("champion", None, "1", "register", "ci", "first version to pass its gates"),
        ("challenger", None, "3", "register", "ci", "passed its gates against the champion"),
    ]


def test_models_history_keeps_its_short_columns_whole_at_80_columns(copy: Path) -> None:
    """Too narrow for a table: each move on one line, its reason under it, wrapped between
    words; time, versions and actor never break."""
    why = "the p99 latency ratio of 3.2 exceeded the canary's limit of 1.5 on live traffic"
    moved = invoke("models", "promote", "demo", "3", "-r", why, "-c", copy, actor="on-call")
    assert moved.exit_code == 0, moved.output
    shown = invoke("models", "history", "demo", "-c", copy)
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert out.width == 80  # not a terminal, no COLUMNS: rich's default
    assert max(len(line) for line in lines) <= 80
    assert re.match(r"when \(UTC\) +alias +from +to +action +by +why$", lines[0]), lines[0]
    row = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  champion +1 +3 +promote +on-call"
    (at,) = [i for i, line in enumerate(lines) if re.fullmatch(row, line)]
    assert lines[at + 1].startswith("    the p99 latency ratio")
    assert " ".join(line.strip() for line in lines[at + 1 : at + 3]) == why


# --- promote and roll back -----------------------------------------------------------------


def test_promote_and_rollback_record_every_move(copy: Path) -> None:
    refused = one_error(invoke("models", "promote", "demo", "2", "-c", copy, actor="alice"))
    assert refused.startswith("version 2 of 'demo' failed its gates: accuracy: loss against")
    assert refused.endswith(" Pass --force to promote it anyway.")

    moved = invoke("models", "promote", "demo", "3", "-r", "ship it", "-c", copy, actor="alice")
    assert moved.exit_code == 0, moved.output
    assert moved.stdout == "demo: champion 1 → 3 (by alice)\n"
    again = invoke("models", "promote", "demo", "3", "-c", copy, actor="alice")
    assert again.stdout == "demo: version 3 is already the champion; nothing moved\n"
    forced = invoke(
        "models", "promote", "demo", "2", "--force", "-r", "hotfix", "-c", copy, actor="bob"
    )
    assert forced.stdout == "demo: champion 3 → 2 (by bob)\n"

    back = invoke("models", "rollback", "demo", "-r", "errors up", "-c", copy, actor="carol")
    assert back.stdout == "demo: champion 2 → 3 (rolled back by carol)\n"
    back = invoke("models", "rollback", "demo", "-c", copy, actor="carol")
    assert back.stdout == "demo: champion 3 → 1 (rolled back by carol)\n"
    assert one_error(invoke("models", "rollback", "demo", "-c", copy)) == (
        "no champion of 'demo' came before version 1, so there is nothing to roll back to. "
        "Promote a version instead: mlgate models promote demo VERSION."
    )
    events = as_json("models", "history", "demo", "-c", copy)
    assert isinstance(events, list)
    assert [
        (e["alias"], e["from_version"], e["to_version"], e["action"], e["actor"], e["reason"])
        for e in events
    ] == [
        ("champion", None, "1", "register", "ci", "first version to pass its gates"),
        ("challenger", None, "3", "register", "ci", "passed its gates against the champion"),
        ("champion", "1", "3", "promote", "alice", "ship it"),
        ("challenger", "3", None, "promote", "alice", "became champion"),
        ("champion", "3", "2", "promote", "bob", "hotfix"),
        ("champion", "2", "3", "rollback", "carol", "errors up"),
        ("champion", "3", "1", "rollback", "carol", "rolled back by hand"),
    ]
    times = [e["at"] for e in events]
    assert times == sorted(times)
    human = invoke("models", "history", "demo", "-c", copy)
    assert human.exit_code == 0, human.output
    assert human.stdout.count("rollback") == 2


def test_a_version_can_be_made_challenger_again(copy: Path) -> None:
    # The registry as it stands: champion 1, challenger 3, version 2 failed its gates.
    assert invoke("models", "challenger", "demo", "3", "-c", copy).stdout == (
        "demo: version 3 is already the challenger; nothing moved\n"
    )
    assert one_error(invoke("models", "challenger", "demo", "1", "-c", copy)) == (
        "version 1 of 'demo' is the champion; a challenger must be another version. "
        "Pick another version: mlgate models show demo."
    )
    refused = one_error(invoke("models", "challenger", "demo", "2", "-c", copy))
    assert refused.endswith(" Pass --force to make it the challenger anyway.")
    moved = invoke("models", "challenger", "demo", "2", "--force", "-c", copy, actor="dan")
    assert moved.stdout == (
        "demo: challenger 3 → 2 (by dan); start a rollout with mlgate rollout start\n"
    )
    events = as_json("models", "history", "demo", "-c", copy)
    assert isinstance(events, list)
    last = events[-1]
    assert (last["alias"], last["from_version"], last["to_version"], last["action"]) == (
        "challenger",
        "3",
        "2",
        "nominate",
    )


def test_rollback_with_no_earlier_champion(copy: Path) -> None:
    assert one_error(invoke("models", "rollback", "demo", "-c", copy)) == (
        "no champion of 'demo' came before version 1, so there is nothing to roll back to. "
        "Promote a version instead: mlgate models promote demo VERSION."
    )


# --- mlgate models mlmodel: MLflow's view of versions registered before it -----------------


def test_a_version_with_an_mlmodel_is_refused_unless_forced(scenario: Scenario) -> None:
    catalog = Project(scenario.project).catalog
    source = catalog.version("demo", "1").source
    assert one_error(invoke("models", "mlmodel", "demo", "1", "-c", scenario.config)) == (
        f"demo version 1 already has an MLmodel ({source}/MLmodel), so MLflow loads it as "
        "it is. Pass --force to write it again (say, one an older mlgate wrote, whose "
        "signature gave labels only)."
    )


def _gateway_answers(catalog: Catalog, rows: pd.DataFrame) -> tuple[list[object], np.ndarray]:
    """What the gateway's loader answers for `rows` of version 1."""
    served = ServedModel.load(load_ref("models:/demo/1", catalog=catalog))
    columns = {
        name: rows[name].to_numpy(np.float64 if name in served.numeric else object)
        for name in served.features
    }
    answer = served.predict(columns)
    assert answer.probabilities is not None
    return answer.labels, answer.probabilities


def test_an_old_version_gets_an_mlmodel_that_mlflow_loads(
    scenario: Scenario, tmp_path: Path, mlflow_template: Path
) -> None:
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    project = tmp_path / "project"
    (project / ".mlgate").mkdir(parents=True)
    shutil.copyfile(mlflow_template, project / ".mlgate" / "mlflow.db")
    for name in ("train.csv", "test.csv", "schema.yaml"):
        shutil.copyfile(scenario.project / name, project / name)
    config = write_config(project, FOREST)
    assert invoke("run", "-c", config, "-q").exit_code == 0
    catalog = Project(project).catalog
    # What a version registered before mlgate wrote the MLmodel holds in the store.
    stored = catalog.local_path(catalog.version("demo", "1"))
    written = ["MLmodel", "conda.yaml", "input_example.json", "python_env.yaml"]
    written += ["requirements.txt", "serving_input_example.json"]
    for name in written:
        (stored / name).unlink()
    own = {p.name: p.read_bytes() for p in stored.iterdir()}
    rows = pd.read_csv(project / "test.csv").drop(columns="label")
    mlflow.set_tracking_uri(catalog.uri)
    mlflow.set_registry_uri(catalog.uri)
    try:
        with pytest.raises(MlflowException, match=r'Could not find an "MLmodel"'):
            mlflow.pyfunc.load_model("models:/demo/1")
        result = invoke("models", "mlmodel", "demo", "1", "-c", config)
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == [
            f"demo version 1: MLmodel written ({', '.join(written)})",
            "  mlflow.pyfunc.load_model('models:/demo/1') loads it with mlgate's checks",
        ]
        got = mlflow.pyfunc.load_model("models:/demo/1").predict(rows)
        labels, probabilities = _gateway_answers(catalog, rows)
        assert set(labels) == {"yes", "no"}
        assert got["label"].tolist() == labels
        assert got["probabilities"].tolist() == probabilities.tolist()
        assert {p.name: p.read_bytes() for p in stored.iterdir() if p.name in own} == own
        assert as_json("models", "mlmodel", "demo", "1", "--force", "-c", config) == {
            "name": "demo",
            "version": "1",
            "uri": "models:/demo/1",
            "files": written,
            "replaced": True,
        }
        # A version whose files fail their sha256 gets nothing, --force or not.
        mlmodel = (stored / "MLmodel").read_bytes()
        skops = stored / "model.skops"
        skops.write_bytes(skops.read_bytes() + b"\0")
        refused = one_error(invoke("models", "mlmodel", "demo", "1", "--force", "-c", config))
        assert refused.startswith(f"{skops}: the model file's sha256 does not match")
        assert (stored / "MLmodel").read_bytes() == mlmodel
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
        mlflow.set_registry_uri(None)  # type: ignore[arg-type]


# --- mistakes: one clear line, exit 2 ------------------------------------------------------


def test_every_registered_version_has_a_model_card(scenario: Scenario, tmp_path: Path) -> None:
    catalog = Project(scenario.project, create=False).catalog
    for version, verdict in (("1", "PASSED"), ("2", "FAILED at gate"), ("3", "PASSED")):
        stored = (catalog.local_path(catalog.version("demo", version)) / "model_card.md").read_text(
            encoding="utf-8"
        )
        assert stored.startswith("# Model card: demo, run ")  # kept with the version
        result = invoke("models", "card", "demo", version, "-c", scenario.config)
        assert result.exit_code == 0, result.output
        text = result.stdout
        assert text.startswith(f"# Model card: demo version {version}\n")
        for title in (
            "Intended use", "Data lineage", "Schema", "Metrics on the test set", "Slices",
            "Gate verdict", "Permutation importance", "Drift reference profile",
            "Estimation without labels", "Rollout history",
        ):  # fmt: skip
            assert f"\n## {title}\n" in text, title
        assert "- Intended use: Screening demo loans.\n- Owners: risk-team" in text
        assert re.search(
            r"\| accuracy \| 0\.\d{4} \| 0\.\d{4} to 0\.\d{4} \(Wilson, 80 rows\)", text
        )
        assert f"## Gate verdict\n\n- {verdict}" in text
        # 80 test rows: too few to calibrate the classifier's confidence on, and it says so.
        assert "- Not usable: 80 held-out rows with probabilities; a calibration needs 100." in text
        assert "| x1 | numeric |" in text
        assert "| colour | categorical |" in text
    two = invoke("models", "card", "demo", "2", "-c", scenario.config).stdout
    assert "- Against models:/demo/1 (champion) on the same 80 rows:" in two
    assert "McNemar's exact test" in two
    assert "No alias has moved to or from this version yet." in two
    three = invoke("models", "card", "demo", "3", "-c", scenario.config).stdout
    assert re.search(r"\| challenger \| - \| 3 \| register \| ci \|", three)
    page = tmp_path / "card.html"
    written = invoke("models", "card", "demo", "1", "--html", "-o", page, "-c", scenario.config)
    assert written.exit_code == 0, written.output
    assert page.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert "<h2>Permutation importance</h2>" in page.read_text(encoding="utf-8")
    again = invoke("models", "card", "demo", "2", "-o", page, "-c", scenario.config)
    assert one_error(again) == (
        f"{page}: refusing to overwrite an existing file. Pass --force to replace it, or "
        "another -o."
    )
    assert page.read_text(encoding="utf-8").startswith("<!doctype html>")
    forced = invoke("models", "card", "demo", "2", "-o", page, "--force", "-c", scenario.config)
    assert forced.exit_code == 0, forced.output
    assert page.read_text(encoding="utf-8").startswith("# ")
    both = invoke("models", "card", "demo", "1", "--html", "--markdown", "-c", scenario.config)
    assert one_error(both) == "--html and --markdown are two forms of the same card; pass one."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "nope"), "no registered model named 'nope'. Registered: demo."),
        (("show", "models:/nope"), "no registered model named 'nope'. Registered: demo."),
        (("show", "nope@champion"), "no registered model named 'nope'. Registered: demo."),
        (("history", "nope"), "no registered model named 'nope'. Registered: demo."),
        (("promote", "nope", "1"), "no registered model named 'nope'. Registered: demo."),
        (("rollback", "nope"), "no registered model named 'nope'. Registered: demo."),
        (("show", "demo/9"), "model 'demo' has no version '9'. Versions: 1, 2, 3."),
        (("mlmodel", "demo", "9"), "model 'demo' has no version '9'. Versions: 1, 2, 3."),
        (("mlmodel", "nope", "1"), "no registered model named 'nope'. Registered: demo."),
        (("promote", "demo", "abc"), "model 'demo' has no version 'abc'. Versions: 1, 2, 3."),
        (
            ("show", "demo@staging"),
            "model 'demo' has no version with alias 'staging'. Aliases: challenger → 3, "
            "champion → 1. Aliases are set by `mlgate run` and `mlgate models promote`.",
        ),
        (
            ("show", "models:/demo/abc"),
            "cannot read the model reference 'models:/demo/abc'. Write models:/NAME/VERSION, "
            "models:/NAME@ALIAS (or NAME@ALIAS), or a run folder.",
        ),
        (
            ("show", "models:/x/"),
            "cannot read the model reference 'models:/x/'. Write models:/NAME/VERSION, "
            "models:/NAME@ALIAS (or NAME@ALIAS), or a run folder.",
        ),
    ],
)
def test_unknown_names_and_malformed_references(
    scenario: Scenario, args: tuple[str, ...], message: str
) -> None:
    assert one_error(invoke("models", *args, "-c", scenario.config)) == message


def test_a_folder_without_a_registry_is_not_given_one(tmp_path: Path) -> None:
    config = tmp_path / "mlgate.yaml"
    config.write_text("name: other\n", encoding="utf-8")
    assert one_error(invoke("models", "list", "-c", config)) == (
        f"no model registry in {tmp_path.resolve()}: there is no .mlgate/mlflow.db. Run "
        "`mlgate run` in the project first, pass -c with the project's mlgate.yaml, or set "
        "MLGATE_REGISTRY_URI."
    )
    assert list(tmp_path.iterdir()) == [config]


def test_a_registry_uri_naming_no_mlflow_database_is_one_error_and_nothing_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    garbage = tmp_path / "garbage.db"
    garbage.write_text("not a database\n", encoding="utf-8")
    monkeypatch.setenv("MLGATE_REGISTRY_URI", f"sqlite:///{garbage}")
    message = one_error(invoke("models", "list"))
    assert message.startswith(f"the registry at sqlite:///{garbage} cannot be read as an MLflow")
    assert "file is not a database" in message
    assert garbage.read_text(encoding="utf-8") == "not a database\n"
