"""Dataset fingerprints: a content hash that follows the bytes, not the file's name or place."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import fsspec
import pytest

from mlgate.data import fingerprint
from mlgate.errors import DataError

CSV = b"age,income\n31,52000\n45,61000\n"


def test_the_print_is_the_sha256_of_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(CSV)

    assert fingerprint(path) == "sha256:" + hashlib.sha256(CSV).hexdigest()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", fingerprint(str(path)))


def test_the_same_bytes_anywhere_give_the_same_print(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "copy" / "renamed.csv"
    second.parent.mkdir()
    first.write_bytes(CSV)
    second.write_bytes(CSV)
    with fsspec.open("memory://mlgate-tests/fingerprint.csv", "wb") as handle:
        handle.write(CSV)

    prints = {
        fingerprint(first),
        fingerprint(second),
        fingerprint(f"file://{first}"),
        fingerprint("memory://mlgate-tests/fingerprint.csv"),
    }

    assert len(prints) == 1


def test_one_changed_byte_changes_the_print(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_bytes(CSV)
    second.write_bytes(CSV.replace(b"31", b"32"))

    assert fingerprint(first) != fingerprint(second)


def test_files_larger_than_one_read_are_hashed_whole(tmp_path: Path) -> None:
    content = os.urandom(3 * (1 << 20) + 17)
    path = tmp_path / "big.parquet"
    path.write_bytes(content)

    assert fingerprint(path) == "sha256:" + hashlib.sha256(content).hexdigest()


def test_an_empty_file_has_the_empty_print(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")

    assert fingerprint(path) == "sha256:" + hashlib.sha256(b"").hexdigest()


def test_a_missing_file_is_a_clear_data_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"

    with pytest.raises(
        DataError, match=rf"^{re.escape(str(path))}: file not found\. Check the path\.$"
    ):
        fingerprint(path)


def test_a_missing_url_is_a_clear_data_error() -> None:
    url = "memory://mlgate-tests/nope.csv"

    with pytest.raises(
        DataError, match=rf"^{re.escape(url)}: file not found\. Check the path or URL\.$"
    ):
        fingerprint(url)


def test_a_folder_is_a_clear_data_error(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=rf"^{re.escape(str(tmp_path))}: expected a file, found a folder\.$"
    ):
        fingerprint(tmp_path)
