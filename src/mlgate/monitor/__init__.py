"""Monitoring: drift checks and the cycle that retrains through the same gates."""

from typing import TYPE_CHECKING, Any

from mlgate.monitor.check import check_drift, plot_samples

if TYPE_CHECKING:
    from mlgate.monitor.cycle import run_cycle
    from mlgate.monitor.result import CycleResult
    from mlgate.monitor.traffic import recent_traffic

#: Names whose module loads on first use: the cycle brings the registry and the state
#: store (SQLAlchemy, about 0.5 s), which `mlgate drift` between two files never uses.
_LAZY = {
    "CycleResult": "mlgate.monitor.result",
    "recent_traffic": "mlgate.monitor.traffic",
    "run_cycle": "mlgate.monitor.cycle",
}

__all__ = ["CycleResult", "check_drift", "plot_samples", "recent_traffic", "run_cycle"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'mlgate.monitor' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
