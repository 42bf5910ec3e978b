"""The pipeline configuration: what `mlgate.yaml` may say, with its defaults."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from mlgate.config.monitor import MonitorConfig
from mlgate.config.rollout import RolloutConfig

__all__ = [
    "CardConfig",
    "DataConfig",
    "EvaluationConfig",
    "GatesConfig",
    "ModelConfig",
    "PipelineConfig",
    "SplitConfig",
]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class _Strict(BaseModel):
    # A number where text is expected (`name: 2024`, a column called `1`) is meant as text.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class SplitConfig(_Strict):
    """How to hold out a test set when no test file is given."""

    test_size: float = Field(0.2, gt=0.0, lt=1.0, description="Share of rows held out.")
    seed: int = Field(42, description="Seed of the shuffle.")
    stratify: bool = Field(True, description="Keep class shares equal (classification only).")


class DataConfig(_Strict):
    """Where the data is and which column is the target."""

    train: str = Field(description="CSV or Parquet file: a local path or an fsspec URL.")
    test: str | None = Field(None, description="Held-out test file; or give `split` instead.")
    split: SplitConfig | None = Field(None, description="Hold out part of `train` as the test set.")
    target: str = Field(description="Name of the column to predict.")
    features: list[str] | None = Field(
        None, description="Columns the model sees; default: every column but target and drop."
    )
    drop: list[str] = Field(default_factory=list, description="Columns the model never sees.")
    drop_missing_target: bool = Field(
        False,
        description="Leave out rows whose target is missing (counted in the run's result "
        "and warnings) instead of refusing the data.",
    )
    engine: Literal["local", "spark"] = Field(
        "local",
        description="Where data commands run by default: in this process (local) or on "
        "Spark (the active SparkSession, else a local one); `--engine` overrides it. With "
        "spark, `mlgate monitor` profiles its window of served rows for drift on Spark.",
    )
    spark: dict[str, str] = Field(
        default_factory=dict,
        description="spark.* settings of the SparkSession mlgate starts when none is "
        "active (e.g. spark.master: local[4]).",
    )

    @field_validator("spark")
    @classmethod
    def _spark_settings(cls, value: dict[str, str]) -> dict[str, str]:
        wrong = [key for key in value if not key.startswith("spark.")]
        if wrong:
            raise ValueError(f"Spark settings start with 'spark.'; got {', '.join(wrong)}")
        return value

    @model_validator(mode="after")
    def _one_way_to_test(self) -> DataConfig:
        if self.test is not None and self.split is not None:
            raise ValueError("give either `test` (a file) or `split` (a hold-out), not both")
        return self

    @property
    def holdout(self) -> SplitConfig:
        """The split to use when there is no test file."""
        return self.split or SplitConfig()


def _import_path(value: str) -> str:
    module, _, name = value.rpartition(".")
    if not module or not name or not all(p.isidentifier() for p in value.split(".")):
        raise ValueError("must be an import path such as sklearn.linear_model.LogisticRegression")
    return value


class StepConfig(_Strict):
    """One step of `model.pipeline`: a transformer by import path, with its params."""

    transformer: str = Field(
        description="Import path of a scikit-learn-compatible transformer, "
        "e.g. sklearn.preprocessing.PolynomialFeatures."
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments for the transformer."
    )

    @field_validator("transformer")
    @classmethod
    def _dotted(cls, value: str) -> str:
        return _import_path(value)


class ModelConfig(_Strict):
    """The estimator to train and how its inputs are prepared."""

    estimator: str = Field(
        description="Import path of a scikit-learn-compatible class, "
        "e.g. sklearn.ensemble.RandomForestClassifier (or module:function, a function "
        "that builds one from the params)."
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments for the estimator."
    )
    preprocessing: Literal["auto", "none"] = Field(
        "auto",
        description="auto: impute and scale numeric, one-hot categorical columns; none: raw.",
    )
    pipeline: list[StepConfig] = Field(
        default_factory=list,
        description="Transformers run in order between the preprocessing and the estimator, "
        "e.g. [{transformer: sklearn.preprocessing.PolynomialFeatures, params: {degree: 2}}].",
    )
    cv_folds: int = Field(
        5, ge=0, description="Cross-validation folds on the training set; 0 turns it off."
    )
    code: list[str] = Field(
        default_factory=list,
        description="The project's own Python files the model's classes live in (paths beside "
        "mlgate.yaml, e.g. [mymodels.py]): stored with every version, their classes trusted "
        "for that version alone, so the gateway and MLflow load it without them installed.",
    )

    @field_validator("code")
    @classmethod
    def _python_files(cls, value: list[str]) -> list[str]:
        for path in value:
            if not path.endswith(".py") or Path(path).is_absolute() or ".." in Path(path).parts:
                raise ValueError(
                    f"{path!r}: each entry is a .py file in the project's folder, such as "
                    "mymodels.py"
                )
            if not Path(path).stem.isidentifier():
                raise ValueError(f"{path!r}: its name must be a Python module name")
        return value

    @field_validator("estimator")
    @classmethod
    def _dotted(cls, value: str) -> str:
        module, colon, function = value.partition(":")
        if colon:
            if not function.isidentifier() or not all(p.isidentifier() for p in module.split(".")):
                raise ValueError("must be module:function, such as mymodels:make_model")
            return value
        return _import_path(value)

    @field_validator("cv_folds")
    @classmethod
    def _folds(cls, value: int) -> int:
        if value == 1:
            raise ValueError("must be 0 (no cross-validation) or at least 2")
        return value


class EvaluationConfig(_Strict):
    """What to measure beyond the overall metrics."""

    slices: list[str] = Field(
        default_factory=list, description="Columns whose values each get their own metrics."
    )


class GatesConfig(_Strict):
    """What a candidate must meet: absolute bounds, and no regression against the champion."""

    min: dict[str, float] = Field(
        default_factory=dict, description="Metric floors, e.g. {accuracy: 0.85, f1: 0.78}."
    )
    max: dict[str, float] = Field(
        default_factory=dict, description="Metric ceilings, e.g. {rmse: 12.5, log_loss: 0.4}."
    )
    max_regression: dict[str, float] = Field(
        default_factory=dict,
        description="Largest allowed loss against the champion, in the metric's units, "
        "e.g. {accuracy: 0.02}.",
    )
    max_relative_regression: dict[str, float] = Field(
        default_factory=dict,
        description="Largest allowed loss against the champion as a share of its value, "
        "e.g. {f1: 0.05} for 5%.",
    )
    slice_max_regression: float | None = Field(
        None,
        ge=0.0,
        description="Largest allowed loss, on every slice of evaluation.slices, of each "
        "metric under max_regression.",
    )
    max_latency_ratio: float | None = Field(
        None,
        ge=1.0,
        description="Largest p99 one-row latency of the candidate over the champion's, both "
        "served as the gateway serves them (ONNX Runtime where a version has an export) on "
        "the same rows; off by default. Set it to rollout.analysis.max_p99_latency_ratio, and "
        "a candidate the canary would roll back on latency fails here first. A difference "
        "within 1 ms passes, whatever the ratio.",
    )
    rule: Literal["point", "non_inferiority", "significant_regression"] = Field(
        "point",
        description="How a regression is judged: point (the observed difference against "
        "the margin), non_inferiority (the interval's worse end against the margin), or "
        "significant_regression (fail only when the interval shows a loss beyond the margin).",
    )
    confidence: float = Field(
        0.95, gt=0.5, lt=1.0, description="Confidence of the paired bootstrap intervals."
    )

    @property
    def compares(self) -> bool:
        """Whether any rule needs a champion to compare with."""
        return bool(self.max_regression or self.max_relative_regression)


class CardConfig(_Strict):
    """What the model card says of the model's purpose, beside the evidence mlgate keeps."""

    intended_use: str = Field("", description="What the model is for, and for whom.")
    owners: list[str] = Field(
        default_factory=list, description="Who answers for the model (names, teams, emails)."
    )
    limitations: str = Field("", description="Where it should not be used, and known gaps.")


class PipelineConfig(_Strict):
    """One model's road: data, schema, estimator, evaluation and gates."""

    name: str = Field(description="Model name: letters, digits, '.', '_' and '-'.")
    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="auto: classification for string, bool or few integer labels."
    )
    seed: int = Field(42, description="Seed for splits, folds and estimators that take one.")
    data: DataConfig
    schema_file: str | None = Field(
        None,
        alias="schema",
        description="Schema YAML; without it the schema is inferred and saved with the run.",
    )
    model: ModelConfig
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    gates: GatesConfig = Field(default_factory=GatesConfig)
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    card: CardConfig = Field(
        default_factory=CardConfig,
        description="Intended use and owners, written into every version's model card.",
    )

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, coerce_numbers_to_str=True
    )

    _source: Path | None = PrivateAttr(None)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(
                "must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return value

    @property
    def source(self) -> Path | None:
        """The file this config was read from, if any."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """The folder relative paths are resolved against."""
        return self._source.parent if self._source else Path.cwd()

    def resolve(self, location: str) -> str:
        """A data or schema location, made absolute against the config's folder."""
        if "://" in location:
            return location
        path = Path(location).expanduser()
        return str(path if path.is_absolute() else self.base_dir / path)
