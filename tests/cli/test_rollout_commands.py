"""`mlgate rollout start/status/promote/abort` and `mlgate run --deploy`, through CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mlgate.cli import app
from mlgate.config.settings import Settings
from mlgate.project import Project
from mlgate.road import rollouts
from mlgate.rollout.estimated import Estimated, EstimatedSide
from mlgate.state.rollout import get_rollout, rollout_events
from rollout.support import NAME, clean_environment, copy_project, registered_template


def invoke(runner: CliRunner, *args: str | Path) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def one_error(result: Result) -> str:
    """The single `error:` line a failed command printed, checked to be all it printed."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0].removeprefix("error: ")


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return registered_template(tmp_path_factory)


@pytest.fixture
def project(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the project with champion 1 and challenger 2; its mlgate.yaml."""
    clean_environment(monkeypatch)
    monkeypatch.setenv("MLGATE_ACTOR", "tester")
    return copy_project(template, tmp_path / "project")


@pytest.fixture
def champion_only(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the project as it was before the challenger was registered."""
    clean_environment(monkeypatch)
    monkeypatch.setenv("MLGATE_ACTOR", "tester")
    return copy_project(template, tmp_path / "project", champion_only=True)


def catalog(config: Path) -> Project:
    return Project(config.parent, Settings())


def test_start_with_strategy_and_steps(runner: CliRunner, project: Path) -> None:
    result = invoke(
        runner, "rollout", "start", "-c", project, "--strategy", "canary", "--steps", "10,100"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "credit-risk: canary rollout started at 10% (canary of version 2 against 1)",
        "a running `mlgate serve` (or `mlgate rollout watch`) advances it by itself",
    ]
    state = get_rollout(catalog(project).state, NAME)
    assert (state.status, state.weight, state.plan["config"]["steps"]) == (
        "running",
        10.0,
        [10.0, 100.0],
    )
    assert rollout_events(catalog(project).state, NAME)[0].actor == "tester"


def test_status_shows_step_weight_next_action_and_events(runner: CliRunner, project: Path) -> None:
    assert invoke(runner, "rollout", "start", "-c", project, "--steps", "10,100").exit_code == 0
    result = invoke(runner, "rollout", "status", "-c", project)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert (
        lines[0]
        == "credit-risk: running, canary: version 2 takes 10% of traffic, champion 1 the rest"
    )
    assert lines[1].startswith("step 1 of 2; next analysis in ")
    assert lines[1].endswith(
        " s: advance to 100% if every check passes; rolls back after 2 more failed analyses"
    )
    table = "\n".join(lines[2:])
    assert "event" in table
    assert "start" in table
    assert "started: canary" in table


def test_status_after_a_promotion_says_who_serves_in_whole_words(
    runner: CliRunner, project: Path
) -> None:
    assert invoke(runner, "rollout", "start", "-c", project, "--steps", "10,100").exit_code == 0
    reason = "the agreement with the champion held at every step of the canary " * 3
    assert invoke(runner, "rollout", "promote", "-c", project, "-r", reason).exit_code == 0
    result = invoke(runner, "rollout", "status", "-c", project)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].endswith("; the champion serves all traffic")
    assert "weight 0%" not in result.stdout
    promote = [line for line in lines if "│ promote" in line]
    assert promote
    assert promote[0].split("│")[3].strip() == "-"  # no challenger's share once it ended
    words = " ".join(cell.split("│")[4].strip() for cell in lines if cell.startswith("│"))
    assert " ".join(reason.split()) in " ".join(words.split())  # whole, not cut at 160


