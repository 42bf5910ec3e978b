"""`mlgate drift`: a reference (data, profile, run folder or registered model) against data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlgate.config.monitor import DriftConfig
from mlgate.data.io import read_pandas, table_format
from mlgate.drift.detector import DriftReport, detect, detect_files, sample_values
from mlgate.drift.profile import PROFILE, Profile, sample_of
from mlgate.errors import DataError
from mlgate.registry.catalog import Catalog
from mlgate.registry.refs import is_registry_ref

__all__ = ["PLOT_ROWS", "check_drift", "plot_samples"]

#: Rows per column drawn in HTML plots (plots of millions of points say nothing more).
PLOT_ROWS = 200_000


def _profile_at(reference: str, base_dir: Path) -> Profile | None:
    if is_registry_ref(reference):
        catalog = Catalog.open(base_dir)
        folder = catalog.local_path(catalog.resolve(reference))
        path = folder / PROFILE
    else:
        given = Path(reference)
        path = given / PROFILE if given.is_dir() else given
        if not (given.is_dir() or given.suffix == ".json"):
            return None
    if not path.exists():
        raise DataError(
            "no reference profile here",
            source=str(path),
            fix="Pass a data file, a profile.json, or a run folder trained by mlgate 0.1+.",
        )
    return Profile.load(path)


def check_drift(
    reference: str,
    current: str,
    *,
    config: DriftConfig | None = None,
    base_dir: Path | None = None,
    columns: list[str] | None = None,
) -> DriftReport:
    """Drift of the data in `current` against `reference`."""
    config = config or DriftConfig()
    base_dir = base_dir or Path.cwd()
    profile = _profile_at(reference, base_dir)
    if profile is not None:
        frame = read_pandas(current)
        kinds: dict[str, str] = {
            c: p.kind for c, p in profile.columns.items() if columns is None or c in columns
        }
        report = detect(profile, frame, config=config, kinds=kinds)
    elif table_format(reference) == "parquet" and table_format(current) == "parquet":
        report = detect_files(reference, current, config=config, columns=columns)
    else:
        ref, cur = read_pandas(reference), read_pandas(current)
        names = columns or [str(c) for c in ref.columns if c in cur.columns]
        if not names:
            raise DataError(
                "the two datasets share no column", fix="Compare data with the same columns."
            )
        report = detect(ref[names], cur[names], config=config)
    report.reference, report.current = reference, current
    return report


def plot_samples(
    report: DriftReport, reference: str, current: str, *, base_dir: Path | None = None
) -> dict[str, tuple[Any, Any]]:
    """Per-column samples of both sides for the HTML report's plots (at most PLOT_ROWS)."""
    profile = _profile_at(reference, base_dir or Path.cwd())
    cur = read_pandas(current)
    ref = None if profile is not None else read_pandas(reference)
    found: dict[str, tuple[Any, Any]] = {}
    for column in report.columns:
        name = column.column
        if profile is not None:
            ref_sample: Any = sample_of(profile.columns[name])
        else:
            assert ref is not None
            ref_sample = sample_values(ref[name].to_numpy()[:PLOT_ROWS], column.kind)
        cur_sample = sample_values(cur[name].to_numpy()[:PLOT_ROWS], column.kind)
        found[name] = (ref_sample, cur_sample)
    return found
