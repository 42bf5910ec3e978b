"""Rows into a checked batch: every refusal is a 4xx JSON whose message says what and where.

One gateway for the module (refusals change nothing), with small limits:
5 rows per request and 4096 bytes per body.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from serving.requests import LIST, ROW, error, mlflow_error

pytestmark = pytest.mark.anyio

FEATURES = "age, income, debt_ratio, credit_score, employment, region"


MAX_ROWS, MAX_BYTES = 5, 4096
RANGE = "send a number between -3.4e+38 and 3.4e+38"


@pytest.fixture(scope="module")
def gateway(kit: Any, module_project: Any) -> Any:
    return kit.make_gateway(module_project, max_batch_rows=MAX_ROWS, max_body_bytes=MAX_BYTES)


def _with(**changes: Any) -> dict[str, Any]:
    return {**ROW, **changes}


def _without(name: str) -> dict[str, Any]:
    return {k: v for k, v in ROW.items() if k != name}


REFUSED: dict[str, tuple[Any, int, dict[str, Any]]] = {
    "unknown feature": (
        {"instances": [_with(agee=3)]},
        422,
        error(
            f"row 0: unknown feature(s): agee. The model takes: {FEATURES}",
            "wrong_features",
            row=0,
            feature="agee",
        ),
    ),
    "missing feature": (
        {"instances": [ROW, _without("income")]},
        422,
        error(
            f"row 1: missing feature(s): income. The model takes: {FEATURES}",
            "wrong_features",
            row=1,
            feature="income",
        ),
    ),
    "misspelt feature": (
        {"instances": [{**_without("region"), "regoin": "north"}]},
        422,
        error(
            f"row 0: missing feature(s): region; unknown feature(s): regoin. "
            f"The model takes: {FEATURES}",
            "wrong_features",
            row=0,
            feature="region",
        ),
    ),
    "wrong count in a row": (
        {"instances": [LIST, LIST[:5]]},
        422,
        error(
            f"row 1 has 5 value(s); the model takes 6: {FEATURES}",
            "wrong_features",
            row=1,
        ),
    ),
    "text in a numeric feature": (
        {"instances": [ROW, ROW, _with(credit_score="high")]},
        422,
        error(
            "feature 'credit_score' in row 2 must be a number, got \"high\"",
            "not_a_number",
            row=2,
            feature="credit_score",
        ),
    ),
    "number-like text with an underscore": (
        {"instances": [_with(income="52_000")]},
        422,
        error(
            "feature 'income' in row 0 must be a number, got \"52_000\"",
            "not_a_number",
            row=0,
            feature="income",
        ),
    ),
    "boolean for a number": (
        {"instances": [_with(age=True)]},
        422,
        error(
            "feature 'age' in row 0 must be a number, got true",
            "not_a_number",
            row=0,
            feature="age",
        ),
    ),
    "object for a number": (
        {"instances": [_with(age={"years": 41})]},
        422,
        error(
            "feature 'age' in row 0 must be a number, got {\"years\":41}",
            "not_a_number",
            row=0,
            feature="age",
        ),
    ),
    "null where the schema says nullable: false": (
        {"instances": [ROW, _with(debt_ratio=None)]},
        422,
        error(
            "feature 'debt_ratio' in row 1 is null, but the schema says it may not be "
            "missing (nullable: false); send a number",
            "missing_value",
            row=1,
            feature="debt_ratio",
        ),
    ),
    "NaN as text where the schema says nullable: false": (
        {"instances": [_with(age="nan")]},
        422,
        error(
            "feature 'age' in row 0 is NaN, but the schema says it may not be "
            "missing (nullable: false); send a number",
            "missing_value",
            row=0,
            feature="age",
        ),
    ),
    "infinity as text": (
        {"instances": [_with(income="-inf")]},
        422,
        error(
            f"feature 'income' in row 0 is infinite, or too large to be a finite number; {RANGE}",
            "not_finite",
            row=0,
            feature="income",
        ),
    ),
    "a number beyond single precision": (
        {"instances": [_with(income=-1e300)]},
        422,
        error(
            f"feature 'income' in row 0 is -1e+300, out of range; {RANGE}",
            "out_of_range",
            row=0,
            feature="income",
        ),
    ),
    "a list for a category": (
        {"instances": [_with(region=["north"])]},
        422,
        error(
            "feature 'region' in row 0 must be a text or number category, got [\"north\"]",
            "not_a_category",
            row=0,
            feature="region",
        ),
    ),
    "a row that is neither a list nor an object": (
        {"instances": [41]},
        422,
        error(
            f"row 0 must be a list of 6 values in the order {FEATURES}, "
            "or an object of feature: value; got a number",
            "bad_shape",
            row=0,
        ),
    ),
    "no rows": (
        {"instances": []},
        422,
        error("the request has no rows; send at least one", "empty"),
    ),
    "instances not a list": (
        {"instances": "41,52000"},
        400,
        error("expected a list of rows, got a string", "bad_body"),
    ),
    "no instances": (
        {"rows": [ROW]},
        400,
        error('expected {"instances": [[...], ...]} or {"instances": [{...}, ...]}', "bad_body"),
    ),
    "too many rows": (
        {"instances": [LIST] * (MAX_ROWS + 1)},
        413,
        error(
            "the request has 6 rows; at most 5 are accepted per request "
            "(MLGATE_MAX_BATCH_ROWS): split it into smaller requests",
            "too_many_rows",
        ),
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_predict_refuses(kit: Any, gateway: Any, case: str) -> None:
    body, status, expected = REFUSED[case]
    async with kit.running(gateway, lifespan=False) as s:
        response = await s.client.post("/predict", json=body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json() == expected


async def test_a_nullable_feature_may_be_null(kit: Any, gateway: Any) -> None:
    async with kit.running(gateway, lifespan=False) as s:
        response = await s.client.post("/predict", json={"instances": [_with(income=None)]})
    assert response.status_code == 200, response.text


async def test_numbers_as_text_are_read_as_numbers(kit: Any, gateway: Any) -> None:
    # V2 BYTES tensors carry numbers as text; the plain route reads them the same way.
    as_text = _with(age="41", income="5.2e4", debt_ratio=".31", credit_score="690")
    async with kit.running(gateway, lifespan=False) as s:
        text = await s.client.post("/predict", json={"instances": [as_text]})
        numbers = await s.client.post("/predict", json={"instances": [ROW]})
    assert text.status_code == 200, text.text
    assert text.json()["predictions"] == numbers.json()["predictions"]


async def test_an_integer_feature_takes_whole_numbers_only(kit: Any, gateway: Any) -> None:
    # age and credit_score are dtype: int in the schema: 41, 41.0 and "41" are the integer
    # 41 (numbers come as text in V2 BYTES tensors and CSV); 41.5 is no integer.
    model = gateway.routing.champion
    assert model.integers == ("age", "credit_score")
    whole = [_with(age=41.0, credit_score="690"), _with(age="41.0"), ROW]
    split = {"columns": list(ROW), "data": [list(ROW.values()), [41.5, *LIST[1:]]]}
    async with kit.running(gateway, lifespan=False) as s:
        served = await s.client.post("/predict", json={"instances": whole})
        plain = await s.client.post("/predict", json={"instances": [ROW] * 3})
        fraction = await s.client.post("/predict", json={"instances": [ROW, _with(age=41.5)]})
        as_text = await s.client.post(
            "/predict",
            json={"instances": [_with(credit_score="6.9e2"), _with(credit_score="690.5")]},
        )
        numbers_only = await s.client.post("/invocations", json={"dataframe_split": split})
    assert served.status_code == 200, served.text
    assert served.json()["predictions"] == plain.json()["predictions"]
    assert fraction.status_code == 422
    assert fraction.json() == error(
        "feature 'age' in row 1 must be a whole number (the schema says dtype: int), got 41.5",
        "not_an_integer",
        row=1,
        feature="age",
    )
    assert as_text.json()["error"] == (
        "feature 'credit_score' in row 1 must be a whole number (the schema says dtype: int), "
        "got 690.5"
    )
    assert numbers_only.status_code == 400
    assert numbers_only.json()["message"].startswith("feature 'age' in row 1 must be a whole")


async def _post_raw(s: Any, raw: bytes, path: str = "/predict") -> Any:
    return await s.client.post(path, content=raw, headers={"content-type": "application/json"})


async def test_a_number_too_large_to_be_finite_names_row_and_feature(
    kit: Any, gateway: Any
) -> None:
    rows = [LIST, [41, 1e999, 0.31, 690, "employed", "north"]]
    raw = orjson.dumps({"instances": rows}).replace(b"null", b"1e999")
    assert b"1e999" in raw
    async with kit.running(gateway, lifespan=False) as s:
        response = await _post_raw(s, raw)
        huge_integer = await _post_raw(
            s, b'{"instances": [[41, 52000, 0.31, ' + b"9" * 400 + b', "employed", "north"]]}'
        )
    assert response.status_code == 422
    assert response.json() == error(
        f"feature 'income' in row 1 is infinite, or too large to be a finite number; {RANGE}",
        "not_finite",
        row=1,
        feature="income",
    )
    assert huge_integer.status_code == 422
    assert huge_integer.json()["detail"] == {
        "code": "not_finite",
        "row": 0,
        "feature": "credit_score",
    }


async def test_the_feature_whose_count_differs_from_the_others_is_named(
    kit: Any, gateway: Any
) -> None:
    columns = {name: [value] for name, value in ROW.items()} | {"age": [41, 42]}
    async with kit.running(gateway, lifespan=False) as s:
        response = await s.client.post("/invocations", json={"inputs": columns})
    assert response.json() == mlflow_error(
        "feature 'age' has 2 value(s) but the others have 1", "bad_shape", feature="age"
    )


def test_a_missing_category_the_schema_forbids_is_refused(kit: Any, module_project: Any) -> None:
    from mlgate.errors import InputError
    from mlgate.serving.batch import from_rows

    model = kit.make_gateway(module_project).routing.champion
    rules = model.schema.columns["employment"]
    assert rules.nullable is False
    with pytest.raises(InputError) as caught:
        from_rows(model, [[41, 52000, 0.31, 690, None, "north"]], limit=10)
    assert caught.value.status == 422
    assert str(caught.value) == (
        "feature 'employment' in row 0 is missing, but the schema says it may not be "
        "(nullable: false); send a category"
    )


def test_plain_rows_take_the_quick_way_only_when_every_value_is_a_plain_number(
    gateway: Any,
) -> None:
    import dataclasses

    import numpy as np

    from mlgate.errors import InputError
    from mlgate.serving.batch import from_columns, from_plain_rows

    mixed = gateway.routing.champion
    assert from_plain_rows(mixed, [LIST], limit=MAX_ROWS) is None  # categorical features
    numeric = ["age", "income", "debt_ratio", "credit_score"]
    card = mixed.card.model_copy(
        update={"features": numeric, "kinds": dict.fromkeys(numeric, "numeric")}
    )
    model = dataclasses.replace(mixed, card=card, numeric=frozenset(numeric))
    rows = [[41, 52000.0, 0.31, 690], [1, 2.5, 3, -4]]
    quick = from_plain_rows(model, rows, limit=MAX_ROWS)
    general = from_columns(model, {n: [r[j] for r in rows] for j, n in enumerate(numeric)}, limit=5)
    assert quick is not None
    assert quick.rows == general.rows == 2
    assert list(quick.columns) == numeric
    for name in numeric:
        assert np.array_equal(quick.columns[name], general.columns[name])
    # Anything the value checks must look at goes the general way, which names row and
    # feature in its refusal.
    for odd in (None, "41", True, float("nan"), float("inf"), 1e39, 2**200, 10**400, [1]):
        assert from_plain_rows(model, [rows[0], [1, 2, odd, 4]], limit=MAX_ROWS) is None
    assert from_plain_rows(model, [rows[0][:3]], limit=MAX_ROWS) is None
    assert from_plain_rows(model, [], limit=MAX_ROWS) is None
    with pytest.raises(InputError) as refused:
        from_plain_rows(model, rows * 3, limit=MAX_ROWS)
    assert refused.value.status == 413


async def test_counts_without_a_majority_are_all_shown(kit: Any, gateway: Any) -> None:
    columns = {name: [value] * (2 if i < 3 else 1) for i, (name, value) in enumerate(ROW.items())}
    async with kit.running(gateway, lifespan=False) as s:
        response = await s.client.post("/invocations", json={"inputs": columns})
    assert response.json() == mlflow_error(
        "every feature needs as many values as the others; the counts are: age 2, income 2, "
        "debt_ratio 2, credit_score 1, employment 1, region 1",
        "bad_shape",
    )
