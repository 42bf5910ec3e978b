"""The converter: spool files into segments, whatever they hold, each record once."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlgate.state.convert import STATUS, Converter, read_status
from mlgate.state.layout import prediction_table
from mlgate.state.predlog import read_log
from mlgate.state.spool import STOP, Spool

T0 = 1_780_000_000_000_000_000  # 2026-05-28, in nanoseconds


def _label(request_id: str, label: str = "1", t: int = T0) -> bytes:
    return json.dumps({"t": t, "id": request_id, "row": 0, "label": label, "m": "m"}).encode()


def _spooled(root: Path, lines: list[bytes]) -> Path:
    """A closed spool file of feedback holding `lines` (each ends with a newline)."""
    spool = Spool(str(root), "feedback")
    spool.write(b"".join(line + b"\n" for line in lines), records=len(lines))
    path = spool.path
    spool.close()
    assert path is not None
    return path


def _prediction(request_id: str, rows: int, key: str | None = None) -> dict[str, Any]:
    """A prediction record of `rows` rows with two numeric features, as the gateway writes."""
    block = np.arange(2 * rows, dtype=np.float64).reshape(2, rows)
    return {
        "t": T0,
        "id": request_id,
        "m": "m",
        "v": "1",
        "r": "champion",
        "s": True,
        "st": "none",
        "w": 0.0,
        "k": key,
        "rt": "predict",
        "ms": 1.5,
        "e": None,
        "c": None,
        "n": rows,
        "p": [1] * rows,
        "pb": base64.b64encode(np.full((rows, 2), 0.5).tobytes()).decode(),
        "pc": 2,
        "reg": False,
        "f": ["a", "b"],
        "fx": None,
        "fb": base64.b64encode(block.tobytes()).decode(),
        "ft": None,
    }


def test_records_that_cannot_be_read_or_built_are_quarantined_and_the_rest_kept(
    tmp_path: Path,
) -> None:
    spool, logs = tmp_path / "spool", str(tmp_path / "logs")
    lines = [_label("a"), b"not json at all", _label("b"), b'{"t": 1, "id": "c"}', _label("d")]
    source = _spooled(spool, lines)
    converter = Converter(str(spool), logs)
    assert converter.run_once() == 3
    log = read_log(logs, "feedback", "SELECT request_id FROM log ORDER BY 1")
    assert log["request_id"].tolist() == ["a", "b", "d"]
    assert not source.exists()
    quarantined = sorted((spool / "dead-letter" / "feedback").iterdir())
    found = {}
    for path in quarantined:
        header, *records = path.read_bytes().splitlines()
        found[json.loads(header)["reason"]] = records
    assert found == {
        "records that are not whole JSON objects (cut short by a crash?)": [b"not json at all"],
        "cannot build the table: KeyError: 'row'": [b'{"t": 1, "id": "c"}'],
    }
    status = converter.status["feedback"]
    assert (status["rows"], status["quarantined"], status["quarantined_records"]) == (3, 2, 2)
    assert status["last_error"].startswith("quarantined 1 record(s) to ")
    assert read_status(spool)["kinds"]["feedback"]["rows"] == 3  # type: ignore[index]


def test_a_record_cut_short_by_a_crash_is_set_aside(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    path = _spooled(spool, [_label("a")])
    with path.open("ab") as handle:
        handle.write(_label("b")[:20])  # the machine stopped mid-write
    assert Converter(str(spool), str(tmp_path / "logs")).run_once() == 1
    (quarantined,) = (spool / "dead-letter" / "feedback").iterdir()
    assert quarantined.read_bytes().splitlines()[1] == _label("b")[:20]


def test_a_pass_cut_short_writes_nothing_twice(tmp_path: Path) -> None:
    spool, logs = tmp_path / "spool", str(tmp_path / "logs")
    source = _spooled(spool, [_label("a"), _label("b")])
    kept = tmp_path / "kept"
    shutil.copy(source, kept)
    assert Converter(str(spool), logs).run_once() == 2
    shutil.copy(kept, source)  # as if killed after writing the segment, before removing this
    assert Converter(str(spool), logs).run_once() == 0
    assert not source.exists()
    assert read_log(logs, "feedback", "SELECT count(*) AS n FROM log")["n"][0] == 2


def test_a_live_writers_file_waits_and_a_killed_ones_is_taken(tmp_path: Path) -> None:
    spool, logs = tmp_path / "spool", str(tmp_path / "logs")
    script = (
        "import sys, time\n"
        "from mlgate.state.spool import STOP, Spool\n"
        "s = Spool(sys.argv[1], 'feedback')\n"
        "s.write(sys.argv[2].encode() + b'\\n')\n"
        "print('written', flush=True)\n"
        "time.sleep(60)\n"
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", script, str(spool), _label("killed").decode()],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline() == b"written\n"
        converter = Converter(str(spool), logs)
        assert converter.run_once() == 0  # its writer holds it
        assert converter.status["feedback"]["pending_files"] == 1
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
        if writer.stdout is not None:
            writer.stdout.close()
    assert converter.run_once() == 1
    log = read_log(logs, "feedback", "SELECT request_id FROM log")
    assert log["request_id"].tolist() == ["killed"]


def test_the_converter_process_told_to_stop_as_it_starts_converts_what_is_left(
    tmp_path: Path,
) -> None:
    # `mlgate serve` stops its converter by a word on its stdin: one stopped while still
    # importing (as on a busy machine, at its low priority) must not die with the spool
    # unconverted, as it did when told by a signal it had no handler for yet.
    spool, logs = tmp_path / "spool", str(tmp_path / "logs")
    _spooled(spool, [_label("a"), _label("b")])
    converter = subprocess.Popen(
        [sys.executable, "-m", "mlgate.state.convert", str(spool), logs, "1.0", str(os.getpid())],
        stdin=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert converter.stdin is not None
    converter.stdin.write(STOP)
    converter.stdin.close()
    try:
        assert converter.wait(timeout=60) == 0
    finally:
        if converter.poll() is None:
            converter.kill()
            converter.wait()
    log = read_log(logs, "feedback", "SELECT request_id FROM log ORDER BY 1")
    assert log["request_id"].tolist() == ["a", "b"]
    assert list((spool / "feedback").glob("*.jsonl")) == []


def _slices(pid: int) -> dict[int, tuple[str, str]]:
    """Each thread of `pid`: its priority and its slice (ns), from /proc."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        lines = (task / "sched").read_text().splitlines()
        fields = {
            name.strip(): value.strip()
            for name, _, value in (line.partition(":") for line in lines)
        }
        found[int(task.name)] = (fields.get("prio", "?"), fields.get("se.slice", "?"))
    return found


