"""The monitoring cycle on a project shaped like real data: live drift, whose rows count,
the retraining set, and the retrain gate's verdicts, through the logs the gateway wrote."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from mlgate.cli import app
from mlgate.data.schema import load_schema
from mlgate.data.validate import validate
from mlgate.monitor import check_drift
from mlgate.monitor.cycle import run_cycle
from mlgate.monitor.result import CycleResult
from mlgate.road.acts import promote
from mlgate.road.run import run
from monitor.conftest import Monitored
from monitor.loans import FEATURES, TARGET, applicants, serve


def _retraining_folder(config: Path) -> Path:
    (folder,) = (config.parent / ".mlgate" / "retrain").iterdir()
    return folder


def _retraining_notes(cycle: CycleResult) -> list[str]:
    """The cycle's notes but the estimate's (the loans traffic carries concept drift, which
    tests/monitor/test_estimated.py checks)."""
    return [n for n in cycle.notes if "concept drift" not in n]


def _registered_run(config: Path, version: str) -> dict[str, object]:
    """The run.json of the run registered as `version`."""
    for path in (config.parent / ".mlgate" / "runs").glob("*/*/run.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        if (result.get("registration") or {}).get("version") == version:
            return dict(result)
    raise AssertionError(f"no run registered version {version}")


# --- live drift and whose rows count ----------------------------------------------------------


def test_live_drift_reads_a_missing_category_as_missing(
    monitored: Monitored, tmp_path: Path
) -> None:
    """The gateway logs a missing category as `(missing)`; drift must not see a new one."""
    project = monitored.open()
    try:
        cycle = run_cycle(project, retrain=False)
        sent = tmp_path / "sent.csv"
        monitored.traffic.to_csv(sent, index=False)
        by_file = check_drift("models:/loans@champion", str(sent), project=project)
    finally:
        project.close()
    assert cycle.drift is not None
    live = {c.column: c for c in cycle.drift.columns}
    files = {c.column: c for c in by_file.columns}
    assert monitored.traffic["employment"].isna().sum() > 0
    assert live["employment"].unseen == []
    assert live["employment"].current_rows == files["employment"].current_rows
    assert live["employment"].p_value == files["employment"].p_value


def test_the_cycle_counts_only_the_rows_the_champion_served(monitored: Monitored) -> None:
    project = monitored.open()
    try:
        second = run(project.config, register=True, project=project)
        assert second.registration is not None
        assert second.registration.version == "2"
        promote(project, "2", reason="a newer champion", force=True)
    finally:
        project.close()
    assert serve(monitored.config, applicants(60, seed=5, drift=1.0)) == {"2"}
    cycle = monitored.cycle(retrain=False)
    assert (cycle.champion, cycle.rows, cycle.labelled) == ("2", 60, 60)
    assert cycle.status == "insufficient"
    assert cycle.reasons == ["60 served row(s) in the window; a verdict needs 200"]


# --- the retraining set -----------------------------------------------------------------------


def test_a_retraining_from_traffic_with_dropped_columns_gaps_and_repeats_passes_validation(
    monitored: Monitored,
) -> None:
    """Traffic lacks the dropped `year`, logs missing categories as `(missing)`, and
    repeats rows; the configured data keeps its year (40% missing, at most 50%)."""
    monitored.configure(monitor={"retrain": {"include_configured": True}})
    cycle = monitored.cycle()
    assert cycle.status == "degraded", cycle.reasons
    assert cycle.retrain_stage == "done", cycle.notes
    assert cycle.retrain_passed, cycle.notes
    assert (cycle.retrain_version, cycle.retrain_alias) == ("2", "challenger")
    folder = _retraining_folder(monitored.config)
    train = pd.read_parquet(folder / "train.parquet")
    test = pd.read_parquet(folder / "test.parquet")
    assert list(train.columns) == list(test.columns) == [*FEATURES, TARGET]
    assert "(missing)" not in set(train["employment"].dropna())
    assert train.duplicated().sum() > 0  # the traffic's repeats are kept
    schema = load_schema(folder / "schema.yaml")
    assert list(schema.columns) == [*FEATURES, TARGET]
    assert (schema.dataset.max_duplicates, schema.dataset.max_duplicate_rate) == (None, None)
    configured = load_schema(monitored.config.parent / "schema.yaml")
    assert schema.columns["employment"] == configured.columns["employment"]
    assert validate(train, schema).passed
    assert validate(test, schema).passed


def test_the_configured_training_data_is_still_held_to_the_duplicate_rule(
    monitored: Monitored,
) -> None:
    monitored.configure(monitor={"retrain": {"include_configured": True}})
    train = monitored.config.parent / "data" / "train.csv"
    frame = pd.read_csv(train)
    pd.concat([frame, frame.head(3)]).to_csv(train, index=False)
    cycle = monitored.cycle()
    assert (cycle.retrained, cycle.retrain_stage, cycle.retrain_version) == (False, "data", None)
    assert _retraining_notes(cycle) == [
        "the configured training data fails its schema, so nothing was retrained: "
        "train data: 3 duplicate row(s), at most 0 allowed"
    ]


def test_a_category_the_schema_does_not_allow_stops_the_retraining_and_says_where(
    monitored: Monitored,
) -> None:
    """The schema's rules other than duplicates hold for traffic: a new category is for a
    person to allow, not for the monitor to learn."""
    retired = applicants(30, seed=6, drift=1.0).assign(employment="retired")
    assert serve(monitored.config, retired) == {"1"}
    cycle = monitored.cycle()
    assert (cycle.retrain_stage, cycle.retrain_version) == ("validate", None)
    assert re.fullmatch(
        r"the retraining set failed validation, so no version was registered: train data: "
        r"employment: \d+ value\(s\) not an allowed category; test data: employment: \d+ "
        r"value\(s\) not an allowed category \(it is checked against schema\.yaml restricted "
        r"to the model's columns, without the duplicate-row rule: \S+/schema\.yaml\)",
        cycle.notes[-1],
    ), cycle.notes[-1]


def test_a_retraining_that_cannot_run_is_a_note_not_a_crash(monitored: Monitored) -> None:
    train = monitored.config.parent / "data" / "train.csv"
    train.write_text("", encoding="utf-8")
    cycle = monitored.cycle()
    assert cycle.status == "degraded"
    assert (cycle.retrained, cycle.retrain_stage, cycle.retrain_version) == (False, "error", None)
    assert _retraining_notes(cycle) == [
        f"the retraining could not run: {train}: the file is empty."
    ]


# --- the retrain gate -------------------------------------------------------------------------

GAIN = r"[+-]0\.\d{4}"


def test_the_floors_say_which_gate_failed_and_what_beat_champion_would_allow(
    monitored: Monitored, runner: CliRunner
) -> None:
    monitored.configure(gates={"min": {"accuracy": 0.95}})
    result = runner.invoke(app, ["monitor", "--once", "-c", str(monitored.config)])
    assert result.exit_code == 1, result.output
    text = " ".join(result.stdout.split())
    assert "version None" not in text
    assert "retrained: version 2 did not pass its gates (retrain gate: floors)" in text
    said = re.search(
        r"the retrained model, version 2, did not pass its gates \(monitor\.retrain_gate: "
        r"floors\): accuracy 0\.\d{4} < min 0\.95\. The floors policy holds a retrained model "
        r"to gates\.min and gates\.max as any run; with monitor\.retrain_gate: beat_champion "
        r"it would need to beat the champion on the held-out recent labelled rows instead; "
        rf"here it would pass: accuracy: gain over the champion ({GAIN}) on the 104 held-out "
        r"recent rows",
        text,
    )
    assert said is not None, text
    assert float(said.group(1)) > 0


def test_beat_champion_lets_through_a_retrained_model_that_beats_the_champion(
    monitored: Monitored,
) -> None:
    monitored.configure(
        gates={"min": {"accuracy": 0.95}}, monitor={"retrain_gate": "beat_champion"}
    )
    cycle = monitored.cycle()
    assert cycle.retrain_gate == "beat_champion"
    assert cycle.retrain_passed, cycle.notes
    assert (cycle.retrain_version, cycle.retrain_alias) == ("2", "challenger")
    gates = _registered_run(monitored.config, "2")["gates"]
    assert isinstance(gates, dict)
    reasons = [check["reason"] for check in gates["checks"]]
    assert not any("min 0.95" in reason for reason in reasons)
    (beaten,) = [r for r in reasons if "beat" in r]
    assert re.fullmatch(
        rf"accuracy: gain over the champion {GAIN} on the 104 held-out recent rows \(interval "
        rf"{GAIN} to {GAIN}, 95%; McNemar p [0-9.e-]+\); observed gain \+0\.\d{{4}} above 0, "
        r"point rule: beats the champion \(monitor\.retrain_gate: beat_champion\)",
        beaten,
    ), beaten


def test_beat_champion_says_which_gate_failed_and_what_it_allows(monitored: Monitored) -> None:
    """Retrained on the configured data alone, the model is the champion again: no gain."""
    monitored.configure(
        monitor={"retrain_gate": "beat_champion", "retrain": {"include_recent": False}}
    )
    cycle = monitored.cycle()
    assert (cycle.retrain_passed, cycle.retrain_version, cycle.retrain_alias) == (False, "2", None)
    beaten = (
        "accuracy: gain over the champion 0.0000 on the 104 held-out recent rows (interval "
        "0.0000 to 0.0000, 95%; McNemar p 1); observed gain 0.0000 not above 0, point rule: "
        "does not beat the champion (monitor.retrain_gate: beat_champion)"
    )
    assert cycle.retrain_reasons == [beaten]
    assert cycle.notes[-1] == (
        "the retrained model, version 2, did not pass its gates (monitor.retrain_gate: "
        f"beat_champion): {beaten}. beat_champion lets a retrained model through that beats "
        "the champion on the held-out recent labelled rows on accuracy, in place of the "
        "floors; the regression gates still hold"
    )
