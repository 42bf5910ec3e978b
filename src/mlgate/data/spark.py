"""The Spark engine's session: the user's when there is one, else a local one.

`--engine spark` (or `data.engine: spark` in mlgate.yaml) runs on the
`SparkSession` already active in the process (a Databricks notebook, an EMR step,
`spark-submit`), so a cluster is used unchanged. Without one, mlgate starts a
session with the environment's Spark configuration (`SPARK_CONF_DIR`'s
spark-defaults.conf, `PYSPARK_SUBMIT_ARGS`) and on top of it the `spark.*`
settings of `data.spark` in mlgate.yaml; with no master named anywhere it is
`local[*]`. pyspark is the optional extra `mlgate[spark]`.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.errors import ConfigError, DataError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = [
    "ENGINES",
    "EXTRA",
    "ROW",
    "check_engine",
    "check_location",
    "column",
    "numbered",
    "read_frame",
    "reading",
    "require_pyspark",
    "spark_session",
]

ENGINES = ("local", "spark")
#: The extra that installs the Spark engine.
EXTRA = "mlgate[spark]"


def check_engine(engine: str, field: str = "--engine") -> str:
    """`engine` when mlgate has it (and, for spark, pyspark is installed); a ConfigError."""
    if engine not in ENGINES:
        raise ConfigError("unknown engine.", field=field, value=engine, allowed=", ".join(ENGINES))
    if engine == "spark":
        require_pyspark(field)
    return engine


def require_pyspark(field: str = "--engine") -> Any:
    """The pyspark.sql module; a ConfigError naming the extra when it is not installed."""
    try:
        import pyspark.sql
    except ImportError as e:
        raise ConfigError(
            "the spark engine needs pyspark, which is not installed.",
            field=field,
            value="spark",
            fix=f"Install it with `pip install '{EXTRA}'`, or use --engine local.",
        ) from e
    return pyspark.sql


def column(name: str) -> Column:
    """The column called `name`, whatever it holds (`F.col` reads a dot as a field)."""
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def spark_session(settings: Mapping[str, str] | None = None) -> SparkSession:
    """The active SparkSession, else a new one with `settings` (spark.* keys).

    A session mlgate starts is quiet: log level ERROR (Spark's WARN lines and the
    stack traces it logs for an error mlgate reports itself; from the JVM's start,
    through mlgate's log4j2 configuration, when the environment configures no Spark
    and `settings` name no driver Java options), no task failure logged before the
    driver raises it, and no console progress bar, unless `settings` ask for one.
    """
    sql = require_pyspark()
    # PySpark's notice on pandas 3 (it warns on every pandas conversion) is not the user's.
    warnings.filterwarnings(
        "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
    )
    active = sql.SparkSession.getActiveSession()
    if active is not None:
        return active  # type: ignore[no-any-return]
    # PySpark logs each AnalysisException it raises as a JSON line on stderr, the ones
    # mlgate catches (a CSV has no row index) and reports itself among them.
    for name in ("DataFrameQueryContextLogger", "SQLQueryContextLogger"):
        logging.getLogger(name).disabled = True
    chosen = {"spark.ui.showConsoleProgress": "false", **(settings or {})}
    # Local workers run this interpreter, with mlgate and its model libraries.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = sql.SparkSession.builder.appName(chosen.pop("spark.app.name", "mlgate"))
    if not _master_elsewhere():
        if "spark.master" not in chosen:
            builder = builder.master("local[*]")
        # Quiet from the JVM's start: setLogLevel comes after Spark's first WARN lines.
        log4j = (Path(__file__).parent / "spark-log4j2.properties").as_uri()
        chosen.setdefault("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log4j}")
    for key, value in chosen.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session  # type: ignore[no-any-return]


def _master_elsewhere() -> bool:
    """Whether the environment names a master (spark-submit, PYSPARK_SUBMIT_ARGS, MASTER)."""
    submit = os.environ.get("PYSPARK_SUBMIT_ARGS", "")
    return "--master" in submit or "MASTER" in os.environ or "SPARK_CONF_DIR" in os.environ


def read_frame(spark: SparkSession, location: str, *, typed: bool = False) -> DataFrame:
    """A Parquet or CSV file or folder (path or URL Spark reads), or a table's name.

    Callers check a path with `check_location` first, before the session starts:
    here only a name that could be a table's but is not one is checked as a path.
    A CSV's columns are read as text, as the local engine reads feature columns:
    a value that is no number is then refused with its row, not guessed at. With
    `typed`, Spark infers a CSV's column types (one more pass), as the local
    engine's validation and schema inference read CSV.
    """
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import AnalysisException

    if _is_table(spark, location):
        return spark.table(location)
    if _table_name(location) and os.path.exists(location):  # left by check_location
        from mlgate.data.io import check_csv_headers

        check_csv_headers(location)
    kind = _folder_format(location)
    if ":" not in location:  # a local path: Spark resolves relative ones from its own cwd
        location = os.path.abspath(location)
    try:
        if kind == "csv":
            tab = location.lower().removesuffix(".gz").endswith(".tsv")
            sep = "\t" if tab else ","
            return spark.read.csv(location, header=True, sep=sep, inferSchema=typed)
        return spark.read.parquet(location)
    except (AnalysisException, Py4JJavaError) as e:
        # A damaged file fails in the JVM (a SparkException PySpark does not convert).
        text = str(e.java_exception.getMessage()) if isinstance(e, Py4JJavaError) else str(e)
        if isinstance(e, Py4JJavaError) and "FAILED_READ_FILE.NO_HINT" in text:
            text = _failed_read(e)[0] or text  # Spark's reason is in a cause
        raise _unreadable(location, kind, text, e) from e


def _unreadable(location: str, kind: str, text: str, error: Exception) -> DataError:
    """The DataError for a `location` Spark cannot read, from the first line of `text`."""
    first = (text.strip().splitlines() or [type(error).__name__])[0].rstrip(". ")
    first = first if len(first) <= 300 else first[:297] + "..."
    return DataError(
        f"Spark cannot read it as {kind.upper()}: {first}.",
        source=location,
        fix="Name a Parquet or CSV file or folder Spark can reach, or a table.",
    )


@contextmanager
def reading(*locations: str) -> Iterator[None]:
    """Turn a Spark job's failure to read one of `locations` into the DataError
    `read_frame` raises, naming the location whose file failed (else the first).

    A file whose footer is sound but whose pages are damaged fails only when a job
    reads them (an aggregation, a scoring pass), as a Py4J error wrapping Spark's
    FAILED_READ_FILE; any other failure passes through unchanged.
    """
    from py4j.protocol import Py4JJavaError

    try:
        yield
    except Py4JJavaError as e:
        text, failed = _failed_read(e)
        if text is None:
            raise
        named = [x for x in locations if ":" not in x and os.path.abspath(x) in failed]
        location = (named or list(locations))[0]
        raise _unreadable(location, _folder_format(location), text, e) from e


def _failed_read(error: Any) -> tuple[str | None, str]:
    """Spark's FAILED_READ_FILE among the causes of a Py4JJavaError, said with its
    innermost cause's reason, and the FAILED_READ_FILE message; (None, "") without one."""
    causes: list[str] = []
    cause = error.java_exception
    while cause is not None and len(causes) < 20:
        causes.append(str(cause.getMessage() or ""))
        cause = cause.getCause()
    failed = next((text for text in causes if "FAILED_READ_FILE" in text), None)
    if failed is None:
        return None, ""
    # "[FAILED_READ_FILE.NO_HINT] Encountered error while reading file F.  SQLSTATE: KD001"
    text = re.sub(r"^\[[A-Z_.]+\]\s*|\s*SQLSTATE: \w+\s*$", "", failed.splitlines()[0])
    text = text.rstrip(". ")
    reason = next((t for t in reversed(causes) if t.strip()), "")
    if reason and reason not in failed:
        text = f"{text}: {reason.strip().splitlines()[0]}"
    return text, failed


