"""Batch scoring: a dataset through a registered version, as the gateway would serve it.

- `score`: the one entry point (`mlgate score`), engine `local` or `spark`;
  `ScoreResult` and `Refusal` say what it did.
- `source`: the input, a Parquet or CSV file or folder read batch by batch;
  `checks`: each batch through the gateway's input checks, bad rows set aside;
  `output` and `sink`: the output's columns, and a Parquet file or folder that
  appears whole; `local`: the streaming engine; `options`: what a run asks of
  either engine; `journal`: the run's rows in the prediction log (`--log`);
  `labels`: a label file's labels as feedback (`mlgate feedback`), joined to
  logged rows by request id and row id.
"""

from mlgate.scoring.labels import LabelsResult, send_labels
from mlgate.scoring.result import Refusal, ScoreResult
from mlgate.scoring.score import score

__all__ = ["LabelsResult", "Refusal", "ScoreResult", "score", "send_labels"]
