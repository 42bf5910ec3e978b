"""The use cases every face of mlgate calls: one implementation of each act.

- `run`: validate → train → evaluate → gate → register (`road.run`);
- `evaluate_saved`, `compare_refs`, `gate_comparison_file`: score and judge models;
- `register_run`: a run's version into the registry, aliases moved by its verdict;
- `promote`, `rollback`, `nominate`, `abort`: alias moves and the rollouts they end;
- `start_rollout` (deploy), `rollout_status`: a challenger's rollout.

The command line, the gateway's admin API, the rollout controller and the monitor
open one `mlgate.project.Project` and call these.
"""

from mlgate.road.acts import Act, abort, nominate, promote, rollback
from mlgate.road.compare import compare_refs, compare_with_champion
from mlgate.road.evaluate import evaluate_saved
from mlgate.road.gate import gate_comparison_file
from mlgate.road.release import register_run
from mlgate.road.rollouts import rollout_status, start_rollout
from mlgate.road.run import default_output, run

__all__ = [
    "Act",
    "abort",
    "compare_refs",
    "compare_with_champion",
    "default_output",
    "evaluate_saved",
    "gate_comparison_file",
    "nominate",
    "promote",
    "register_run",
    "rollback",
    "rollout_status",
    "run",
    "start_rollout",
]
