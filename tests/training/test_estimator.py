"""Resolving `model.estimator` and `model.params`: real imports, real scikit-learn checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from mlgate.config.models import ModelConfig
from mlgate.errors import ConfigError
from mlgate.training.estimator import resolve_estimator

CONFIG = Path("/project/mlgate.yaml")
FOREST_PARAMS = (
    "bootstrap, ccp_alpha, class_weight, criterion, max_depth, max_features, max_leaf_nodes, "
    "max_samples, min_impurity_decrease, min_samples_leaf, min_samples_split, "
    "min_weight_fraction_leaf, monotonic_cst, n_estimators, n_jobs, oob_score, random_state, "
    "verbose, warm_start"
)


def resolve(estimator: str, **params: object) -> object:
    return resolve_estimator(ModelConfig(estimator=estimator, params=params), seed=7, file=CONFIG)


def exact(message: str) -> str:
    return f"^{re.escape(message)}$"


def test_resolves_a_class_by_import_path_with_its_params() -> None:
    found = resolve("sklearn.ensemble.RandomForestClassifier", n_estimators=3, max_depth=2)
    assert isinstance(found, RandomForestClassifier)
    assert (found.n_estimators, found.max_depth) == (3, 2)


def test_the_seed_becomes_random_state_unless_the_config_gives_one() -> None:
    seeded = resolve("sklearn.linear_model.LogisticRegression", max_iter=50)
    assert isinstance(seeded, LogisticRegression)
    assert (seeded.random_state, seeded.max_iter) == (7, 50)
    assert resolve("sklearn.linear_model.LogisticRegression", random_state=3).random_state == 3  # type: ignore[attr-defined]


def test_an_estimator_without_random_state_is_not_given_one() -> None:
    found = resolve("sklearn.neighbors.KNeighborsClassifier", n_neighbors=3)
    assert "random_state" not in found.get_params()  # type: ignore[attr-defined]


def test_a_module_that_does_not_exist() -> None:
    with pytest.raises(
        ConfigError,
        match=exact(
            "/project/mlgate.yaml: model.estimator: cannot import module 'nosuch.models' "
            "(No module named 'nosuch'). Got 'nosuch.models.Model'. "
            "Check the spelling, or install the package that provides it."
        ),
    ) as caught:
        resolve("nosuch.models.Model")
    assert (caught.value.field, caught.value.file) == ("model.estimator", str(CONFIG))


def test_a_module_that_fails_while_importing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_models.py").write_text("raise RuntimeError('no GPU found')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        ConfigError,
        match=exact(
            "/project/mlgate.yaml: model.estimator: cannot import module 'broken_models' "
            "(RuntimeError: no GPU found). Got 'broken_models.Model'. "
            "Check the spelling, or install the package that provides it."
        ),
    ):
        resolve("broken_models.Model")


def test_a_missing_class_suggests_the_closest_name() -> None:
    with pytest.raises(
        ConfigError,
        match=exact(
            "/project/mlgate.yaml: model.estimator: module 'sklearn.ensemble' has no class "
            "'RandomForestClassifer'. Got 'sklearn.ensemble.RandomForestClassifer'. "
            "Did you mean RandomForestClassifier? Check the class name's spelling and case."
        ),
    ):
        resolve("sklearn.ensemble.RandomForestClassifer")


def test_a_function_is_not_an_estimator() -> None:
    with pytest.raises(
        ConfigError,
        match=exact(
            "/project/mlgate.yaml: model.estimator: 'accuracy_score' is a function, not an "
            "estimator class. Got 'sklearn.metrics.accuracy_score'. Name a class with fit and "
            "predict, such as sklearn.ensemble.RandomForestClassifier."
        ),
    ):
        resolve("sklearn.metrics.accuracy_score")


def test_a_transformer_is_not_a_model() -> None:
    with pytest.raises(
        ConfigError,
        match=exact(
            "/project/mlgate.yaml: model.estimator: StandardScaler is not a model that predicts: "
            "it has no predict method. Got 'sklearn.preprocessing.StandardScaler'. Name a "
            "classifier or regressor, such as sklearn.ensemble.RandomForestClassifier; "
            "preprocessing is built from the schema (model.preprocessing)."
        ),
    ):
        resolve("sklearn.preprocessing.StandardScaler")


def test_a_class_that_cannot_be_cloned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "plain_models.py").write_text(
        "class Plain:\n"
        "    def fit(self, X, y):\n        return self\n"
        "    def predict(self, X):\n        return X\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        ConfigError,
        match=exact(
            "/project/mlgate.yaml: model.estimator: Plain is not scikit-learn-compatible: it has "
            "no get_params method, so it cannot be cloned for cross-validation. "
            "Got 'plain_models.Plain'. Wrap it in a class that inherits sklearn.base.BaseEstimator."
        ),
    ):
        resolve("plain_models.Plain")


def test_an_unknown_param_lists_the_allowed_ones() -> None:
    with pytest.raises(
        ConfigError,
        match=exact(
            "/project/mlgate.yaml: model.params.n_estimator: RandomForestClassifier has no "
            f"parameter 'n_estimator'. Allowed: {FOREST_PARAMS}."
        ),
    ) as caught:
        resolve("sklearn.ensemble.RandomForestClassifier", n_estimator=5)
    assert caught.value.field == "model.params.n_estimator"


def test_a_value_scikit_learn_rejects_gives_its_own_message() -> None:
    with pytest.raises(
        ConfigError,
        match=exact(
            "/project/mlgate.yaml: model.params.n_estimators: The 'n_estimators' parameter of "
            "RandomForestClassifier must be an int in the range [1, inf). Got 0 instead."
        ),
    ) as caught:
        resolve("sklearn.ensemble.RandomForestClassifier", n_estimators=0)
    assert caught.value.field == "model.params.n_estimators"
    assert caught.value.file == str(CONFIG)


def test_a_rejected_string_option_names_its_field() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^/project/mlgate\.yaml: model\.params\.criterion: "
        r"The 'criterion' parameter of RandomForestClassifier must be a str "
        r"among .*\. Got 'entropic' instead\.$",
    ):
        resolve("sklearn.ensemble.RandomForestClassifier", criterion="entropic")


def test_a_constructor_that_refuses_its_params(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "picky_models.py").write_text(
        "from sklearn.base import BaseEstimator\n"
        "class Picky(BaseEstimator):\n"
        "    def __init__(self, depth=1):\n"
        "        if depth < 0:\n"
        "            raise ValueError('depth must be >= 0')\n"
        "        self.depth = depth\n"
        "    def fit(self, X, y):\n        return self\n"
        "    def predict(self, X):\n        return X\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        ConfigError,
        match=exact(
            "/project/mlgate.yaml: model.params: Picky rejects its params: depth must be >= 0"
        ),
    ):
        resolve("picky_models.Picky", depth=-1)


def test_params_pass_through_to_an_estimator_that_takes_any(chatty: str) -> None:
    found = resolve(chatty, C=0.5, num_leaves=31, verbosity=-1)
    assert found.get_params() == {"C": 0.5, "num_leaves": 31, "verbosity": -1}  # type: ignore[attr-defined]


def test_a_pipeline_of_transformers_ends_in_the_estimator() -> None:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import PolynomialFeatures

    model = ModelConfig(
        estimator="sklearn.linear_model.LogisticRegression",
        params={"max_iter": 300},
        pipeline=[
            {"transformer": "sklearn.preprocessing.PolynomialFeatures", "params": {"degree": 2}}
        ],
    )
    found = resolve_estimator(model, seed=7, file=CONFIG)
    assert isinstance(found, Pipeline)
    assert [name for name, _ in found.steps] == ["0_polynomialfeatures", "estimator"]
    assert isinstance(found.steps[0][1], PolynomialFeatures)
    assert found.steps[0][1].degree == 2
    assert found.steps[-1][1].random_state == 7


def test_a_pipeline_step_is_checked_like_the_estimator() -> None:
    model = ModelConfig(
        estimator="sklearn.linear_model.LogisticRegression",
        pipeline=[
            {"transformer": "sklearn.preprocessing.PolynomialFeatures", "params": {"degre": 2}}
        ],
    )
    with pytest.raises(
        ConfigError,
        match=r"model\.pipeline\[0\]\.params\.degre: PolynomialFeatures has no parameter 'degre'",
    ):
        resolve_estimator(model, seed=7, file=CONFIG)
    model = ModelConfig(
        estimator="sklearn.linear_model.LogisticRegression",
        pipeline=[{"transformer": "sklearn.linear_model.Ridge"}],
    )
    with pytest.raises(
        ConfigError, match=r"model\.pipeline\[0\]\.transformer: Ridge is not a transformer"
    ):
        resolve_estimator(model, seed=7, file=CONFIG)


def test_a_pipeline_named_as_the_estimator_says_how_to_write_one() -> None:
    with pytest.raises(
        ConfigError,
        match=exact(
            f"{CONFIG}: model.estimator: a pipeline is written as its parts, not as "
            "sklearn.pipeline.Pipeline. Got 'sklearn.pipeline.Pipeline'. List the transformers "
            "under model.pipeline (each with its import path and params) and name the final "
            "estimator under model.estimator."
        ),
    ):
        resolve("sklearn.pipeline.Pipeline", steps=["a", "b"])


@pytest.mark.parametrize(
    ("estimator", "params"),
    [
        ("xgboost.XGBClassifier", {"n_estimators": 20, "max_depth": 2}),
        ("lightgbm.LGBMClassifier", {"n_estimators": 20, "verbose": -1}),
    ],
)
def test_params_pass_through_to_estimators_that_take_any_keyword(
    estimator: str, params: dict[str, object]
) -> None:
    found = resolve(estimator, **params)
    got = found.get_params()  # type: ignore[attr-defined]
    assert {key: got[key] for key in params} == params
    assert got["random_state"] == 7


def test_a_typo_on_a_scikit_learn_estimator_is_still_refused() -> None:
    with pytest.raises(
        ConfigError,
        match=exact(
            "/project/mlgate.yaml: model.params.n_estimator: RandomForestClassifier has no "
            f"parameter 'n_estimator'. Allowed: {FOREST_PARAMS}."
        ),
    ):
        resolve("sklearn.ensemble.RandomForestClassifier", n_estimator=3)


@pytest.mark.parametrize(
    ("estimator", "params", "typo", "hint"),
    [
        ("xgboost.XGBClassifier", {"max_dept": 3}, "max_dept", "Did you mean 'max_depth'? "),
        (
            "lightgbm.LGBMClassifier",
            {"n_estimator": 3},
            "n_estimator",
            "Did you mean 'n_estimators'? ",
        ),
        ("lightgbm.LGBMClassifier", {"num_leaves": 7, "leaf_size": 3}, "leaf_size", ""),
    ],
)
def test_a_typo_on_an_estimator_that_takes_any_keyword_is_refused(
    estimator: str, params: dict[str, object], typo: str, hint: str
) -> None:
    """The library would train with its default and, at best, warn in the middle of the fit."""
    with pytest.raises(ConfigError) as caught:
        resolve(estimator, **params)
    message = str(caught.value)
    library = estimator.partition(".")[0]
    name = estimator.rpartition(".")[2]
    assert message.startswith(
        f"/project/mlgate.yaml: model.params.{typo}: {name} has no parameter {typo!r}, and "
        f"{library} would ignore it. {hint}Its parameters: "
    ), message
    assert caught.value.field == f"model.params.{typo}"


@pytest.mark.parametrize(
    ("estimator", "params"),
    [
        ("xgboost.XGBClassifier", {"eta": 0.1, "lambda": 1.0, "alpha": 0.5, "nthread": 1}),
        ("lightgbm.LGBMClassifier", {"min_data_in_leaf": 3, "feature_fraction": 0.5}),
    ],
)
def test_the_library_s_own_parameter_names_pass(estimator: str, params: dict[str, object]) -> None:
    got = resolve(estimator, **params).get_params()  # type: ignore[attr-defined]
    assert {key: got[key] for key in params} == params


def test_lightgbm_is_quiet_unless_the_config_says_otherwise() -> None:
    assert resolve("lightgbm.LGBMClassifier").get_params()["verbose"] == -1  # type: ignore[attr-defined]
    chatty = resolve("lightgbm.LGBMClassifier", verbosity=1).get_params()  # type: ignore[attr-defined]
    assert "verbose" not in chatty
    assert chatty["verbosity"] == 1


FACTORIES = """
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures


