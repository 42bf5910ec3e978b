"""Schemas: inference that reads well and fits fresh data, both YAML forms, clear errors."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
import yaml

from mlgate.data import ColumnSchema, infer_schema, load_schema, validate
from mlgate.data.infer import MAX_CATEGORIES, inference_header
from mlgate.data.io import to_polars
from mlgate.errors import DataError, MlgateError, SchemaError
from mlgate.scaffold.example import EXAMPLE_CONFIG, credit_data

COLUMN_KEYS = (
    "allow_inf, categories, dtype, max, max_missing_rate, mean_max, mean_min, min, "
    "nullable, std_max, std_min"
)
GLOBAL_KEYS = "allow_extra_columns, max_duplicate_rate, max_duplicates, max_rows, min_rows"

CUSTOMERS = pl.DataFrame(
    {
        "age": [23, 35, 41, 52, 29, 64, 38, 47, 31, 58],
        "income": [31e3, 52000.5, None, 88e3, 41e3, 120e3, 56e3, None, 39e3, 97e3],
        "delta": [-2.5, 0.0, 1.25, -0.75, 3.0, -1.0, 0.5, 2.0, -3.5, 1.0],
        "plan": ["basic", "pro", "basic", "team", "pro", "basic", "team", "pro", "basic", None],
        "id": [f"u{i}" for i in range(10)],
        "active": [True, False, True, True, False, True, False, True, True, False],
    }
)

CUSTOMERS_YAML = """\
# Inferred for a test.
columns:
  age:
    dtype: int
    min: 0
    max: 166
    nullable: false
    max_missing_rate: 0.0
  income:
    dtype: float
    min: 0.0
    max: 504000.0
    nullable: true
    max_missing_rate: 0.32
  delta:
    dtype: float
    min: -20.0
    max: 15.0
    nullable: false
    max_missing_rate: 0.0
  plan:
    dtype: string
    categories:
    - basic
    - pro
    - team
    nullable: true
    max_missing_rate: 0.17
  id:
    dtype: string
    nullable: false
    max_missing_rate: 0.0
  active:
    dtype: bool
    nullable: false
    max_missing_rate: 0.0
_global:
  max_duplicates: 0
  min_rows: 1
