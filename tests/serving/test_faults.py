"""Fault injection: the challenger fails, slows down or answers wrongly on purpose; never the
champion, and never in a way users see (they get the champion's answer)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from mlgate.config.faults import Faults
from mlgate.config.settings import load_settings
from mlgate.errors import ConfigError, InjectedFault
from mlgate.serving.batch import from_rows
from mlgate.serving.faults import FaultyModel, wrap
from mlgate.state.predlog import read_log
from mlgate.state.rollout import set_rollout
from serving.requests import MODEL


def test_faults_parse_every_kind_and_refuse_what_they_do_not_know() -> None:
    assert Faults.parse("errors=0.3, slow=10;flip=0.4") == Faults(0.3, 10.0, 0.4)
    assert Faults.parse("") == Faults()
    assert not Faults.parse(" ").active
    assert Faults.parse("slow=1").active is False
    bad = {
        "boom": "unknown fault 'boom'; use name=value with name one of errors",
        "errors": "fault errors needs a value: errors=N, the share of the challenger's",
        "errors=": "fault errors needs a value",
        "errors=lots": "'lots' is not a number; errors is the share",
        "errors=1.5": "fault errors=1.5 is out of range: errors is the share .* from 0 to 1",
        "flip=-0.1": "out of range: flip is the share of rows .* from 0 to 1",
        "slow=0.5": "out of range: slow is .* from 1 to 1000",
        "slow=inf": "out of range: slow is .* from 1 to 1000",
        "slow=1e9": "out of range: slow is .* from 1 to 1000",
        "errors=nan": "out of range",
        "errors=0.1,errors=0.2": "fault errors is given twice",
    }
    for text, message in bad.items():
        with pytest.raises(ValueError, match=message):
            Faults.parse(text)


def test_a_bad_variable_is_one_message_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLGATE_FAULTS", "errors=2")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == (
        "environment variable MLGATE_FAULTS: fault errors=2 is out of range: errors is the "
        "share of the challenger's predictions that fail, from 0 to 1. Got 'errors=2'."
    )
    monkeypatch.delenv("MLGATE_FAULTS")
    monkeypatch.setenv("MLGATE_MAX_BATCH_ROWS", "many")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == (
        "environment variable MLGATE_MAX_BATCH_ROWS: input should be a valid integer, unable "
        "to parse string as an integer. Got 'many'. MLGATE_MAX_BATCH_ROWS: Most rows per "
        "prediction request. Fix the value, or unset it for the default."
    )


@pytest.fixture(scope="module")
def served(kit: Any, module_project: Any) -> Any:
    return kit.make_gateway(module_project).routing


def _faulty(model: Any, **faults: float) -> FaultyModel:
    wrapped = wrap(Faults(**faults), model)
    assert isinstance(wrapped, FaultyModel)
    wrapped.rng.seed(7)
    return wrapped


def test_errors_fail_about_their_share_and_say_they_were_injected(
    served: Any, registered: Any
) -> None:
    model = _faulty(served.challenger, errors=0.3)
    batch = from_rows(model, registered.lists(slice(0, 1)), limit=10)
    messages = []
    for _ in range(2000):
        try:
            model.predict(batch.columns)
        except InjectedFault as e:
            messages.append(str(e))
    assert 0.27 < len(messages) / 2000 < 0.33
    assert set(messages) == {"injected fault: the challenger fails 30% of predictions"}


def test_flip_answers_its_share_of_rows_with_another_class(served: Any, registered: Any) -> None:
    clean = served.challenger
    model = _faulty(clean, flip=0.4)
    batch = from_rows(model, registered.lists(), limit=10_000)
    honest, flipped = clean.predict(batch.columns), model.predict(batch.columns)
    changed = np.array(honest.labels) != np.array(flipped.labels)
    assert 0.33 < changed.mean() < 0.47
    # The probabilities follow the label, so the answer stays consistent with itself.
    chosen = np.array(clean.classes)[flipped.probabilities.argmax(axis=1)]
    assert (chosen == np.array(flipped.labels)).mean() > 0.99


def test_slow_takes_that_many_times_as_long(served: Any, registered: Any) -> None:
    clean = served.challenger
    model = _faulty(clean, slow=10)
    batch = from_rows(clean, registered.lists(), limit=10_000)

    def best(m: Any) -> float:
        times = []
        for _ in range(15):
            started = time.perf_counter()
            m.predict(batch.columns)
            times.append(time.perf_counter() - started)
        return min(times)

    assert best(model) > 5 * best(clean)


def test_faults_are_wrapped_around_the_challenger_only(kit: Any, project: Any) -> None:
    gateway = kit.make_gateway(project, faults="errors=1")
    assert isinstance(gateway.routing.challenger, FaultyModel)
    assert not isinstance(gateway.routing.champion, FaultyModel)
    assert gateway.describe()["faults"] == "the challenger fails 100% of predictions"
    assert kit.make_gateway(project).describe()["faults"] is None


@pytest.mark.anyio
async def test_a_challenger_failing_every_request_never_reaches_a_user(
    kit: Any, project: Any, registered: Any
) -> None:
    set_rollout(project.opened().state, MODEL, strategy="canary", weight=100.0, actor="test")
    rows = registered.lists(slice(0, 3))
    async with kit.running(kit.make_gateway(project, faults="errors=1")) as s:
        responses = [await s.client.post("/predict", json={"instances": rows}) for _ in range(5)]
    for response in responses:
        assert response.status_code == 200
        assert response.json()["predictions"] == registered.labels["1"][:3]
    log = read_log(
        project.logs,
        "predictions",
        "SELECT role, served, error IS NOT NULL AS failed, count(*) AS n FROM log "
        "GROUP BY ALL ORDER BY role",
    )
    assert log.to_dict("records") == [
        {"role": "challenger", "served": False, "failed": True, "n": 15},
        {"role": "champion", "served": True, "failed": False, "n": 15},
    ]


def test_a_slowed_challenger_runs_off_the_event_loop(kit: Any, project: Any) -> None:
    slowed = kit.make_gateway(project, faults="slow=10").routing.challenger
    assert slowed.session is not None
    assert slowed.fast is False  # its sleep holds up its own requests, not the champion's
    failing = kit.make_gateway(project, faults="errors=0.5").routing.challenger
    assert failing.fast is True


@pytest.mark.anyio
async def test_a_request_naming_a_failing_version_gets_a_503_and_the_failure_is_logged(
    kit: Any, project: Any, registered: Any
) -> None:
    body = {
        "inputs": [
            {"name": f, "shape": [2], "datatype": "BYTES", "data": values}
            for f, values in registered.columns(slice(0, 2)).items()
        ]
    }
    async with kit.running(kit.make_gateway(project, faults="errors=1")) as s:
        failed = await s.client.post(f"/v2/models/{MODEL}/versions/2/infer", json=body)
        champion = await s.client.post(f"/v2/models/{MODEL}/versions/1/infer", json=body)
    assert failed.status_code == 503
    assert failed.json()["error"] == (
        "version 2 failed to predict: InjectedFault: injected fault: the challenger fails "
        "100% of predictions; leave the version out of the path to be answered by the "
        "champion when the challenger fails"
    )
    assert champion.status_code == 200
    log = read_log(
        project.logs,
        "predictions",
        "SELECT role, version, served, error IS NOT NULL AS failed, count(*) AS n FROM log "
        "GROUP BY ALL ORDER BY role",
    )
    assert log.to_dict("records") == [
        {"role": "challenger", "version": "2", "served": False, "failed": True, "n": 2},
        {"role": "champion", "version": "1", "served": True, "failed": False, "n": 2},
    ]


@pytest.mark.anyio
async def test_a_split_needs_a_challenger(kit: Any, project: Any) -> None:
    catalog = project.catalog()
    catalog.move_alias(MODEL, "challenger", None, action="test", reason="test")
    token = {"authorization": "Bearer t0ken"}
    async with kit.running(kit.make_gateway(project, admin_token="t0ken"), lifespan=False) as s:
        response = await s.client.post(
            "/admin/rollout", json={"strategy": "canary", "weight": 30}, headers=token
        )
    assert response.status_code == 409
    assert response.json()["error"].startswith("there is no challenger to split traffic with")


def test_an_unwritable_log_path_is_refused_at_start(project: Any) -> None:
    from mlgate.serving.server import build_gateway

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLGATE_LOG_PATH", "/proc/no-such-folder")
        with pytest.raises(ConfigError, match="cannot write the predictions log at /proc/no"):
            build_gateway(project.config)


def test_onnx_can_be_turned_off_to_serve_with_each_version_s_own_library(
    kit: Any, project: Any
) -> None:
    served = kit.make_gateway(project).routing.champion
    assert served.session is not None
    assert served.fast is True
    plain = kit.make_gateway(project, onnx=False).routing.champion
    assert plain.session is None
    assert plain.fast is False
