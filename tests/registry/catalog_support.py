"""What the catalog tests share: a small saved bundle, registering it, reading the moves."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier

from mlgate.registry.bundle import save_bundle
from mlgate.registry.catalog import Catalog, VersionInfo
from mlgate.training.preprocessing import build_model, prepare_features

KINDS = {"x1": "numeric", "colour": "categorical"}


def exact(message: str) -> str:
    return f"^{re.escape(message)}$"


def save_classifier(
    estimator: Any,
    frame: pd.DataFrame,
    y: Any,
    kinds: dict[str, str],
    folder: Path,
    name: str = "demo",
) -> Any:
    """`estimator` fitted on `frame`'s `kinds` columns to the labels 'no'/'yes' in `y`,
    through mlgate's pipeline, and saved in `folder` the way `mlgate run` saves one;
    the fitted pipeline."""
    model = build_model(estimator, kinds, "auto")
    model.fit(prepare_features(frame, kinds), y)
    card = {
        "name": name,
        "task": "classification",
        "target": "label",
        "features": list(kinds),
        "kinds": kinds,
        "classes": ["no", "yes"],
    }
    save_bundle(model, folder, card)
    return model


def make_bundle(folder: Path, depth: int = 2) -> Path:
    """A small fitted pipeline saved the way `mlgate run` saves one."""
    rng = np.random.default_rng(depth)
    frame = pd.DataFrame({"x1": rng.normal(0, 1, 80), "colour": rng.choice(["red", "blue"], 80)})
    y = np.where(frame["x1"] > 0, "yes", "no")
    save_classifier(
        DecisionTreeClassifier(max_depth=depth, random_state=0), frame, y, KINDS, folder
    )
    return folder


def register(
    catalog: Catalog,
    bundle: Path,
    *,
    passed: bool = True,
    reasons: list[str] | None = None,
    sha256: str | None = None,
) -> VersionInfo:
    if sha256 is None:
        sha256 = json.loads((bundle / "model.json").read_text(encoding="utf-8"))["artifact"][
            "sha256"
        ]
    return catalog.register(
        "demo",
        bundle,
        passed=passed,
        reasons=reasons or [],
        metrics={"accuracy": 0.9 if passed else 0.5, "roc_auc": None},
        params={"estimator": "sklearn.tree.DecisionTreeClassifier", "param.max_depth": 2},
        tags={"mlgate.target": "label"},
        sha256=sha256,
        run_name="run-1",
    )


def moves(catalog: Catalog) -> list[tuple[Any, ...]]:
    return [
        (e.alias, e.from_version, e.to_version, e.action, e.actor, e.reason)
        for e in catalog.history("demo")
    ]