"""


def exact(path: Path, message: str) -> str:
    return rf"^{re.escape(str(path))}: {message}$"


def write(tmp_path: Path, text: str, name: str = "schema.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- inference -----------------------------------------------------------------------------


def test_inference_writes_readable_yaml_with_every_rule() -> None:
    """Ten rows say little about the tails, so the bounds reach far past them."""
    assert infer_schema(CUSTOMERS).to_yaml("Inferred for a test.") == CUSTOMERS_YAML


def test_the_inferred_yaml_round_trips_through_load_schema(tmp_path: Path) -> None:
    schema = infer_schema(CUSTOMERS)
    path = schema.save(tmp_path / "nested" / "schema.yaml", header="line one\n\nline three")

    assert path.read_text(encoding="utf-8").startswith("# line one\n#\n# line three\ncolumns:\n")
    assert load_schema(path) == schema


def test_the_inference_header_explains_the_margins() -> None:
    header = inference_header("data/train.csv", 480, 7)
    text = infer_schema(CUSTOMERS).to_yaml(header)

    assert text.splitlines()[0] == (
        "# Schema inferred by mlgate "
        + text.split("mlgate ", 1)[1].split(" ", 1)[0]
        + " from data/train.csv (480 rows, 7 columns)."
    )
    assert all(line.startswith("#") for line in text.splitlines()[: len(header.splitlines())])
    assert "max_missing_rate: observed rate x 1.5 + 0.02" in text
    assert yaml.safe_load(text)["_global"] == {"max_duplicates": 0, "min_rows": 1}


def test_the_inferred_schema_accepts_its_own_data() -> None:
    assert validate(CUSTOMERS, infer_schema(CUSTOMERS)).passed


def test_inference_takes_pandas_and_polars_alike() -> None:
    frame = CUSTOMERS.to_pandas()

    assert infer_schema(frame) == infer_schema(CUSTOMERS)


def test_an_integer_column_with_gaps_read_by_pandas_is_inferred_and_accepted() -> None:
    frame = pd.DataFrame({"n": [1, 2, np.nan, 4, 5]})  # pandas stores it as float64

    schema = infer_schema(frame)

    assert schema.columns["n"].dtype == "float"
    assert schema.columns["n"].max_missing_rate == 0.32
    assert validate(pd.DataFrame({"n": [1, 2, 3]}), schema).passed


def test_a_column_seen_only_non_negative_keeps_min_at_or_above_zero() -> None:
    schema = infer_schema(pl.DataFrame({"count": [0, 3, 9, 40], "share": [0.01, 0.2, 0.5, 0.9]}))

    assert schema.columns["count"].min == 0
    assert schema.columns["share"].min == 0.0


def test_an_integer_column_of_zeros_and_ones_is_bounded_by_them() -> None:
    frame = pl.DataFrame({"claim": [0, 1] * 50, "score": [0.0, 1.0] * 50})

    schema = infer_schema(frame)

    assert (schema.columns["claim"].min, schema.columns["claim"].max) == (0, 1)
    assert schema.columns["score"].max > 1.0  # a float is a measurement: it keeps its margin
    assert not validate(pl.DataFrame({"claim": [0, 2], "score": [0.5, 0.5]}), schema).passed


def test_bounds_reach_six_tail_gaps_past_the_extremes() -> None:
    """100 rows: k = 5, so 6 x (extreme - 5th value in) = 30 past each end."""
    ints = list(range(100))
    schema = infer_schema(pl.DataFrame({"i": ints, "f": [float(v - 50) for v in ints]}))

    assert (schema.columns["i"].min, schema.columns["i"].max) == (0, 129)
    assert isinstance(schema.columns["i"].max, int)
    assert (schema.columns["f"].min, schema.columns["f"].max) == (-80.0, 79.0)
    assert isinstance(schema.columns["f"].max, float)


def test_a_long_tail_widens_its_side_only() -> None:
    values = [float(v) for v in range(100)] + [1000.0]
    rules = infer_schema(pl.DataFrame({"x": values})).columns["x"]

    assert rules.min == 0.0
    assert rules.max == 6430.0  # 1000 + 6 x (1000 - 95): k = 101 // 20 = 5


def test_a_constant_column_gets_a_margin_of_five_percent() -> None:
    schema = infer_schema(pl.DataFrame({"c": [-5.5, -5.5, -5.5]}))

    assert (schema.columns["c"].min, schema.columns["c"].max) == (-5.78, -5.22)


@pytest.mark.parametrize(
    "values",
    [
        pytest.param([1e-12, 2e-12], id="tiny"),
        pytest.param([1.5e-11, 2.5e-11, 3e-11], id="tiny-spread"),
        pytest.param([5e-324, 0.0], id="subnormal"),
        pytest.param([-1e308, 1e308], id="near-the-float-limit"),
        pytest.param([1e308, 1.7e308], id="at-the-float-limit"),
        pytest.param([0.123456789012345, 0.123456789012346], id="many-digits"),
        pytest.param([-1234.56789, -1234.56788], id="negative-narrow"),
    ],
)
def test_bounds_always_contain_the_data_and_stay_finite(values: list[float]) -> None:
    """Tiny values once got max 0.0, and values near 1e308 overflowed to an error."""
    rules = infer_schema(pl.DataFrame({"x": values})).columns["x"]

    assert rules.min is not None
    assert rules.max is not None
    assert math.isfinite(rules.min)
    assert math.isfinite(rules.max)
    assert rules.min <= min(values)
    assert rules.max >= max(values)


def test_infinite_values_allow_inf_and_still_pass() -> None:
    frame = pl.DataFrame({"x": [1.0, 2.0, float("inf"), 3.0, float("-inf")]})

    schema = infer_schema(frame)

    assert schema.columns["x"].allow_inf is True
    assert (schema.columns["x"].min, schema.columns["x"].max) == (0.0, 15.0)
    assert validate(frame, schema).passed


def test_categories_are_listed_only_for_text_with_few_distinct_values() -> None:
    few = [f"c{i % MAX_CATEGORIES}" for i in range(200)]
    many = [f"c{i % (MAX_CATEGORIES + 1)}" for i in range(200)]
    unique = [f"id{i}" for i in range(200)]
    schema = infer_schema(pl.DataFrame({"few": few, "many": many, "unique": unique}))

    assert schema.columns["few"].categories == sorted(set(few))
    assert schema.columns["many"].categories is None
    assert schema.columns["unique"].categories is None


def test_text_that_yaml_would_misread_survives_the_round_trip(tmp_path: Path) -> None:
    frame = pl.DataFrame({"answer": ["yes", "no", "null", "1.5", "~"] * 3})

    schema = load_schema(infer_schema(frame).save(tmp_path / "s.yaml"))

    assert schema.columns["answer"].categories == ["1.5", "no", "null", "yes", "~"]


def test_duplicates_seen_in_the_data_give_a_duplicate_rate() -> None:
    schema = infer_schema(pl.DataFrame({"a": [1, 1, 1, 2, 3, 4, 5, 6, 7, 8]}))

    assert schema.dataset.max_duplicates is None
    assert schema.dataset.max_duplicate_rate == 0.31  # 2/10 x 1.5 + 0.01


def test_an_all_missing_column_has_no_dtype_and_allows_missing() -> None:
    rules = infer_schema(pl.DataFrame({"gone": [None, None, None], "a": [1, 2, 3]})).columns["gone"]

    assert (rules.dtype, rules.nullable, rules.max_missing_rate) == (None, True, 1.0)


def test_datetimes_and_booleans_get_their_dtype() -> None:
    frame = pl.DataFrame({"when": pl.Series([1, 2], dtype=pl.Datetime), "ok": [True, None]})

    schema = infer_schema(frame)

    assert schema.columns["when"].dtype == "datetime"
    assert schema.columns["ok"].dtype == "bool"


def test_a_frame_with_no_rows_or_no_columns_cannot_seed_a_schema() -> None:
    with pytest.raises(
        DataError,
        match=r"^the data has a header but no rows\. A schema is inferred from rows: give a "
        r"file that has some\.$",
    ):
        infer_schema(pl.DataFrame({"a": []}))
    with pytest.raises(DataError, match=r"^the data has no columns\. "):
        infer_schema(pl.DataFrame())


# --- held-out data validates clean against the training split's schema ----------------------


@pytest.mark.parametrize("seed", range(5))
def test_a_held_out_split_of_the_credit_data_validates_clean(seed: int) -> None:
    frame = credit_data(1000, seed=seed)
    rows = np.random.default_rng(seed).permutation(len(frame))
    train, test = frame.iloc[rows[:800]], frame.iloc[rows[800:]]

    report = validate(test, infer_schema(train))

    assert report.passed, report.violations


@pytest.mark.parametrize("seed", range(5))
def test_a_held_out_split_of_the_breast_cancer_data_validates_clean(seed: int) -> None:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    frame = load_breast_cancer(as_frame=True).frame
    train, test = train_test_split(frame, test_size=0.25, random_state=seed)

    report = validate(test, infer_schema(train))

    assert report.passed, report.violations


def test_gross_errors_in_fresh_credit_data_are_still_caught() -> None:
    schema = infer_schema(credit_data(800, seed=0))
    broken = credit_data(200, seed=1)
    broken.loc[0, "income"] *= 1000  # thousands typed as units
    broken.loc[1, "age"] = -41  # a sign flip
    broken.loc[2, "credit_score"] = 9999  # a sentinel for "unknown"

    report = validate(broken, schema)

    assert [(v.column, v.rule, [e.row for e in v.examples]) for v in report.violations] == [
        ("age", "below_min", [1]),
        ("income", "above_max", [0]),
        ("credit_score", "above_max", [2]),
    ]


# --- the two YAML forms --------------------------------------------------------------------


def test_the_chapters_flat_form_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "age: {dtype: int, min: 0, max: 120, max_missing_rate: 0.05}\n"
        "income: {dtype: float, min: 0, max_missing_rate: 0.1}\n"
        "score: {dtype: float, min: 0, max: 1, max_missing_rate: 0.02}\n"
        "_global: {max_duplicates: 10}\n",
    )

    schema = load_schema(path)

    assert list(schema.columns) == ["age", "income", "score"]
    assert schema.columns["age"] == ColumnSchema(dtype="int", min=0, max=120, max_missing_rate=0.05)
    assert schema.columns["income"].max is None
    assert schema.dataset.max_duplicates == 10
    data = pd.DataFrame(
        {
            "age": [25, 30, 35, 40, 45],
            "income": [50000, 60000, 70000, 80000, 90000],
            "score": [0.7, 0.8, 0.6, 0.9, 0.75],
        }
    )
    assert validate(data, schema).passed


def test_the_flat_form_without_global_gets_the_chapters_defaults(tmp_path: Path) -> None:
    """As the chapter's validator: at most 5% missing a column, no duplicate row."""
    schema = load_schema(write(tmp_path, "a: {dtype: int}\nb: {nullable: false}\n"))

    assert schema.dataset.max_duplicates == 0
    assert schema.columns["a"].missing_limit == 0.05
    assert schema.columns["b"].missing_limit == 0.0  # a written rule wins
    frame = pd.DataFrame({"a": [1, 2, None, 4, 4], "b": [1, 2, 3, 4, 4]})
    report = validate(frame, schema)
    assert sorted(str(v.rule) for v in report.violations) == ["duplicates", "missing_rate"]
    written = load_schema(
        write(tmp_path, "a: {max_missing_rate: 0.5}\n_global: {max_duplicate_rate: 0.5}\n")
    )
    assert (written.dataset.max_duplicates, written.columns["a"].missing_limit) == (None, 0.5)
    mlgate_form = load_schema(write(tmp_path, "columns: {a: {dtype: int}}\n"))
    assert (mlgate_form.dataset.max_duplicates, mlgate_form.columns["a"].missing_limit) == (
        None,
        1.0,
    )


