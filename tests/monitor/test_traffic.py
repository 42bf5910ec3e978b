"""The monitor's window on the Spark engine (`data.engine: spark`, real local Spark): the
window's rows profiled where the prediction log is read give the local engine's verdict."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.conftest import Monitored


def test_the_cycle_on_spark_flags_the_columns_the_local_engine_flags(
    spark: Any, monitored: Monitored
) -> None:
    local = monitored.cycle(retrain=False)
    monitored.configure(data={"engine": "spark"})
    spark.sparkContext.setJobGroup("window", "the monitor's window on Spark")
    try:
        remote = monitored.cycle(retrain=False)
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
    assert spark.sparkContext.statusTracker().getJobIdsForGroup("window"), "Spark profiled it"
    assert local.drift is not None
    assert remote.drift is not None
    assert local.drift.drifted, "the traffic drifted: the test must see flagged columns"
    assert (remote.status, remote.reasons) == (local.status, local.reasons)
    assert [c.column for c in remote.drift.drifted] == [c.column for c in local.drift.drifted]
    pairs = zip(remote.drift.columns, local.drift.columns, strict=True)
    for got, want in pairs:
        assert (got.column, got.test, got.drifted) == (want.column, want.test, want.drifted)
        assert (got.current_rows, got.unseen) == (want.current_rows, want.unseen)
        # Spark's quantile sketch moves a statistic by at most its rank error (1e-4).
        assert got.statistic == pytest.approx(want.statistic, abs=2e-3), got.column
    assert remote.drift.prediction is not None
    assert local.drift.prediction is not None
    assert remote.drift.prediction.statistic == pytest.approx(local.drift.prediction.statistic)
    assert remote.distributions.keys() == local.distributions.keys()
