"""The spool: each record one whole line in a file its writer holds, or refused."""

from __future__ import annotations

import fcntl
from collections.abc import Callable
from pathlib import Path

import pytest

from mlgate.errors import LogUnavailable
from mlgate.state.spool import Spool

LINE = b'{"t":1,"id":"a","row":0,"label":"1","m":"m"}\n'


def _held(path: Path) -> bool:
    """Whether some open file holds `path`'s flock (its writer is alive and has it open)."""
    with path.open("rb") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


def test_each_record_is_a_line_of_a_file_the_writer_holds(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), "feedback")
    spool.write(LINE)
    spool.write(LINE * 2, records=2)
    first = spool.path
    assert first is not None
    assert first.parent == tmp_path / "feedback"
    assert first.read_bytes() == LINE * 3
    assert (spool.records, spool.bytes) == (3, 3 * len(LINE))
    assert _held(first)
    assert spool.rotate() == first
    assert not _held(first)  # rotated: the converter may take it
    assert spool.path != first
    assert _held(spool.path)
    spool.close()
    assert not any(_held(p) for p in (tmp_path / "feedback").iterdir())
    assert not list((tmp_path / "feedback").glob(".*"))  # no hidden file left behind


def test_a_full_disk_refuses_the_record_and_keeps_none_of_it(
    small_disk: Callable[[int], Path], fill_disk: Callable[[Path], Path]
) -> None:
    disk = small_disk(1024 * 1024)
    failures: list[int] = []
    spool = Spool(str(disk), "predictions", on_failure=lambda: failures.append(1))
    spool.write(LINE)
    filler = fill_disk(disk)
    # More than the room left in the file's last page: written in part, then cut off.
    big = b'{"pad":"' + b"x" * 20_000 + b'"}\n'
    for _ in range(2):
        with pytest.raises(LogUnavailable) as refused:
            spool.write(big)
        assert str(refused.value) == (
            "the predictions log cannot be written (No space left on device), so the answer "
            "was not sent. Free space on the spool's disk, or point MLGATE_SPOOL_PATH at one "
            "with room; the gateway answers again as soon as its records can be written."
        )
        assert refused.value.http_status == 503
    assert spool.path is not None
    assert spool.path.read_bytes() == LINE
    assert (spool.records, spool.failures, len(failures)) == (1, 2, 2)
    assert spool.last_error == "No space left on device"
    assert spool.failing_since is not None
    spool.tick()  # the probe finds the disk full still
    assert spool.failing_since is not None
    filler.unlink()
    spool.tick()  # and now it has room again
    assert spool.failing_since is None
    spool.write(big)
    spool.close()
    written = b"".join(p.read_bytes() for p in sorted((disk / "predictions").iterdir()))
    assert written == LINE + big
    assert not list((disk / "predictions").glob(".*"))  # the probe file is gone


def test_an_unwritable_folder_is_refused_before_serving(tmp_path: Path) -> None:
    from mlgate.errors import ConfigError

    (tmp_path / "feedback").write_text("a file where the folder goes", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^MLGATE_SPOOL_PATH: cannot write the feedback log"):
        Spool(str(tmp_path), "feedback").check()