def check_location(location: str) -> None:
    """A DataError when `location` is a local path (no URL scheme) that does not exist,
    or a local CSV whose header the local reader refuses.

    The one check of a path `read_frame` reads, called before a session starts: Spark
    would start, then log a Java stack trace for the missing path before its own
    error. A name that could be a table's is left to `read_frame`, which asks the
    catalog; so are glob patterns that match something.
    """
    import glob

    if ":" in location or _table_name(location):
        return
    if glob.has_magic(location) and glob.glob(location):
        return
    if not os.path.exists(location):
        raise DataError("file not found.", source=location, fix="Check the path.")
    from mlgate.data.io import check_csv_headers

    check_csv_headers(location)  # Spark would rename repeated names, read "" as no rows


def _table_name(location: str) -> bool:
    """Whether `location` could be a table's name (db.table) rather than a path or URL."""
    if "/" in location or ":" in location or "\\" in location:
        return False
    if not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*){0,2}", location):
        return False
    suffixes = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".parquet", ".pq")
    return not location.lower().endswith(suffixes)


def _is_table(spark: SparkSession, location: str) -> bool:
    """Whether `location` is a table's name (db.table) rather than a path or URL."""
    from pyspark.errors import AnalysisException

    if not _table_name(location):
        return False
    try:
        return bool(spark.catalog.tableExists(location))
    except AnalysisException:  # a name the catalog cannot hold (catalog.db.table in one part)
        return False