def test_status_json(runner: CliRunner, project: Path) -> None:
    assert invoke(runner, "rollout", "start", "-c", project, "--steps", "10,100").exit_code == 0
    result = invoke(runner, "rollout", "status", "-c", project, "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["state"]["status"] == "running"
    assert found["state"]["weight"] == 10.0
    assert found["next"]["step"] == 0
    assert found["next"]["of_steps"] == 2
    assert found["next"]["action"].startswith("advance to 100% if every check passes")
    assert [e["kind"] for e in found["events"]] == ["start"]


def test_status_shows_the_latest_estimated_performance(runner: CliRunner, project: Path) -> None:
    assert invoke(runner, "rollout", "start", "-c", project, "--steps", "10,100").exit_code == 0
    started = invoke(runner, "rollout", "status", "-c", project, "--json")
    assert json.loads(started.stdout)["estimated"] is None  # no analysis yet
    owner = catalog(project)
    state = get_rollout(owner.state, NAME)
    for challenger in (0.70, 0.81):  # the latest analysis is shown
        estimated = Estimated(
            metric="accuracy",
            champion=EstimatedSide(version="1", rows=180, value=0.9, low=0.86, high=0.94),
            challenger=EstimatedSide(
                version="2", rows=20, value=challenger, low=challenger - 0.1, high=0.9
            ),
            notes=["the champion has no rows of its own answered alongside the challenger's"],
        )
        figures = {"analysis": {"estimated": estimated.model_dump(mode="json")}}
        rollouts.record(owner, state, "analysis", "hold: too few labels", figures, "controller")
    owner.close()
    result = invoke(runner, "rollout", "status", "-c", project)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[2].startswith(
        "estimated accuracy: challenger 0.810 (0.710 to 0.900, 20 rows), champion on the rows "
        "it served 0.900 (0.860 to 0.940, 180 rows); the champion has no rows of its own "
        "answered alongside the challenger's (at "
    )
    assert lines[2].endswith("; rollout.analysis.estimated: advise, shown, not acted on)")
    found = json.loads(invoke(runner, "rollout", "status", "-c", project, "--json").stdout)
    assert found["estimated"]["mode"] == "advise"
    assert found["estimated"]["figures"]["challenger"]["value"] == 0.81
    # Once the rollout ended, its last estimate is still what its analyses saw.
    assert invoke(runner, "rollout", "abort", "-c", project).exit_code == 0
    ended = json.loads(invoke(runner, "rollout", "status", "-c", project, "--json").stdout)
    assert ended["estimated"]["figures"]["challenger"]["value"] == 0.81


def test_status_of_a_model_never_rolled_out(runner: CliRunner, project: Path) -> None:
    result = invoke(runner, "rollout", "status", "-c", project, "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert (found["state"]["status"], found["next"], found["events"]) == ("idle", None, [])


def test_promote(runner: CliRunner, project: Path) -> None:
    assert invoke(runner, "rollout", "start", "-c", project).exit_code == 0
    result = invoke(runner, "rollout", "promote", "-c", project)
    assert result.exit_code == 0, result.output
    assert result.stdout == "credit-risk: promoted version 2: promoted by hand\n"
    assert catalog(project).catalog.aliases(NAME) == {"champion": "2"}
    assert get_rollout(catalog(project).state, NAME).status == "promoted"


def test_abort_with_a_reason(runner: CliRunner, project: Path) -> None:
    assert invoke(runner, "rollout", "start", "-c", project).exit_code == 0
    result = invoke(runner, "rollout", "abort", "-c", project, "--reason", "p99 doubled")
    assert result.exit_code == 0, result.output
    assert result.stdout == "credit-risk: rolled back version 2: p99 doubled\n"
    assert catalog(project).catalog.aliases(NAME) == {"champion": "1"}
    events = rollout_events(catalog(project).state, NAME)
    assert [(e.kind, e.actor) for e in events] == [("start", "tester"), ("rollback", "tester")]


# --- errors: exit 2 and one line ---------------------------------------------------------


def test_start_without_a_challenger(runner: CliRunner, champion_only: Path) -> None:
    assert one_error(invoke(runner, "rollout", "start", "-c", champion_only)) == (
        "model 'credit-risk' has no challenger to roll out. "
        "`mlgate run` registers a version that passes its gates as challenger; "
        "`mlgate models challenger credit-risk VERSION` makes an earlier one challenger again."
    )


def test_start_twice(runner: CliRunner, project: Path) -> None:
    assert invoke(runner, "rollout", "start", "-c", project).exit_code == 0
    assert one_error(invoke(runner, "rollout", "start", "-c", project)) == (
        "a canary rollout of 'credit-risk' is already running. "
        "Finish it first: mlgate rollout promote, or mlgate rollout abort."
    )


@pytest.mark.parametrize("command", ["promote", "abort"])
def test_nothing_running(runner: CliRunner, project: Path, command: str) -> None:
    assert one_error(invoke(runner, "rollout", command, "-c", project)) == (
        "no rollout of 'credit-risk' is running (status: idle). "
        "Start one with mlgate rollout start."
    )


HINT = (
    "Steps are percentages that increase, and a canary's steps end at 100 (e.g. 5,25,50,100); "
    "strategies are blue-green, canary, shadow and ab."
)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            ["--steps", "10,abc"],
            "--steps: steps must be percentages separated by commas. Got '10,abc'.",
        ),
        (
            ["--steps", "50,10,100"],
            f"the rollout plan is not valid: steps: weights must increase (got [50.0, 10.0, "
            f"100.0]). {HINT}",
        ),
        (
            ["--steps", "10,50"],
            "the rollout plan is not valid: steps: a canary's last step must be 100 (all "
            f"traffic) (got [10.0, 50.0]). {HINT}",
        ),
        (
            ["--steps", "0,100"],
            f"the rollout plan is not valid: steps: weights must be in (0, 100] (got [0.0, "
            f"100.0]). {HINT}",
        ),
        (
            ["--strategy", "big-bang"],
            "the rollout plan is not valid: strategy: must be one of 'blue-green', 'canary', "
            f"'shadow' or 'ab' (got 'big-bang'). {HINT}",
        ),
        (
            ["--steps", "10,,100"],
            "--steps: steps must be percentages separated by commas. Got '10,,100'.",
        ),
        (
            ["--strategy", "shadow", "--steps", "10,100"],
            "--steps: steps apply to a canary; a shadow rollout has none. Drop --steps, or use "
            "--strategy canary. Shadow and A/B run for rollout.duration (or until "
            "rollout.sample_size); blue-green switches at once.",
        ),
    ],
)
def test_bad_plans(runner: CliRunner, project: Path, options: list[str], expected: str) -> None:
    assert one_error(invoke(runner, "rollout", "start", "-c", project, *options)) == expected
    assert get_rollout(catalog(project).state, NAME).status == "idle"


