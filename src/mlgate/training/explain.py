"""Per-row feature attributions of a fitted model, with SHAP (the `mlgate[explain]` extra).

A tree ensemble at the end of the preprocessing pipeline (scikit-learn's forests and
gradient boosting, XGBoost, LightGBM, CatBoost) is explained exactly by SHAP's tree
explainer on the encoded rows; the encoded columns are summed back to the feature
they came from (a one-hot category's columns to its source column), so the
attributions are of the model's input features. SHAP explains the model's raw
output as it defines it (`output`): class probabilities for scikit-learn's forests,
the margin (log-odds) for boosted trees, the value for regressors. Any other model
gets a sampled kernel estimate on the input features, against background rows from
its stored test set, of its class probabilities (or value). For every row and
output, the base value plus the attributions adds up to that output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlgate.errors import ConfigError
from mlgate.training.preprocessing import is_tree_ensemble, prepare_features

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EXTRA", "Explainer", "Explanation", "explainer_for", "shap_installed"]

#: The optional dependency the explanations need.
EXTRA = "mlgate[explain]"
#: Background rows the kernel estimate integrates features out over.
BACKGROUND_ROWS = 20
#: Coalitions the kernel estimate samples per row, on top of two per feature.
KERNEL_SAMPLES = 64


def shap_installed() -> bool:
    """Whether SHAP can be imported."""
    import importlib.util

    return importlib.util.find_spec("shap") is not None


@dataclass
class Explanation:
    """Attributions of `rows` rows: per output, a base value and per row one number a
    feature, which with the base value add up to that output."""

    method: str
    output: str
    outputs: list[str]
    features: list[str]
    base_values: list[float]
    #: [row][output][feature]
    attributions: list[list[list[float]]]


@dataclass
class Explainer:
    """How one fitted model is explained; built once per served version."""

    features: list[str]
    kinds: dict[str, str]
    outputs: list[str]
    method: str
    output: str
    shap_explainer: Any
    #: The pipeline's steps before the tree model (tree method).
    transforms: list[Any]
    #: For each input feature, its encoded columns (tree method).
    columns_of: dict[str, list[int]]

    def explain(self, X: pd.DataFrame) -> Explanation:
        """The attributions of `X`'s rows (features in model order)."""
        import numpy as np

        if self.method == "tree":
            encoded = X
            for step in self.transforms:
                encoded = step.transform(encoded)
            values = self.shap_explainer.shap_values(np.asarray(encoded, dtype=np.float64))
        else:
            values = self.shap_explainer.shap_values(
                X.to_numpy(dtype=object),
                nsamples=2 * len(self.features) + KERNEL_SAMPLES,
                silent=True,
            )
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 2:  # one output: [rows, columns]
            values = values[:, :, None]
        # [rows, encoded columns, outputs] -> [rows, outputs, input features]
        per_feature = (
            np.stack([values[:, cols, :].sum(axis=1) for cols in self.columns_of.values()], axis=2)
            if self.method == "tree"
            else values.transpose(0, 2, 1)
        )
        base = np.atleast_1d(np.asarray(self.shap_explainer.expected_value, dtype=np.float64))
        return Explanation(
            method=self.method,
            output=self.output,
            outputs=self.outputs[: per_feature.shape[1]]
            if len(self.outputs) >= per_feature.shape[1]
            else [str(i) for i in range(per_feature.shape[1])],
            features=list(self.features),
            base_values=base.reshape(-1).tolist(),
            attributions=per_feature.tolist(),
        )


def explainer_for(
    model: Any,
    task: str,
    kinds: dict[str, str],
    classes: list[Any] | None,
    target: str,
    background: pd.DataFrame | None,
) -> Explainer:
    """The explainer of a fitted model whose input features are `kinds` (in model order);
    `background` (input rows, e.g. the stored test set) is needed for a model that is not
    a tree ensemble. Raises ConfigError naming the extra when SHAP is not installed."""
    if not shap_installed():
        raise ConfigError(
            "explanations need SHAP, which is not installed.",
            fix=f"Install the extra: pip install '{EXTRA}'",
            show_value=False,
        )
    labels = [str(c) for c in classes or []]
    if is_tree_ensemble(model):
        found = _tree(model, task, kinds, labels, target)
        if found is not None:
            return found
    return _kernel(model, task, kinds, labels, target, background)