def make_model(degree=2, trees=10, random_state=None):
    return make_pipeline(
        PolynomialFeatures(degree),
        RandomForestClassifier(n_estimators=trees, random_state=random_state),
    )


def not_a_model():
    return "a model"
"""


def test_a_factory_in_the_project_folder_builds_the_estimator(tmp_path: Path) -> None:
    import sys

    (tmp_path / "team_factories.py").write_text(FACTORIES, encoding="utf-8")
    before = list(sys.path)
    model = ModelConfig(estimator="team_factories:make_model", params={"degree": 3})
    built = resolve_estimator(model, seed=7, file=CONFIG, project=tmp_path)
    assert built.steps[0][1].degree == 3  # type: ignore[attr-defined]
    assert built.steps[-1][1].random_state == 7  # type: ignore[attr-defined]  # the seed
    assert sys.path == before  # the folder was on the import path only while importing


def test_a_factory_must_return_an_estimator(tmp_path: Path) -> None:
    (tmp_path / "team_factories_bad.py").write_text(FACTORIES, encoding="utf-8")
    with pytest.raises(
        ConfigError,
        match=exact(
            f"{CONFIG}: model.estimator: not_a_model returned a str, which has no fit or "
            "predict or get_params method: not a scikit-learn-compatible estimator. Got "
            "'team_factories_bad:not_a_model'. Return an estimator, such as a "
            "sklearn.pipeline.Pipeline ending in a classifier or regressor."
        ),
    ):
        resolve_estimator(
            ModelConfig(estimator="team_factories_bad:not_a_model"),
            seed=7,
            file=CONFIG,
            project=tmp_path,
        )
    with pytest.raises(ConfigError, match=r"model\.params\.depth: make_model rejects its params"):
        resolve_estimator(
            ModelConfig(estimator="team_factories_bad:make_model", params={"depth": 2}),
            seed=7,
            file=CONFIG,
            project=tmp_path,
        )


def test_a_factory_path_is_module_colon_function() -> None:
    with pytest.raises(ValueError, match="must be module:function, such as mymodels:make_model"):
        ModelConfig(estimator="mymodels:")


@pytest.mark.parametrize(
    ("transformer", "params", "field"),
    [
        ("sklearn.preprocessing.FunctionTransformer", {"func": "numpy.log1p"}, "func"),
        (
            "sklearn.feature_selection.SelectFromModel",
            {"estimator": "sklearn.linear_model.Lasso"},
            "estimator",
        ),
    ],
)
def test_a_function_or_estimator_given_as_text_says_how_to_pass_one(
    transformer: str, params: dict[str, object], field: str
) -> None:
    model = ModelConfig(
        estimator="sklearn.linear_model.LogisticRegression",
        pipeline=[{"transformer": transformer, "params": params}],
    )
    with pytest.raises(ConfigError) as caught:
        resolve_estimator(model, seed=7, file=CONFIG)
    message = str(caught.value)
    assert message.startswith(f"{CONFIG}: model.pipeline[0].params.{field}: The '{field}'")
    assert message.endswith(
        f"mlgate.yaml gives {field} as text; a parameter that takes a function or an "
        "estimator cannot be written there. Build the model in a function of your own module "
        "(def build(): return SelectFromModel(RandomForestClassifier(), ...)), beside "
        "mlgate.yaml, name it as model.estimator: mymodule:build, and train again."
    ), message
