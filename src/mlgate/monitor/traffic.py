"""The window of served rows the monitor judges: read into this process, or profiled on Spark.

`recent_traffic` reads the window's rows from the prediction log with DuckDB, for
the cycle's counts, accuracy, estimates and retraining. Drift is what grows with
the traffic: when `data.engine` is spark, `window_profile` profiles the same rows
where Spark reads the log's Parquet segments (`spark_profile`: aggregations and
quantile sketches, no rows brought to the driver), and the cycle compares that
profile with the champion's as `mlgate drift --engine spark` does. Both select the
model's rows since the window's start, served by the champion's version as
champion or challenger; a category logged as the gateway's `(missing)` is missing
again, as in the training data, so that drift does not take it for a new category.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from mlgate.drift.profile import Profile
from mlgate.state.predlog import query_logs
from mlgate.training.preprocessing import MISSING

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from mlgate.project import Project

__all__ = ["recent_traffic", "window_profile"]

_TRAFFIC = """
SELECT p.request_id, p.row, p.prediction, p.score, p.time, f.label, unnest(p.features)
FROM predictions AS p
LEFT JOIN (
    SELECT request_id, row, arg_min(label, time) AS label FROM feedback
    WHERE model = $model GROUP BY request_id, row
) AS f USING (request_id, row)
WHERE p.model = $model AND p.time >= $since AND p.served AND p.role IN ('champion', 'challenger')
"""
#: The columns of `_TRAFFIC` that are not features.
_LOGGED = frozenset({"request_id", "row", "prediction", "score", "time", "label"})


def recent_traffic(
    log_root: str, model: str, since: datetime, *, version: str | None = None
) -> Any:
    """The served rows since `since` (of `version` only, when given): features, prediction
    and the first label sent for each (or NaN); a later label for a row is ignored, as the
    rollout analysis does.

    A missing category is logged as the gateway's marker `(missing)`; here it is missing
    again, as in the training data, so that drift does not take it for a new category.
    """
    from pandas.api.types import is_numeric_dtype

    sql, params = _TRAFFIC, {"model": model, "since": since}
    if version is not None:
        sql, params = sql + " AND p.version = $version", params | {"version": version}
    # In a fixed order: segments are read in any order, and rows of one request share
    # their time, while the retraining holds out a seeded sample of these rows.
    sql += " ORDER BY p.time, p.request_id, p.row"
    traffic = query_logs(log_root, sql, params, as_frame=True)
    for column in traffic.columns:
        if column not in _LOGGED and not is_numeric_dtype(traffic[column]):
            traffic[column] = traffic[column].mask(traffic[column] == MISSING)
    return traffic


def window_profile(project: Project, since: datetime, version: str, reference: Profile) -> Profile:
    """The profile, computed on Spark, of the features `reference` has and the logged rows
    carry, and of the predictions when `reference` profiles them."""
    from mlgate.data.spark import reading, spark_session
    from mlgate.drift.spark_profile import spark_profile

    session = spark_session(project.config.data.spark)
    location = f"{project.log_root.rstrip('/')}/predictions"
    with reading(location):
        frame = _window(session, location, project.name, since, version)
        kinds = {c: str(p.kind) for c, p in reference.columns.items() if c in frame.columns}
        if reference.prediction is not None:
            kinds["prediction"] = str(reference.prediction.kind)
        found = spark_profile(frame, kinds)
    if reference.prediction is not None:
        found.prediction = found.columns.pop("prediction")
    return found


def _window(
    session: SparkSession, location: str, model: str, since: datetime, version: str
) -> DataFrame:
    """The window's served rows: each logged feature as a column, and the prediction."""
    import fsspec
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    fs, path = fsspec.core.url_to_fs(location)
    files = sorted(fs.glob(f"{path}/date=*/*.parquet")) if fs.exists(path) else []
    segments = [fs.unstrip_protocol(f) if ":" in location else f for f in files]
    # Segments of other days may log other features (a new model): their union, by name.
    frame = session.read.option("mergeSchema", "true").parquet(*segments)
    served = (
        (F.col("model") == model)
        & (F.col("time") >= F.lit(since))
        & F.col("served")
        & F.col("role").isin("champion", "challenger")
        & (F.col("version") == version)
    )
    frame = frame.where(served)
    struct = cast("T.StructType", frame.schema["features"].dataType)

    def feature(field: T.StructField) -> Column:
        value = F.col("features").getField(field.name)
        if isinstance(field.dataType, T.StringType):
            value = F.when(value != MISSING, value)
        return value.alias(field.name)

    return frame.select(*[feature(f) for f in struct.fields], F.col("prediction"))