def test_a_bad_plan_is_named_before_a_missing_challenger(
    runner: CliRunner, champion_only: Path
) -> None:
    assert one_error(
        invoke(runner, "rollout", "start", "-c", champion_only, "--steps", "50,10,100")
    ).startswith("the rollout plan is not valid: steps: weights must increase")


def test_rollouts_need_no_data_files(runner: CliRunner, project: Path) -> None:
    import shutil

    shutil.rmtree(project.parent / "data")  # serving and rolling out use what is registered
    assert invoke(runner, "rollout", "start", "-c", project).exit_code == 0
    assert invoke(runner, "rollout", "status", "-c", project).exit_code == 0


# --- mlgate run --deploy ----------------------------------------------------------------


def test_run_deploy_starts_the_rollout_of_a_new_challenger(
    runner: CliRunner, champion_only: Path
) -> None:
    result = invoke(runner, "run", "--deploy", "-q", "-c", champion_only)
    assert result.exit_code == 0, result.output
    assert "registered models:/credit-risk/2 as challenger" in result.stdout
    assert result.stdout.rstrip().endswith(
        "rollout started: canary at 10% (a running gateway advances it; see mlgate rollout status)"
    )
    state = get_rollout(catalog(champion_only).state, NAME)
    assert (state.status, state.strategy, state.weight) == ("running", "canary", 10.0)
    assert (state.plan["champion"], state.plan["challenger"]) == ("1", "2")


