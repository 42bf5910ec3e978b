"""A damaged input through `--engine spark` in a session mlgate starts: the terminal shows
mlgate's one message, not the executors' logs of the failed tasks nor a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlgate.data.schema import Schema

#: One process runs the commands (one JVM start), each exit code on a line of stdout.
SCRIPT = """
import sys
from mlgate.cli import main
for args in sys.argv[1:]:
    sys.argv = ["mlgate", *args.split()]
    try:
        main()
    except SystemExit as e:
        print("exit", e.code, flush=True)
"""


def test_a_damaged_file_shows_only_mlgates_message(
    tmp_path: Path, spark_env: dict[str, str]
) -> None:
    pytest.importorskip("pyspark")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"x1": rng.normal(0, 1, 5000), "colour": rng.choice(["red", "blue"], 5000)}
    )
    frame.to_csv(tmp_path / "reference.csv", index=False)
    frame.to_parquet(tmp_path / "whole.parquet", index=False, compression="zstd")
    data = (tmp_path / "whole.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])  # no footer
    pages = bytearray(data)
    pages[100:20000] = b"\xab" * 19900  # a sound footer over damaged pages
    (tmp_path / "pages.parquet").write_bytes(bytes(pages))
    frame.to_csv(tmp_path / "whole.csv.gz", index=False)
    packed = (tmp_path / "whole.csv.gz").read_bytes()
    (tmp_path / "cut.csv.gz").write_bytes(packed[: len(packed) // 2])
    Schema.model_validate({"columns": {"x1": {"dtype": "float"}}}).save(tmp_path / "schema.yaml")
    from registry.catalog_support import make_bundle

    make_bundle(tmp_path / "model")
    commands = [
        "validate cut.parquet --schema schema.yaml --engine spark",
        "drift reference.csv cut.parquet --engine spark",
        "score model cut.parquet out --engine spark",
        "validate pages.parquet --schema schema.yaml --engine spark",
        "drift reference.csv pages.parquet --engine spark",
        "score model pages.parquet out --engine spark",
        "drift reference.csv cut.csv.gz --engine spark",
        "score model cut.csv.gz out --engine spark",
    ]
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *commands],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=spark_env,
        timeout=300,
    )
    assert done.stdout.splitlines() == ["exit 2"] * len(commands), done.stderr
    cut = (
        f"error: {tmp_path}/cut.parquet: Spark cannot read it as PARQUET: "
        "[FAILED_READ_FILE.CANNOT_READ_FILE_FOOTER] Encountered error while reading file "
        f"file:{tmp_path}/cut.parquet. Could not read footer. Please ensure that the file is "
        "in either ORC or Parquet format. "
        "Name a Parquet or CSV file or folder Spark can reach, or a table."
    )
    damaged = (
        "error: pages.parquet: Spark cannot read it as PARQUET: Encountered error while "
        f"reading file file://{tmp_path}/pages.parquet: "
    )
    lines = done.stderr.splitlines()
    # The JVM's own notice of the incubator module Spark 4 loads is the only other line.
    assert lines[0] == "WARNING: Using incubator modules: jdk.incubator.vector", done.stderr
    assert lines[1:4] == [cut] * 3, done.stderr
    assert len(lines) == 9, done.stderr
    assert all(line.startswith(damaged) for line in lines[4:7]), done.stderr
    # A CSV's header is read before Spark starts, as the local engine reads it.
    packed_cut = "error: cut.csv.gz: cannot read it as CSV: Truncated compressed stream. "
    assert [line.startswith(packed_cut) for line in lines[7:]] == [True, True], done.stderr
    assert not (tmp_path / "out").exists()
