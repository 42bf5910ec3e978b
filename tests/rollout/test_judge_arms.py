"""The judge on a log written before replicas named their arm: no figures, no failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from mlgate.config.rollout import RolloutConfig
from mlgate.rollout.judge import judge_arms
from mlgate.state.layout import prediction_table


def test_a_log_with_no_arm_column_yet_is_inconclusive(tmp_path: Path) -> None:
    record = {
        "t": int(datetime.now(UTC).timestamp() * 1e9),
        "id": "r1",
        "m": "credit-risk",
        "v": "1",
        "r": "champion",
        "s": True,
        "st": "none",
        "w": 0.0,
        "k": None,
        "rt": "predict",
        "ms": 1.0,
        "e": None,
        "c": None,
        "n": 1,
        "p": [1],
        "pb": None,
        "pc": None,
        "reg": False,
        "f": ["x"],
        "fx": None,
        "fb": None,
        "ft": {"x": ["a"]},
    }
    older = prediction_table([record]).drop_columns(["arm"])
    folder = tmp_path / "predictions" / "date=2026-12-05"
    folder.mkdir(parents=True)
    pq.write_table(older, folder / "old.parquet")
    since = datetime.now(UTC) - timedelta(minutes=5)
    judged = judge_arms(str(tmp_path), "credit-risk", "a1", "b2", since, RolloutConfig())
    assert judged.verdict == "inconclusive"
    assert (judged.baseline.requests, judged.canary.requests) == (0, 0)
    assert judged.reasons[1] == (
        "baseline arm 'a1' answered no requests in the window; check that its pods set "
        "MLGATE_ARM to this value"
    )
