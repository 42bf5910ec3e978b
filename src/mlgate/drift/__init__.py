"""Drift between reference and current data.

The stat-test registry (`stattests`), reference profiles kept beside a model
(`profile`), the detector over frames and files (`detector`), and what it
finds (`result`).
"""

from mlgate.drift.detector import (
    benjamini_hochberg,
    compare_column,
    detect,
    detect_files,
    detect_profiles,
    sample_values,
)
from mlgate.drift.profile import PROFILE, ColumnProfile, Profile, build_profile, sample_of
from mlgate.drift.result import ColumnDrift, DriftReport
from mlgate.drift.stattests import (
    CategoricalSample,
    NumericSample,
    StatTest,
    TestOutcome,
    available_tests,
    get_test,
    ks_statistic,
    register_test,
    wasserstein_distance,
)

__all__ = [
    "PROFILE",
    "CategoricalSample",
    "ColumnDrift",
    "ColumnProfile",
    "DriftReport",
    "NumericSample",
    "Profile",
    "StatTest",
    "TestOutcome",
    "available_tests",
    "benjamini_hochberg",
    "build_profile",
    "compare_column",
    "detect",
    "detect_files",
    "detect_profiles",
    "get_test",
    "ks_statistic",
    "register_test",
    "sample_of",
    "sample_values",
    "wasserstein_distance",
]