def _folder_format(location: str) -> str:
    """csv or parquet: by the name's suffix, else by a local folder's files, else parquet."""
    from mlgate.data.io import table_format

    with_suffix = location.lower().rstrip("/").endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz"))
    if with_suffix or location.lower().endswith((".parquet", ".pq")):
        return table_format(location)
    folder = Path(location)
    if folder.is_dir():
        names = [p.name.lower() for p in folder.rglob("*") if p.is_file()]
        if any(n.endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz")) for n in names) and not any(
            n.endswith((".parquet", ".pq")) for n in names
        ):
            return "csv"
    return "parquet"


#: The column `numbered` adds: each row's 0-based position, as the local engine counts it.
ROW = "__mlgate_row"


def numbered(frame: DataFrame) -> tuple[DataFrame, int]:
    """`frame` with each row's position in `ROW`, and its number of rows (one Spark job).

    Parquet rows are numbered as the local engine reads them: files in the order of
    their names, rows in file order (Spark's hidden `_metadata.file_path` and
    `row_index`). CSV and tables have no row index: rows are numbered in Spark's
    read order, a partition's after the previous partition's.
    """
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    try:
        key = F.col("_metadata.file_path")
        within = F.col("_metadata.row_index")
        frame.select(key, within).schema  # noqa: B018 (analysed, not run)
    except AnalysisException:
        key = F.spark_partition_id()
        # The id is the partition's number << 33 plus the row's place in it.
        within = F.monotonically_increasing_id() - F.shiftleft(key.cast("long"), 33)
    tagged = frame.withColumn("__mlgate_key", key)
    counts = tagged.groupBy("__mlgate_key").count().collect()
    offsets: dict[Any, int] = {}
    total = 0
    for row in sorted(counts, key=lambda r: r[0]):
        offsets[row[0]] = total
        total += int(row["count"])
    if not offsets:
        return frame.withColumn(ROW, F.lit(0).cast("long")), 0
    table = F.create_map(*[F.lit(v) for pair in offsets.items() for v in pair])
    start = table[F.col("__mlgate_key")]
    return tagged.withColumn(ROW, start + within).drop("__mlgate_key"), total
