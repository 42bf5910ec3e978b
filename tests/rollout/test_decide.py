"""The controller's judgement: one analysis in, one action out, for every strategy."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from mlgate.config.rollout import RolloutConfig
from mlgate.rollout.analysis import Analysis, VersionFigures
from mlgate.rollout.decide import Verdict, judge
from mlgate.stats.sequential import msprt

CANARY = RolloutConfig(
    strategy="canary",
    steps=[10, 50, 100],
    analysis={"min_requests": 100, "min_labels": 50},
)


def config(**changes: Any) -> RolloutConfig:
    return RolloutConfig.model_validate(CANARY.model_dump() | changes)


def figures(
    *,
    requests: int = 500,
    errors: int = 0,
    p99: float | None = 10.0,
    labelled: int = 0,
    correct: int = 0,
    version: str = "2",
) -> VersionFigures:
    return VersionFigures(
        version=version,
        requests=requests,
        errors=errors,
        error_rate=errors / requests if requests else 0.0,
        p99_latency_ms=p99,
        labelled=labelled,
        correct=correct,
        accuracy=correct / labelled if labelled else None,
    )


def analysis(
    challenger: VersionFigures | None = None,
    champion: VersionFigures | None = None,
    *,
    agreement: float | None = 0.99,
) -> Analysis:
    return Analysis(
        since=datetime(2030, 1, 1, tzinfo=UTC),
        champion=champion or figures(version="1"),
        challenger=challenger or figures(),
        compared_rows=0 if agreement is None else 500,
        agreement=agreement,
    )


def verdict(
    seen: Analysis,
    plan: RolloutConfig = CANARY,
    *,
    step: int = 0,
    failures: int = 0,
    elapsed: float = 60.0,
) -> Verdict:
    return judge(seen, plan, step=step, failures=failures, elapsed=elapsed)


def check(found: Verdict, name: str) -> bool:
    (only,) = [c for c in found.checks if c.name == name]
    return only.passed


# --- canary: hold, advance, promote, roll back --------------------------------------------


def test_holds_on_too_little_data_and_keeps_the_failure_count() -> None:
    found = verdict(analysis(figures(requests=99)), failures=1)
    assert found.action == "hold"
    assert found.reasons == ["99 challenger request(s) so far; a verdict needs 100"]
    assert found.failures == 1


def test_holds_without_any_challenger_request() -> None:
    found = verdict(analysis(figures(requests=0, p99=None), agreement=None))
    assert (found.action, found.checks, found.failures) == ("hold", [], 0)


def test_advances_when_every_check_passes() -> None:
    found = verdict(analysis(), step=0, failures=1)
    assert found.action == "advance"
    assert found.failures == 0
    assert [c.name for c in found.checks] == ["error_rate", "p99_latency_ratio", "agreement"]
    assert all(c.passed for c in found.checks)


@pytest.mark.parametrize(("step", "action"), [(0, "advance"), (1, "advance"), (2, "promote")])
def test_promotes_only_after_the_last_canary_step(step: int, action: str) -> None:
    assert verdict(analysis(), step=step).action == action


def test_blue_green_promotes_after_its_one_analysis() -> None:
    assert verdict(analysis(), config(strategy="blue-green"), step=0).action == "promote"


def test_rolls_back_after_failure_limit_consecutive_failures_and_not_before() -> None:
    plan = config(failure_limit=3)
    bad = analysis(figures(errors=50))
    failures = 0
    actions = []
    for _ in range(3):
        found = verdict(bad, plan, failures=failures)
        actions.append(found.action)
        failures = found.failures
    assert actions == ["hold", "hold", "rollback"]
    assert failures == 3
    assert found.reasons == ["challenger error rate 10.00% (champion 0.00%), limit 1.00%"]


def test_a_passing_analysis_resets_the_failure_count() -> None:
    first = verdict(analysis(figures(errors=50)))
    assert (first.action, first.failures) == ("hold", 1)
    passed = verdict(analysis(), failures=first.failures)
    assert (passed.action, passed.failures) == ("advance", 0)
    again = verdict(analysis(figures(errors=50)), failures=passed.failures)
    assert (again.action, again.failures) == ("hold", 1)  # not a rollback: not consecutive


def test_a_challenger_failing_every_request_counts_before_min_requests() -> None:
    found = verdict(analysis(figures(requests=11, errors=11)), failures=1)
    assert (found.action, found.failures) == ("rollback", 2)


def test_a_few_errors_on_little_data_are_not_yet_a_failure() -> None:
    found = verdict(analysis(figures(requests=20, errors=2)))
    assert (found.action, found.failures) == ("hold", 0)
    assert not check(found, "error_rate")


# --- each check -------------------------------------------------------------------------


@pytest.mark.parametrize(("errors", "passed"), [(5, True), (6, False)])
def test_error_rate_limit(errors: int, passed: bool) -> None:
    found = verdict(analysis(figures(errors=errors)))
    assert check(found, "error_rate") is passed
    assert found.action == ("advance" if passed else "hold")


def test_error_rate_names_the_champions_rate_beside_the_challengers() -> None:
    found = verdict(analysis(figures(errors=10), figures(version="1", errors=5)))
    (error_rate,) = [c for c in found.checks if c.name == "error_rate"]
    assert not error_rate.passed
    assert error_rate.reason == "challenger error rate 2.00% (champion 1.00%), limit 1.00%"


@pytest.mark.parametrize(("challenger_ms", "passed"), [(15.0, True), (16.0, False)])
def test_p99_latency_ratio(challenger_ms: float, passed: bool) -> None:
    found = verdict(analysis(figures(p99=challenger_ms), figures(version="1", p99=10.0)))
    assert check(found, "p99_latency_ratio") is passed
    (latency,) = [c for c in found.checks if c.name == "p99_latency_ratio"]
    assert latency.value == pytest.approx(challenger_ms / 10.0)


@pytest.mark.parametrize(
    ("champion_ms", "challenger_ms", "passed"),
    [(0.62, 1.09, True), (0.62, 1.62, True), (0.62, 1.63, False), (0.94, 5.56, False)],
)
def test_sub_millisecond_jitter_is_within_the_latency_slack(
    champion_ms: float, challenger_ms: float, passed: bool
) -> None:
    found = verdict(analysis(figures(p99=challenger_ms), figures(version="1", p99=champion_ms)))
    assert check(found, "p99_latency_ratio") is passed
    (latency,) = [c for c in found.checks if c.name == "p99_latency_ratio"]
    assert latency.reason.endswith("(within the 1 ms slack)") is passed
    strict = verdict(
        analysis(figures(p99=challenger_ms), figures(version="1", p99=champion_ms)),
        config(analysis={"latency_slack_ms": 0.0}),
    )
    assert check(strict, "p99_latency_ratio") is False


def test_no_latency_check_without_a_champion_latency() -> None:
    found = verdict(analysis(figures(p99=50.0), figures(version="1", p99=None)))
    assert "p99_latency_ratio" not in [c.name for c in found.checks]


@pytest.mark.parametrize("strategy", ["canary", "shadow"])
@pytest.mark.parametrize(("agreement", "passed"), [(0.90, True), (0.89, False)])
def test_agreement_for_canary_and_shadow(strategy: str, agreement: float, passed: bool) -> None:
    found = verdict(analysis(agreement=agreement), config(strategy=strategy))
    assert check(found, "agreement") is passed


def test_no_agreement_check_in_an_ab_test() -> None:
    found = verdict(analysis(agreement=0.1), config(strategy="ab"))
    assert "agreement" not in [c.name for c in found.checks]


@pytest.mark.parametrize(
    ("labelled", "challenger_correct", "passed"),
    [
        (100, 77, True),  # 0.77 vs 0.80 on 100 labels each: chance, whatever the point estimate
        (100, 40, False),  # 0.40 vs 0.80: worse beyond any doubt
        (5000, 3950, True),  # 0.79 vs 0.80: within the minimum
        (5000, 3750, False),  # 0.75 vs 0.80 on 5,000 labels each: worse by more than 0.02
    ],
)
def test_live_accuracy_fails_only_when_its_interval_is_below_the_minimum(
    labelled: int, challenger_correct: int, passed: bool
) -> None:
    found = verdict(
        analysis(
            figures(labelled=labelled, correct=challenger_correct),
            figures(version="1", labelled=labelled, correct=labelled * 8 // 10),
        )
    )
    assert check(found, "live_accuracy_delta") is passed
    (shown,) = [c.reason for c in found.checks if c.name == "live_accuracy_delta"]
    assert re.fullmatch(
        r"live accuracy 0\.\d{3} vs champion 0\.800 \([+-]0\.\d{3}, always-valid 95% interval "
        r"[+-]0\.\d{3} to [+-]0\.\d{3}\), minimum -0\.02",
        shown,
    ), shown


def test_no_live_accuracy_check_on_too_few_labels() -> None:
    found = verdict(
        analysis(figures(labelled=49, correct=10), figures(version="1", labelled=200, correct=190))
    )
    assert "live_accuracy_delta" not in [c.name for c in found.checks]
    assert found.action == "advance"


# --- shadow -----------------------------------------------------------------------------

SHADOW = config(strategy="shadow", duration="10m")


def test_shadow_holds_until_its_time_is_up_then_promotes() -> None:
    early = verdict(analysis(), SHADOW, elapsed=599)
    assert early.action == "hold"
    assert early.reasons == ["shadowing: 599 of 600 s, every check passing"]
    done = verdict(analysis(), SHADOW, elapsed=600)
    assert done.action == "promote"
    assert done.reasons[0] == "shadowed for 600 s with every check passing"


def test_shadow_promotes_at_its_sample_size() -> None:
    plan = config(strategy="shadow", duration="10m", sample_size=150)
    labelled = analysis(
        figures(labelled=150, correct=140), figures(version="1", labelled=150, correct=140)
    )
    assert verdict(labelled, plan, elapsed=30).action == "promote"
    fewer = analysis(
        figures(labelled=149, correct=140), figures(version="1", labelled=150, correct=140)
    )
    assert verdict(fewer, plan, elapsed=30).action == "hold"


def test_shadow_never_promotes_on_a_failing_check() -> None:
    found = verdict(analysis(agreement=0.5), SHADOW, elapsed=600, failures=1)
    assert found.action == "rollback"


def test_shadow_without_enough_traffic_by_its_end_rolls_back() -> None:
    found = verdict(analysis(figures(requests=10)), SHADOW, elapsed=600)
    assert found.action == "rollback"
    assert found.reasons == [
        "the experiment ran 600 s (limit 600 s) and saw 10 challenger request(s); "
        "a verdict needs 100"
    ]


# --- A/B: the always-valid interval (alpha/2) at every look, one fixed test (alpha/2) at the end

AB = config(strategy="ab", duration="1h", margin=0.02)


def ab(champion: tuple[int, int], challenger: tuple[int, int]) -> Analysis:
    (c_correct, c_labelled), (x_correct, x_labelled) = champion, challenger
    return analysis(
        figures(labelled=x_labelled, correct=x_correct),
        figures(version="1", labelled=c_labelled, correct=c_correct),
        agreement=None,
    )


def test_ab_promotes_when_the_interval_low_end_is_above_minus_margin() -> None:
    seen = ab((4000, 5000), (4100, 5000))
    interval = msprt(4000, 5000, 4100, 5000, alpha=AB.alpha / 2)
    assert interval.low > -AB.margin
    found = verdict(seen, AB, elapsed=60)
    assert found.action == "promote"
    assert found.sequential == interval
    assert found.reasons[0].startswith("the challenger is not worse than 0.02: ")


def test_ab_rolls_back_when_the_interval_high_end_is_below_minus_margin() -> None:
    seen = ab((4000, 5000), (3500, 5000))
    assert msprt(4000, 5000, 3500, 5000, alpha=AB.alpha / 2).high < -AB.margin
    found = verdict(seen, AB, elapsed=60)
    assert found.action == "rollback"
    assert found.reasons[0].startswith("the challenger is worse by more than 0.02: ")


def test_ab_holds_while_the_interval_straddles_minus_margin() -> None:
    seen = ab((400, 500), (400, 500))
    interval = msprt(400, 500, 400, 500, alpha=AB.alpha / 2)
    assert interval.low < -AB.margin < interval.high
    found = verdict(seen, AB, elapsed=60)
    assert found.action == "hold"
    assert found.reasons[0].startswith("still measuring: live accuracy difference +0.000")


def test_ab_at_the_end_rolls_back_unless_a_fixed_test_shows_non_inferiority() -> None:
    # 500 rows a side: the one-sided 97.5% bound is 0 - 1.96 * 0.0253 = -0.050 < -0.02.
    found = verdict(ab((400, 500), (400, 500)), AB, elapsed=3600)
    assert found.action == "rollback"
    assert found.reasons[0].startswith(
        "the challenger may be worse by more than 0.02: at the end, the one-sided 97.5% "
        "lower bound of the difference is -0.050; live accuracy difference +0.000"
    )
    sized = config(strategy="ab", duration="1h", sample_size=500)
    assert verdict(ab((400, 500), (400, 500)), sized, elapsed=60).action == "rollback"
    # 5000 rows a side: the always-valid interval still straddles -0.02 (-0.027), so the
    # experiment holds until its end, where the fixed test's bound (-0.016) clears it.
    equal = ab((4000, 5000), (4000, 5000))
    assert msprt(4000, 5000, 4000, 5000, alpha=AB.alpha / 2).low < -AB.margin
    assert verdict(equal, AB, elapsed=60).action == "hold"
    found = verdict(equal, AB, elapsed=3600)
    assert found.action == "promote"
    assert (
        "at the end, the one-sided 97.5% lower bound of the difference is -0.016"
        in (found.reasons[0])
    )


def test_ab_needs_min_labels_before_promoting() -> None:
    wide = config(strategy="ab", duration="1h", margin=0.5)
    assert verdict(ab((45, 49), (45, 49)), wide, elapsed=60).action == "hold"
    assert verdict(ab((46, 50), (46, 50)), wide, elapsed=60).action == "promote"


def test_ab_still_fails_on_errors() -> None:
    seen = ab((4000, 5000), (4100, 5000))
    seen.challenger.errors, seen.challenger.error_rate = 100, 0.2
    assert verdict(seen, AB, elapsed=60).action == "hold"
    assert verdict(seen, AB, elapsed=60, failures=1).action == "rollback"


def test_ab_without_enough_traffic_by_its_end_rolls_back() -> None:
    seen = ab((10, 10), (10, 10))
    seen.challenger.requests = 5
    assert verdict(seen, AB, elapsed=59).action == "hold"
    assert verdict(seen, AB, elapsed=3600).action == "rollback"
