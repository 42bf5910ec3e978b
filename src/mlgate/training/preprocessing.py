"""The preprocessing pipeline built from the schema: impute, scale, one-hot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlgate.data.disclosure import column, examples
from mlgate.data.schema import Schema
from mlgate.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "build_model",
    "feature_kinds",
    "final_estimator",
    "is_tree_ensemble",
    "prepare_features",
]

#: The value missing categories are imputed with: a category of its own.
MISSING = "(missing)"


def feature_kinds(frame: pd.DataFrame, features: list[str], schema: Schema) -> dict[str, str]:
    """Each feature's kind, 'numeric' or 'categorical', from the schema or else the data."""
    import pandas as pd

    kinds: dict[str, str] = {}
    for name in features:
        rules = schema.columns.get(name)
        dtype = rules.dtype if rules else None
        if dtype == "datetime" or (
            dtype is None and pd.api.types.is_datetime64_any_dtype(frame[name])
        ):
            raise DataError(
                f"feature {column(name)} holds dates, which models cannot take as they are.",
                fix=f"Derive numbers from it in your data, or list {column(name)} under data.drop.",
            )
        if dtype in ("int", "float") or (
            dtype is None
            and pd.api.types.is_numeric_dtype(frame[name])
            and not pd.api.types.is_bool_dtype(frame[name])
        ):
            kinds[name] = "numeric"
        else:
            kinds[name] = "categorical"
    return kinds


def prepare_features(
    frame: pd.DataFrame, kinds: dict[str, str], *, source: str | None = None
) -> pd.DataFrame:
    """The feature columns in model order, numeric as float and categories as text.

    A value in a numeric column that is not a number is refused, never silently
    turned into a missing value.
    """
    import pandas as pd

    columns: dict[str, Any] = {}
    bad: list[str] = []
    for name, kind in kinds.items():
        series = frame[name]
        if kind == "numeric":
            numbers = pd.to_numeric(series, errors="coerce").astype("float64")
            wrong = numbers.isna() & series.notna()
            if wrong.any():
                shown = examples(series[wrong].unique()[:3])
                bad.append(
                    f"{column(name)} ({int(wrong.sum())} value(s)"
                    + (f", e.g. {shown})" if shown else ")")
                )
            columns[name] = numbers
        else:
            # Missing categories become a category of their own here rather than in an
            # imputer, which keeps the fitted pipeline convertible to ONNX.
            text = series.astype(object).where(series.notna(), MISSING)
            columns[name] = text.map(str).astype(object)
    if bad:
        raise DataError(
            f"numeric feature column(s) hold values that are not numbers: {'; '.join(bad)}.",
            source=source,
            fix="Fix those values, or declare the column `dtype: string` in the schema.",
        )
    return pd.DataFrame(columns, index=frame.index)


#: Libraries whose estimators are trees (split on thresholds, blind to a feature's scale).
_TREE_LIBRARIES = ("xgboost", "lightgbm", "catboost")
#: scikit-learn's tree models, by class name.
_TREE_NAMES = ("Tree", "Trees", "Forest", "GradientBoosting")


def final_estimator(model: Any) -> Any:
    """The estimator at the end of `model`, through pipelines within pipelines (the one
    `model.pipeline` builds sits inside the one `build_model` puts the preprocessing in)."""
    while getattr(model, "steps", None):
        model = model.steps[-1][1]
    return model


def is_tree_ensemble(estimator: Any) -> bool:
    """Whether `estimator` (or the one a pipeline ends in) is a tree model, which scaling
    cannot change but can hurt: ONNX Runtime scales in float32, and a value that sits on
    a split threshold (HistGradientBoosting's thresholds are data values) then takes the
    other branch."""
    return any(_is_tree_class(kind) for kind in type(final_estimator(estimator)).__mro__)


def _is_tree_class(kind: type[Any]) -> bool:
    if kind.__module__.partition(".")[0] in _TREE_LIBRARIES:
        return True
    return kind.__module__.startswith(("sklearn.ensemble", "sklearn.tree")) and any(
        part in kind.__name__ for part in _TREE_NAMES
    )


def build_model(estimator: Any, kinds: dict[str, str], preprocessing: str) -> Any:
    """A scikit-learn Pipeline: the schema's preprocessing, then the estimator. `auto`
    imputes numbers (and scales them, except for tree models) and one-hot encodes
    categories."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if preprocessing == "none":
        return Pipeline([("model", estimator)])
    numeric = [n for n, k in kinds.items() if k == "numeric"]
    categorical = [n for n, k in kinds.items() if k == "categorical"]
    parts: list[tuple[str, Any, list[str]]] = []
    if numeric:
        steps: list[tuple[str, Any]] = [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True))
        ]
        if not is_tree_ensemble(estimator):
            steps.append(("scale", StandardScaler()))
        parts.append(("numeric", Pipeline(steps), numeric))
    if categorical:
        parts.append(
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                categorical,
            )
        )
    return Pipeline(
        [("preprocess", ColumnTransformer(parts, remainder="drop")), ("model", estimator)]
    )
