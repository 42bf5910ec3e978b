"""The gateway: serves registered models through the rollout strategies.

- `gateway`: the core, free of any web framework: which versions serve, the
  split between them, and the prediction log (`Gateway`, `Routing`, `Served`);
  `records` encodes each answer's log record, written to the spool before the
  answer is sent.
- `runtime`: a loaded version, ready to predict (`ServedModel`, `Prediction`).
- `batch`, `coercion`, `tensors`, `body`: request bodies into a checked `Batch`.
- `app`: the ASGI app factory (`create_app`), built from the routes of
  `protocols/` (v2, mlflow, plain, prometheus), `feedback` and `admin`;
  `responses` holds the one error-to-response mapping, `fastpath` the direct
  path to the prediction routes.
- `limits`: every limit on what a client sends, in one place; `connections`
  keeps the ones on connections and headers before the app sees a request;
  `request_ids` issues signed request ids and checks the headers a client sends
  about itself; `tokens` checks bearer tokens and slows down guessing.
- `server`: loads a config's gateway and runs it under uvicorn, with the log's
  converter in a process beside it.

Input refusals are `mlgate.errors.InputError`; a version named by a request
that fails is `mlgate.errors.VersionFailed`; an answer whose log record cannot be
written is `mlgate.errors.LogUnavailable` (503), never a 200.
"""

from mlgate.serving.batch import Batch
from mlgate.serving.gateway import Gateway, Routing, Served
from mlgate.serving.runtime import Prediction, ServedModel
from mlgate.serving.server import build_gateway, run_server

__all__ = [
    "Batch",
    "Gateway",
    "Prediction",
    "Routing",
    "Served",
    "ServedModel",
    "build_gateway",
    "run_server",
]
