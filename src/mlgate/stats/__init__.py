"""Statistics for comparing models on the same rows."""

from mlgate.stats.paired import (
    BootstrapInterval,
    McNemarResult,
    mcnemar_exact,
    paired_bootstrap,
    supports_bootstrap,
)

__all__ = [
    "BootstrapInterval",
    "McNemarResult",
    "mcnemar_exact",
    "paired_bootstrap",
    "supports_bootstrap",
]
