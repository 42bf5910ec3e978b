"""The dashboard at GET /ui: a static page in the package, and the figures it polls.

- `figures`: the rollout, the models and the traffic as JSON figures, read from
  the state store, the registry and the prediction log.
- `pages`: the page, its files and its reads as routes of the gateway's app.
"""

from mlgate.serving.ui.pages import CSP, ROUTES

__all__ = ["CSP", "ROUTES"]
