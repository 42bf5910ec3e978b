"""Keeping what estimator libraries print during fit and predict off stdout.

LightGBM and XGBoost route their native logs through Python callbacks that
print; on stdout those lines would corrupt `mlgate run --json`. They are sent to
the `mlgate.training` logger at debug level instead.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator

__all__ = ["quiet_libraries"]

logger = logging.getLogger("mlgate.training")


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Within the block, whatever is printed to stdout goes to the debug log instead."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        for line in buffer.getvalue().splitlines():
            if line.strip():
                logger.debug("%s", line)