def test_run_deploy_json(runner: CliRunner, champion_only: Path) -> None:
    result = invoke(runner, "run", "--deploy", "--json", "-c", champion_only)
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["registration"]["alias"] == "challenger"
    assert found["rollout"]["status"] == "running"
    assert found["rollout"]["plan"]["challenger"] == "2"


def test_run_deploy_replaces_the_rollout_of_an_older_challenger(
    runner: CliRunner, project: Path
) -> None:
    assert invoke(runner, "rollout", "start", "-c", project).exit_code == 0
    result = invoke(runner, "run", "--deploy", "-q", "-c", project)
    assert result.exit_code == 0, result.output
    state = get_rollout(catalog(project).state, NAME)
    assert (state.status, state.plan["challenger"]) == ("running", "3")
    kinds = [(e.kind, e.message) for e in rollout_events(catalog(project).state, NAME)]
    assert kinds == [
        ("start", "started: canary of version 2 against 1"),
        ("superseded", "ended: version 3 replaced version 2 as challenger"),
        ("start", "started: canary of version 3 against 1"),
    ]


def test_run_deploy_without_register_is_refused(runner: CliRunner, project: Path) -> None:
    assert one_error(invoke(runner, "run", "--deploy", "--no-register", "-c", project)) == (
        "--deploy needs the version registered; drop --no-register"
    )


def test_models_history_shows_the_rollout_events(runner: CliRunner, project: Path) -> None:
    assert invoke(runner, "rollout", "start", "-c", project).exit_code == 0
    assert invoke(runner, "rollout", "abort", "-c", project).exit_code == 0
    shown = invoke(runner, "models", "history", NAME, "--rollouts", "--json", "-c", project)
    assert shown.exit_code == 0, shown.output
    events = json.loads(shown.stdout)
    assert [(e["kind"], e["actor"]) for e in events] == [
        ("start", "tester"),
        ("rollback", "tester"),
    ]
    human = invoke(runner, "models", "history", NAME, "--rollouts", "-c", project)
    assert human.exit_code == 0, human.output
    assert "start" in human.stdout
    assert "rollback" in human.stdout


def test_watch_prints_each_analysis_until_interrupted(runner: CliRunner, project: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    assert invoke(runner, "rollout", "start", "-c", project).exit_code == 0
    watcher = subprocess.Popen(
        [sys.executable, "-m", "mlgate", "rollout", "watch", "-c", str(project), "--every", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            kinds = [e.kind for e in rollout_events(catalog(project).state, NAME)]
            if kinds.count("analysis") >= 2:
                break
            time.sleep(0.2)
        time.sleep(0.5)  # one more look by the watcher
    finally:
        watcher.send_signal(signal.SIGINT)
        stdout, stderr = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, stderr
    assert "watching the rollout of credit-risk; Ctrl-C stops" in stderr
    analyses = [line for line in stdout.splitlines() if " analysis (canary 10%): hold: " in line]
    assert len(analyses) >= 2, stdout
    assert "0 challenger request(s) so far; a verdict needs 20" in analyses[0]


def test_status_of_a_model_that_is_not_registered(runner: CliRunner, project: Path) -> None:
    project.write_text(
        project.read_text(encoding="utf-8").replace("name: credit-risk", "name: other"),
        encoding="utf-8",
    )
    assert one_error(invoke(runner, "rollout", "status", "-c", project)) == (
        "no registered model named 'other'. Registered: credit-risk."
    )


@pytest.mark.parametrize(
    ("every", "expected"),
    [
        ("soon", "--every: must be a duration such as 30s, 5m or 1h. Got 'soon'."),
        ("2h", "--every: must be between 100ms and 1h. Got '2h'."),
    ],
)
def test_watch_takes_a_duration(
    runner: CliRunner, project: Path, every: str, expected: str
) -> None:
    assert one_error(invoke(runner, "rollout", "watch", "-c", project, "--every", every)) == (
        expected
    )
