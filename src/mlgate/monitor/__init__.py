"""Monitoring: drift checks and the cycle that retrains through the same gates."""

from typing import TYPE_CHECKING, Any

from mlgate.monitor.check import check_drift, plot_samples

if TYPE_CHECKING:
    from mlgate.monitor.cycle import CycleResult, recent_traffic, run_cycle

#: Names whose module loads on first use: the cycle brings the registry and the state
#: store (SQLAlchemy, about 0.5 s), which `mlgate drift` between two files never uses.
_LAZY = {"CycleResult", "recent_traffic", "run_cycle"}

__all__ = ["CycleResult", "check_drift", "plot_samples", "recent_traffic", "run_cycle"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'mlgate.monitor' has no attribute {name!r}")
    from mlgate.monitor import cycle

    value = getattr(cycle, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY)
