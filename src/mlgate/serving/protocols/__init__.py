"""The protocols the gateway speaks, one module each, every one a list of `Route`s.

- `v2`: the Open Inference Protocol (KServe V2): health, metadata, inference,
  and inference by a named version.
- `mlflow`: MLflow's scoring protocol: /invocations, /ping, /health, /version.
- `plain`: plain JSON rows at /predict.
- `prometheus`: the metrics, scraped at /metrics.
"""