_SCHED = Path("/proc/self/sched")


@pytest.mark.skipif(
    not (_SCHED.exists() and "se.slice" in _SCHED.read_text()),
    reason="a kernel without per-task slices (before Linux 6.12)",
)
def test_the_converter_process_runs_at_nice_19_with_the_shortest_slice(tmp_path: Path) -> None:
    # Nice 19 alone kept the CPU a whole slice from the workers and their clients.
    spool, logs = tmp_path / "spool", str(tmp_path / "logs")
    _spooled(spool, [_label("a")])
    converter = subprocess.Popen(
        [sys.executable, "-m", "mlgate.state.convert", str(spool), logs, "0.2", str(os.getpid())],
        stdin=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert converter.stdin is not None
    try:
        deadline = time.monotonic() + 30
        while not (spool / STATUS).exists() or len(_slices(converter.pid)) < 2:
            assert time.monotonic() < deadline, "the converter made no pass"
            time.sleep(0.1)
        time.sleep(0.5)  # a pass or two more: threads started meanwhile are covered
        threads = _slices(converter.pid)
    finally:
        converter.stdin.write(STOP)
        converter.stdin.close()
        converter.wait(timeout=60)
    assert set(threads.values()) == {("139", "100000")}, threads


def test_a_huge_routing_key_is_held_once_per_request(tmp_path: Path) -> None:
    key = "k" * 250_000
    records = [_prediction("huge", 10_000, key), _prediction("next", 1, "short")]
    table = prediction_table(records)
    column = table.column("key")
    assert column.nbytes < 2 * len(key)  # not 10,000 copies (2.5 GB)
    assert column[0].as_py() == column[9_999].as_py() == key
    assert column[10_000].as_py() == "short"
    lines = [json.dumps(r).encode() for r in records]
    spool = Spool(str(tmp_path / "spool"), "predictions")
    spool.write(b"".join(line + b"\n" for line in lines), records=2)
    spool.close()
    logs = str(tmp_path / "logs")
    assert Converter(str(tmp_path / "spool"), logs).run_once() == 10_001
    found = read_log(
        logs,
        "predictions",
        "SELECT request_id, count(*) AS n, count(DISTINCT key) AS keys, max(length(key)) AS "
        "longest, min(features.b) AS b FROM log GROUP BY 1 ORDER BY 1",
    )
    assert found.to_dict("records") == [
        {"request_id": "huge", "n": 10_000, "keys": 1, "longest": 250_000, "b": 10_000.0},
        {"request_id": "next", "n": 1, "keys": 1, "longest": 5, "b": 1.0},
    ]


def test_a_full_log_disk_leaves_no_temporary_file_and_the_spool_waits(
    tmp_path: Path, small_disk: Callable[[int], Path], fill_disk: Callable[[Path], Path]
) -> None:
    disk = small_disk(4 * 1024 * 1024)
    spool = tmp_path / "spool"
    rows = 6_000  # a segment of over a megabyte: text that does not compress
    record = _prediction("big", rows)
    record["ft"] = {"note": [os.urandom(100).hex() for _ in range(rows)]}
    record["f"], record["fx"] = ["a", "b", "note"], ["a", "b"]
    writer = Spool(str(spool), "predictions")
    writer.write(json.dumps(record).encode() + b"\n")
    writer.close()
    filler = fill_disk(disk)
    converter = Converter(str(spool), str(disk))
    for _ in range(2):
        assert converter.run_once() == 0
    status = converter.status["predictions"]
    assert status["failures"] == 2
    assert "No space left on device" in status["last_error"]
    assert status["failing_since"] is not None
    assert [p for p in disk.rglob("*") if p.is_file()] == [filler]  # no temporary file
    assert status["pending_files"] == 1
    filler.unlink()  # space comes back
    assert converter.run_once() == rows
    assert converter.status["predictions"]["failing_since"] is None
    assert not list((spool / "predictions").glob("*.jsonl"))
