"""Statistics for comparing two models.

`paired`: McNemar's exact test and the paired bootstrap, on two models'
predictions for the same rows. `sequential`: an always-valid test of two
proportions (mixture SPRT), for A/B rollouts looked at after every interval.
"""

from mlgate.stats.paired import (
    BootstrapInterval,
    McNemarResult,
    mcnemar_exact,
    paired_bootstrap,
    supports_bootstrap,
)
from mlgate.stats.sequential import SequentialResult, msprt

__all__ = [
    "BootstrapInterval",
    "McNemarResult",
    "SequentialResult",
    "mcnemar_exact",
    "msprt",
    "paired_bootstrap",
    "supports_bootstrap",
]
