"""Keeping what estimator libraries print during fit and predict off stdout.

LightGBM and XGBoost route their native logs through Python callbacks that
print; on stdout those lines would corrupt `mlgate run --json`, which writes one
JSON document there. They go to stderr instead, where a person still sees them.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

__all__ = ["quiet_libraries"]


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Within the block, whatever Python code prints to stdout goes to stderr."""
    with contextlib.redirect_stdout(sys.stderr):
        yield