def test_std_bounds_judge_the_sample_standard_deviation(tmp_path: Path) -> None:
    """The chapter's `assert df['score'].std() < 0.5`, as a rule."""
    schema = load_schema(write(tmp_path, "columns: {score: {std_max: 0.5}, n: {std_min: 1}}\n"))
    frame = pd.DataFrame({"score": [0.0, 2.0, 0.0, 2.0], "n": [1, 1, 1, math.inf]})
    report = validate(frame, schema)
    (high,) = [v for v in report.violations if v.column == "score"]
    assert (high.rule, high.message, high.expected) == (
        "std_out_of_range",
        f"std {frame['score'].std():.6g} outside [None, 0.5]",
        [None, 0.5],
    )
    (low,) = [v for v in report.violations if v.rule == "std_out_of_range" and v.column == "n"]
    assert low.message == "std 0 outside [1, None]"  # over the finite values only
    assert validate(frame.assign(score=[0.1, 0.2, 0.1, 0.2], n=[1, 5, 9, 3]), schema).passed
    with pytest.raises(SchemaError, match="std_min \\(2\\) is greater than std_max \\(1\\)"):
        load_schema(write(tmp_path, "columns: {a: {std_min: 2, std_max: 1}}\n"))


@pytest.mark.parametrize(
    ("written", "dtype"),
    [
        ("int", "int"),
        ("int64", "int"),
        ("integer", "int"),
        ("float", "float"),
        ("float64", "float"),
        ("double", "float"),
        ("number", "float"),
        ("str", "string"),
        ("object", "string"),
        ("category", "string"),
        ("boolean", "bool"),
        ("timestamp", "datetime"),
        ("Float", "float"),
    ],
)
def test_common_dtype_spellings_load(tmp_path: Path, written: str, dtype: str) -> None:
    assert load_schema(write(tmp_path, f"a: {{dtype: {written}}}\n")).columns["a"].dtype == dtype