def _shap() -> Any:
    """SHAP, imported without the notices its plotting dependency (matplotlib) gives on
    import: nothing here plots."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        import shap
    return shap


def _tree(
    model: Any, task: str, kinds: dict[str, str], labels: list[str], target: str
) -> Explainer | None:
    """SHAP's tree explainer on the encoded rows; None when the pipeline's encoded columns
    cannot be traced back to the input features (a custom transformer)."""
    shap = _shap()

    transforms, estimator = _split(model)
    columns_of = _columns_of(transforms, list(kinds))
    if columns_of is None:
        return None
    explainer = shap.TreeExplainer(estimator)
    probability = task == "classification" and _sums_to_probability(estimator)
    output = "value" if task == "regression" else ("probability" if probability else "margin")
    outputs = [target] if task == "regression" else labels
    if task == "classification" and not probability and len(labels) == 2:
        outputs = [labels[1]]  # one margin: the log-odds of the second class
    return Explainer(
        features=list(kinds),
        kinds=kinds,
        outputs=outputs,
        method="tree",
        output=output,
        shap_explainer=explainer,
        transforms=transforms,
        columns_of=columns_of,
    )


def _sums_to_probability(estimator: Any) -> bool:
    """Whether SHAP explains this tree model's probabilities (scikit-learn's forests and
    single trees average leaf probabilities) rather than a margin (boosting)."""
    module = type(estimator).__module__
    return module.startswith(("sklearn.ensemble._forest", "sklearn.tree"))


def _kernel(
    model: Any,
    task: str,
    kinds: dict[str, str],
    labels: list[str],
    target: str,
    background: pd.DataFrame | None,
) -> Explainer:
    """A sampled kernel estimate on the input features."""
    shap = _shap()

    if background is None or background.empty:
        raise ConfigError(
            "a model that is not a tree ensemble is explained against background rows, and "
            "this version has no stored test set.",
            fix="Register the version with this mlgate (runs store their test set).",
            show_value=False,
        )
    features = list(kinds)
    rows = background[features].sample(n=min(BACKGROUND_ROWS, len(background)), random_state=0)
    reference = prepare_features(rows, kinds).to_numpy(dtype=object)
    probabilities = task == "classification" and hasattr(model, "predict_proba")

    def answer(block: Any) -> Any:
        import numpy as np
        import pandas as pd

        frame = prepare_features(pd.DataFrame(block, columns=features), kinds)
        if probabilities:
            return np.asarray(model.predict_proba(frame), dtype=np.float64)
        return np.asarray(model.predict(frame), dtype=np.float64)

    if task == "classification" and not probabilities:
        raise ConfigError(
            "this classifier gives no probabilities, so its answers cannot be attributed.",
            show_value=False,
        )
    return Explainer(
        features=features,
        kinds=kinds,
        outputs=labels if probabilities else [target],
        method="kernel",
        output="probability" if probabilities else "value",
        shap_explainer=shap.KernelExplainer(answer, reference),
        transforms=[],
        columns_of={},
    )


def _split(model: Any) -> tuple[list[Any], Any]:
    """The pipeline's transforming steps, in order, and the estimator at its end (through
    pipelines within pipelines)."""
    transforms: list[Any] = []
    while getattr(model, "steps", None):
        transforms += [step for _, step in model.steps[:-1] if step not in (None, "passthrough")]
        model = model.steps[-1][1]
    return transforms, model


def _columns_of(transforms: list[Any], features: list[str]) -> dict[str, list[int]] | None:
    """For each input feature, the encoded columns made from it; None when a step's
    output cannot be traced (only mlgate's ColumnTransformer of imputers, scalers and
    one-hot encoders can, or no step at all)."""
    if not transforms:
        return {name: [i] for i, name in enumerate(features)}
    if len(transforms) != 1 or not hasattr(transforms[0], "output_indices_"):
        return None
    ct = transforms[0]
    found: dict[str, list[int]] = {name: [] for name in features}
    for name, step, columns in ct.transformers_:
        where = ct.output_indices_.get(name)
        if where is None or step == "drop" or not columns:
            continue
        width = where.stop - where.start
        names = [features[c] if isinstance(c, int) else str(c) for c in columns]
        if any(n not in found for n in names):
            return None
        if width == len(names):  # one column each (impute, scale)
            for offset, n in enumerate(names):
                found[n].append(where.start + offset)
            continue
        categories = getattr(step, "categories_", None)
        if categories is None or getattr(step, "drop_idx_", None) is not None:
            return None
        sizes = [len(c) for c in categories]
        if sum(sizes) != width:
            return None
        start = where.start
        for n, size in zip(names, sizes, strict=True):
            found[n] += list(range(start, start + size))
            start += size
    return found
