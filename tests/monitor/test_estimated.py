"""The monitor's accuracy estimated before labels: it tracks the realized accuracy within
the interval it states where only the inputs moved, a floor judges it before labels, and
where the relation between features and label moved (the example data's drift changes
what drives defaults) the gap is reported as concept drift."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlgate.config.loader import load_config
from mlgate.road.run import run
from monitor.conftest import Monitored, _clean_environment
from monitor.loans import applicants, serve, write_project


def test_the_estimate_tracks_realized_accuracy_where_only_the_inputs_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_environment(monkeypatch)
    config = write_project(tmp_path / "project")
    assert run(load_config(config), register=True).passed
    # Fresh applicants drawn as the training data was, the younger half only: the rows
    # move within what the model learned, the rule that labels them does not.
    traffic = applicants(900, seed=31)
    assert serve(config, traffic[traffic["age"] < traffic["age"].median()].head(400)) == {"1"}
    cycle = Monitored(config, traffic).cycle(retrain=False)
    estimate = cycle.estimated_accuracy
    assert estimate is not None, cycle.estimate_note
    assert cycle.live_accuracy is not None
    assert estimate.rows == cycle.rows
    assert estimate.low <= cycle.live_accuracy <= estimate.high
    assert cycle.estimate_gap is not None
    assert not any("concept drift" in note for note in cycle.notes)
    # Binary: F1 of class 1 and ROC AUC beside accuracy, from the same log alone.
    binary = cycle.estimated_binary
    assert binary is not None
    assert binary.rows == cycle.rows
    assert binary.f1_low <= binary.f1 <= binary.f1_high
    assert binary.roc_auc is not None
    assert binary.roc_auc_low is not None
    assert binary.roc_auc_high is not None
    assert 0.5 < binary.roc_auc_low <= binary.roc_auc <= binary.roc_auc_high


def test_concept_drift_shows_as_a_gap_between_estimate_and_realized(
    monitored: Monitored,
) -> None:
    cycle = monitored.cycle(retrain=False)
    estimate = cycle.estimated_accuracy
    assert estimate is not None
    assert cycle.live_accuracy is not None
    assert cycle.live_accuracy < estimate.low
    assert cycle.estimate_gap is not None
    assert cycle.estimate_gap < 0
    (note,) = [n for n in cycle.notes if "concept drift" in n]
    assert note.startswith(
        f"realized accuracy {cycle.live_accuracy:.3f} on {cycle.labelled} labelled rows is "
        "outside the estimate's interval for them"
    )


def test_an_estimate_wholly_below_the_floor_degrades_before_labels(monitored: Monitored) -> None:
    first = monitored.cycle(retrain=False)
    assert first.estimated_accuracy is not None
    floor = round(first.estimated_accuracy.high + 0.01, 3)
    # Too few labels for live accuracy: the estimate is all there is.
    monitored.configure(monitor={"accuracy_floor": floor, "min_labels": 100_000})
    cycle = monitored.cycle(retrain=False)
    assert cycle.live_accuracy is None
    assert cycle.status == "degraded"
    assert re.fullmatch(
        rf"estimated accuracy 0\.\d{{3}} \(95% interval 0\.\d{{3}} to 0\.\d{{3}}\) on "
        rf"{cycle.rows} rows without enough labels is below the floor {floor:g}",
        cycle.reasons[-1],
    ), cycle.reasons
