"""Gates: the verdicts a candidate model must pass before it moves on.

Computed from results and answers only: `absolute` (minimums per metric),
`compare` (champion against candidate on the same rows: paired intervals,
McNemar) and `decide` (the verdict on a comparison). Loading and scoring models
is the road's.
"""

from mlgate.gates.absolute import GateCheck, GateResult, check_gate_metrics, gate_absolute

__all__ = ["GateCheck", "GateResult", "check_gate_metrics", "gate_absolute"]
