"""Gates: the verdicts a candidate model must pass before it moves on."""

from mlgate.gates.absolute import GateCheck, GateResult, check_gate_metrics, gate_absolute

__all__ = ["GateCheck", "GateResult", "check_gate_metrics", "gate_absolute"]