def test_a_column_with_no_rules_and_a_numeric_column_name_load(tmp_path: Path) -> None:
    schema = load_schema(write(tmp_path, "age:\n2020: {dtype: float}\n"))

    assert schema.columns == {
        "age": ColumnSchema(max_missing_rate=0.05),  # the flat form's default
        "2020": ColumnSchema(dtype="float", max_missing_rate=0.05),
    }


def test_numeric_categories_load_as_numbers(tmp_path: Path) -> None:
    schema = load_schema(write(tmp_path, "grade: {categories: [1, 2.5, 'A', true]}\n"))

    assert schema.columns["grade"].categories == [1, 2.5, "A", True]


def test_missing_limit_follows_nullable_and_max_missing_rate() -> None:
    assert ColumnSchema().missing_limit == 1.0
    assert ColumnSchema(max_missing_rate=0.1).missing_limit == 0.1
    assert ColumnSchema(nullable=False, max_missing_rate=0.5).missing_limit == 0.0


# --- malformed schema files -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "columns:\n  age: {dtype: int, minimum: 0}\n",
            rf"columns\.age\.minimum: unknown key \(did you mean 'min'\? allowed: {COLUMN_KEYS}\)",
            id="unknown-column-rule",
        ),
        pytest.param(
            "age: {dtype: int, minimum: 0}\n",
            rf"age\.minimum: unknown key \(did you mean 'min'\? allowed: {COLUMN_KEYS}\)",
            id="unknown-rule-in-the-flat-form",
        ),
        pytest.param(
            "age: {}\n_global: {max_dups: 3}\n",
            rf"_global\.max_dups: unknown key \(did you mean 'max_duplicates'\? "
            rf"allowed: {GLOBAL_KEYS}\)",
            id="unknown-global-rule",
        ),
        pytest.param(
            "columns: {age: {}}\nrules: {}\n",
            r"rules: unknown key \(allowed: _global, columns\)",
            id="unknown-top-level-key",
        ),
        pytest.param(
            "age: {dtype: integr}\n",
            r"age\.dtype: must be one of 'int', 'float', 'bool', 'string' or 'datetime' "
            r"\(got 'integr'\)",
            id="unknown-dtype",
        ),
        pytest.param(
            "age: {min: 120, max: 0}\n",
            r"age: min \(120\) is greater than max \(0\)",
            id="min-above-max",
        ),
        pytest.param(
            "age: {mean_min: 50, mean_max: 40}\n",
            r"age: mean_min \(50\) is greater than mean_max \(40\)",
            id="mean-min-above-mean-max",
        ),
        pytest.param(
            "age: {}\n_global: {min_rows: 10, max_rows: 5}\n",
            r"_global: min_rows \(10\) is greater than max_rows \(5\)",
            id="min-rows-above-max-rows",
        ),
        pytest.param(
            "age: {min: low}\n",
            r"age\.min: must be a number \(got 'low'\)",
            id="text-bound",
        ),
        pytest.param(
            "age: {max: .nan}\n",
            r"age\.max: must be a number, not NaN \(got nan\)",
            id="nan-bound",
        ),
        pytest.param(
            "age: {max: true}\n",
            r"age\.max: must be a number \(got True\)",
            id="boolean-bound",
        ),
        pytest.param(
            "age: {max_missing_rate: 5}\n",
            r"age\.max_missing_rate: must be less than or equal to 1 \(got 5\)",
            id="rate-above-one",
        ),
        pytest.param(
            "age: {nullable: maybe}\n",
            r"age\.nullable: must be true or false \(got 'maybe'\)",
            id="not-a-boolean",
        ),
        pytest.param(
            "plan: {categories: basic}\n",
            r"plan\.categories: must be a list of the allowed values, e\.g\. \[red, green\] "
            r"\(got 'basic'\)",
            id="categories-not-a-list",
        ),
        pytest.param(
            "plan: {categories: [basic, {pro: 1}]}\n",
            r"plan\.categories: must hold only text, numbers or true/false; one is "
            r"\{'pro': 1\} \(got \['basic', \{'pro': 1\}\]\)",
            id="category-not-a-value",
        ),
        pytest.param(
            "age: int\n",
            r"age: must be a mapping of rules, e\.g\. \{dtype: float, min: 0\} \(got 'int'\)",
            id="rules-not-a-mapping",
        ),
        pytest.param(
            "columns: [age, income]\n",
            r"columns: must be a mapping of keys to values \(got \['age', 'income'\]\)",
            id="columns-a-list",
        ),
        pytest.param(
            "age: {}\n_global: [1]\n",
            r"_global: must be a mapping of keys to values \(got \[1\]\)",
            id="global-a-list",
        ),
        pytest.param(
            "",
            r"the schema file is empty\. Write one with `mlgate schema infer DATA -o "
            r"schema\.yaml`\.",
            id="empty",
        ),
        pytest.param(
            "{}\n",
            r"the schema file is empty\. .*",
            id="empty-mapping",
        ),
        pytest.param(
            "- age\n- income\n",
            r"expected a mapping of column names to their rules \(or `columns:` and "
            r"`_global:`\), got a list\. Write one with `mlgate schema infer DATA -o "
            r"schema\.yaml`\.",
            id="a-list",
        ),
        pytest.param(
            "age,income\n31,52000\n",
            r"expected a mapping of column names to their rules \(or `columns:` and "
            r"`_global:`\), got a single value\. .*",
            id="a-csv-file",
        ),
        pytest.param(
            EXAMPLE_CONFIG,
            r"this is a pipeline config \(mlgate\.yaml\), not a schema\. Pass the schema "
            r"file its `schema:` key names, or write one with `mlgate schema infer DATA -o "
            r"schema\.yaml`\.",
            id="the-pipeline-config",
        ),
        pytest.param(
            "age: {dtype: int\n",
            r"not valid YAML at line 2, column 1: expected ',' or '}', but got "
            r"'<stream end>'\. Fix it there\.",
            id="invalid-yaml",
        ),
        pytest.param(
            "age: {dtype: int}\nage: {dtype: float}\n",
            r"not valid YAML at line 2, column 1: the key 'age' is given twice "
            r"\(first at line 1\)\. Fix it there\.",
            id="a-column-twice",
        ),
    ],
)
def test_each_malformed_schema_is_one_schema_error_naming_the_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)

    with pytest.raises(SchemaError, match=exact(path, message)) as caught:
        load_schema(path)

    assert caught.value.file == str(path)
    assert isinstance(caught.value, MlgateError)


def test_every_problem_of_a_schema_is_listed_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "age: {dtype: integr, min: low}\nplan: {nullable: maybe}\n")

    with pytest.raises(SchemaError) as caught:
        load_schema(path)

    assert str(caught.value) == (
        f"{path}: 3 problems:\n"
        "  - age.dtype: must be one of 'int', 'float', 'bool', 'string' or 'datetime' "
        "(got 'integr')\n"
        "  - age.min: must be a number (got 'low')\n"
        "  - plan.nullable: must be true or false (got 'maybe')"
    )


def test_a_missing_schema_file_is_a_schema_error(tmp_path: Path) -> None:
    path = tmp_path / "schema.yaml"

    with pytest.raises(SchemaError, match=exact(path, r"schema file not found\. Check the path\.")):
        load_schema(path)


def test_a_folder_given_as_schema_is_a_schema_error(tmp_path: Path) -> None:
    with pytest.raises(
        SchemaError, match=exact(tmp_path, r"expected a schema file but found a folder\.")
    ):
        load_schema(tmp_path)


def test_a_polars_frame_is_passed_through_to_polars_unchanged() -> None:
    assert to_polars(CUSTOMERS) is CUSTOMERS
