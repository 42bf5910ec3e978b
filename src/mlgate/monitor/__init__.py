"""Monitoring: drift checks and the cycle that retrains through the same gates."""

from mlgate.monitor.check import check_drift, plot_samples
from mlgate.monitor.cycle import CycleResult, recent_traffic, run_cycle

__all__ = ["CycleResult", "check_drift", "plot_samples", "recent_traffic", "run_cycle"]
