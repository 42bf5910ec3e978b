"""The controller's judgement: one analysis in, one action out, for every strategy."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from statistics import NormalDist
from typing import Any

import pytest

from mlgate.config.rollout import RolloutConfig
from mlgate.rollout.analysis import Analysis, VersionFigures
from mlgate.rollout.decide import judge
from mlgate.rollout.verdict import Verdict
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
    step_elapsed: float | None = None,
) -> Verdict:
    return judge(
        seen, plan, step=step, failures=failures, elapsed=elapsed, step_elapsed=step_elapsed
    )


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


def test_blue_green_switches_after_its_pre_switch_analysis_then_promotes() -> None:
    plan = config(strategy="blue-green")
    switch = verdict(analysis(), plan, step=0)
    assert switch.action == "advance"
    assert switch.reasons[0] == (
        "the pre-switch analysis passed on 500 mirrored request(s): all traffic switches to "
        "the challenger"
    )
    assert [c.name for c in switch.checks] == ["error_rate", "p99_latency_ratio", "agreement"]
    assert verdict(analysis(), plan, step=1).action == "promote"
    at_once = config(strategy="blue-green", pre_switch={"enabled": False})
    assert verdict(analysis(), at_once, step=0).action == "promote"


# --- blue-green before its switch -------------------------------------------------------

BLUE_GREEN = config(strategy="blue-green", pre_switch={"min_requests": 50, "max_duration": "5m"})


def test_pre_switch_waits_for_its_own_count_of_mirrored_requests() -> None:
    found = verdict(analysis(figures(requests=49)), BLUE_GREEN, step=0)
    assert found.action == "hold"
    assert found.reasons == [
        "pre-switch analysis: 49 mirrored request(s) so far; the switch needs 50"
    ]
    assert verdict(analysis(figures(requests=50)), BLUE_GREEN, step=0).action == "advance"
    # after the switch, the analysis's own minimum counts again
    assert verdict(analysis(figures(requests=50)), BLUE_GREEN, step=1).action == "hold"


def test_a_failing_pre_switch_analysis_rolls_back_naming_it() -> None:
    broken = analysis(figures(requests=100, errors=29))
    first = verdict(broken, BLUE_GREEN, step=0)
    assert (first.action, first.failures) == ("hold", 1)
    second = verdict(broken, BLUE_GREEN, step=0, failures=1)
    assert second.action == "rollback"
    assert second.reasons == [
        "the pre-switch analysis failed on 100 mirrored request(s), so no user got the "
        "challenger's answers: challenger error rate 29.00% (champion 0.00%), limit 1.00%"
    ]


def test_pre_switch_agreement_counts_as_a_shadows_does() -> None:
    found = verdict(analysis(agreement=0.5), BLUE_GREEN, step=0)
    assert check(found, "agreement") is False
    assert "agreement" not in [c.name for c in verdict(analysis(), BLUE_GREEN, step=1).checks]


def test_too_few_mirrored_requests_by_the_pre_switch_deadline_roll_back() -> None:
    quiet = analysis(figures(requests=3))
    assert verdict(quiet, BLUE_GREEN, step=0, elapsed=299).action == "hold"
    found = verdict(quiet, BLUE_GREEN, step=0, elapsed=300)
    assert found.action == "rollback"
    assert found.reasons == [
        "the pre-switch analysis saw 3 mirrored request(s) in 300 s "
        "(rollout.pre_switch.max_duration 300 s); the switch needs 50"
    ]


# --- a step that needs labels -----------------------------------------------------------


def labelled(champion: int, challenger: int) -> Analysis:
    return analysis(
        figures(labelled=challenger, correct=challenger * 8 // 10),
        figures(version="1", labelled=champion, correct=champion * 8 // 10),
    )


def asking(strategy: str = "canary", duration: str = "1h", **more: Any) -> RolloutConfig:
    wanted = {"min_live_accuracy_delta": -0.05, "labels_wait": "10m", **more}
    return config(
        strategy=strategy, duration=duration, analysis=CANARY.analysis.model_dump() | wanted
    )


def test_a_step_that_needs_labels_holds_for_them_and_says_why() -> None:
    found = verdict(labelled(200, 3), asking(), step=2, elapsed=120, step_elapsed=60)
    assert found.action == "hold"
    assert found.failures == 0
    assert found.reasons == [
        "waiting for labels: live accuracy is required (rollout.analysis."
        "min_live_accuracy_delta -0.05) and needs 50 labelled rows per version from POST "
        "/feedback; 3 (challenger) and 200 (champion) so far; waited 60 of 600 s "
        "(rollout.analysis.labels_wait), then rollback (rollout.analysis.on_missing_labels)"
    ]
    without = asking().model_copy(update={"holdback": 0.0})
    assert verdict(labelled(200, 50), without, step=1, step_elapsed=60).action == "advance"


def test_only_the_last_step_with_its_holdback_waits_for_labels() -> None:
    # [10, 50, 100]: the steps before the last advance on the other checks; the last (95%,
    # the champion keeping 5% of keys) must see labels
    for step in (0, 1):
        assert verdict(labelled(0, 0), asking(), step=step, step_elapsed=60).action == "advance"
    assert verdict(labelled(0, 0), asking(), step=2, step_elapsed=60).action == "hold"
    # with no holdback the champion has no labelled rows at 100%: the step before waits
    without = asking().model_copy(update={"holdback": 0.0})
    assert verdict(labelled(0, 0), without, step=0, step_elapsed=60).action == "advance"
    assert verdict(labelled(0, 0), without, step=1, step_elapsed=60).action == "hold"
    assert verdict(labelled(0, 0), without, step=2, step_elapsed=60).action == "promote"
    plan = asking("blue-green")
    assert verdict(labelled(0, 0), plan, step=0, step_elapsed=60).action == "hold"
    assert verdict(labelled(0, 0), plan, step=1, step_elapsed=60).action == "promote"


def test_unset_live_accuracy_waits_for_no_label() -> None:
    for strategy, step in (("canary", 1), ("blue-green", 0)):
        found = verdict(labelled(0, 0), config(strategy=strategy), step=step, elapsed=60)
        assert found.action == "advance"


@pytest.mark.parametrize(
    ("then", "action", "failures"), [("rollback", "rollback", 1), ("hold", "hold", 0)]
)
def test_after_the_wait_a_step_without_labels_does_what_on_missing_labels_says(
    then: str, action: str, failures: int
) -> None:
    plan = asking(on_missing_labels=then)
    found = verdict(labelled(200, 3), plan, step=2, elapsed=900, step_elapsed=600)
    assert (found.action, found.failures) == (action, failures)
    late = (
        "no verdict on live accuracy after 600 s (rollout.analysis.labels_wait 600 s): live "
        "accuracy is required (rollout.analysis.min_live_accuracy_delta -0.05) and needs 50 "
        "labelled rows per version from POST /feedback; 3 (challenger) and 200 (champion) so "
        f"far; rollout.analysis.on_missing_labels is {then}"
    )
    if then == "hold":
        late += ": holding until they come, or a person promotes or aborts"
    assert found.reasons == [late]


@pytest.mark.parametrize(
    ("strategy", "step", "action"),
    [("canary", 2, "promote"), ("blue-green", 0, "advance"), ("shadow", 0, "promote")],
)
def test_on_missing_labels_promote_goes_on_as_if_live_accuracy_passed(
    strategy: str, step: int, action: str
) -> None:
    plan = asking(strategy, on_missing_labels="promote", labels_wait="1m")
    found = verdict(labelled(0, 0), plan, step=step, elapsed=60, step_elapsed=60)
    assert found.action == action
    assert found.reasons[0].endswith(
        "rollout.analysis.on_missing_labels is promote: going on without it"
    )


def test_a_shadow_asked_for_live_accuracy_is_not_promoted_without_labels() -> None:
    plan = asking("shadow", labels_wait=None, duration="10m")
    early = verdict(labelled(0, 0), plan, elapsed=30)
    assert (early.action, early.reasons[0][:19]) == ("hold", "waiting for labels:")
    found = verdict(labelled(0, 0), plan, elapsed=600)  # the wait is the shadow's duration
    assert found.action == "rollback"
    assert found.reasons[0].startswith("no verdict on live accuracy after 600 s")
    both = labelled(50, 50).model_copy(update={"paired_labelled": 50})
    assert verdict(both, plan, elapsed=600).action == "promote"


def test_an_ab_without_labels_holds_for_them_then_acts_by_on_missing_labels() -> None:
    plan = config(strategy="ab", duration="1h")
    early = verdict(labelled(10, 10), plan, elapsed=60)
    assert early.action == "hold"
    assert early.reasons[0].startswith(
        "waiting for labels: an A/B judges by live accuracy and needs 50 labelled rows per "
        "version from POST /feedback; 10 (challenger) and 10 (champion) so far; waited 60 of "
        "3600 s"
    )
    late = verdict(labelled(10, 10), plan, elapsed=3600)
    assert late.action == "rollback"
    assert late.reasons[0].startswith("no verdict on live accuracy after 3600 s")
    kept = config(strategy="ab", duration="1h", analysis={"on_missing_labels": "hold"})
    assert verdict(labelled(10, 10), kept, elapsed=7200).action == "hold"


def test_an_ab_shown_worse_on_few_labels_rolls_back_without_waiting() -> None:
    plan = config(strategy="ab", duration="1h", analysis={"min_labels": 500})
    found = verdict(ab((190, 200), (20, 200)), plan, elapsed=60)
    assert found.action == "rollback"
    assert found.reasons[0].startswith("the challenger is worse by more than 0.02")


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


# --- a canary's last step, with its holdback: judged on every label since it began --------

HOLDING = config(
    steps=[10, 50, 100], duration="10m", margin=0.02, analysis=asking().analysis.model_dump()
)


def since_start(champion: tuple[int, int], challenger: tuple[int, int]) -> Analysis:
    """The figures since the rollout began: (correct, labelled) of each version."""
    return ab(champion, challenger)


def last_step(accumulated: Analysis, *, step_elapsed: float = 60.0, failures: int = 0) -> Verdict:
    window = analysis()  # this step's window: requests, but no labelled row yet
    return judge(
        window,
        HOLDING,
        step=2,
        failures=failures,
        elapsed=1800.0,
        step_elapsed=step_elapsed,
        accumulated=accumulated,
    )


def test_the_last_step_keeps_the_holdback_on_the_champion() -> None:
    assert [HOLDING.weight_at(s) for s in range(3)] == [10.0, 50.0, 95.0]
    assert HOLDING.holding_back


def test_the_last_step_promotes_once_the_accumulated_interval_clears_the_minimum() -> None:
    seen = since_start((4000, 5000), (4000, 5000))
    assert msprt(4000, 5000, 4000, 5000, alpha=HOLDING.alpha / 2).low > -0.05
    found = last_step(seen)
    assert found.action == "promote"
    assert found.reasons[0].startswith("the challenger is not worse than 0.05: live accuracy ")
    assert found.reasons[0].endswith(
        "(5000 vs 5000 labelled rows since the rollout began, 5% of keys held back on the champion)"
    )
    assert found.sequential is not None
    assert found.sequential.alpha == HOLDING.alpha / 2


def test_the_last_step_rolls_back_a_challenger_shown_worse() -> None:
    seen = since_start((4000, 5000), (3500, 5000))  # 0.70 vs 0.80
    first = last_step(seen)
    assert (first.action, first.failures) == ("hold", 1)  # a failed check, as at every step
    assert not check(first, "live_accuracy_delta")
    assert last_step(seen, failures=1).action == "rollback"


def test_the_last_step_holds_while_the_interval_straddles_the_minimum() -> None:
    seen = since_start((160, 200), (150, 200))  # 0.75 vs 0.80 on 200 rows each
    interval = msprt(160, 200, 150, 200, alpha=HOLDING.alpha / 2)
    assert interval.low < -0.05 < interval.high
    assert last_step(seen).action == "hold"
    # at its duration, one fixed-horizon test at alpha/2 decides
    end = last_step(seen, step_elapsed=600.0)
    assert end.action == "rollback"
    spread = math.sqrt(0.8 * 0.2 / 200 + 0.75 * 0.25 / 200)
    bound = -0.05 - NormalDist().inv_cdf(0.975) * spread
    assert (
        f"at the end, the one-sided 97.5% lower bound of the difference is {bound:+.3f}"
        in (end.reasons[0])
    )
    close = since_start((1600, 2000), (1590, 2000))
    assert last_step(close, step_elapsed=600.0).action == "promote"


def test_the_steps_before_the_last_see_accumulated_labels_too() -> None:
    # the 50% step's window holds no label, but the rows since the start show a gross loss
    seen = since_start((800, 1000), (300, 1000))
    found = judge(
        analysis(),
        HOLDING,
        step=1,
        failures=1,
        elapsed=900.0,
        step_elapsed=60.0,
        accumulated=seen,
    )
    assert found.action == "rollback"
    assert not check(found, "live_accuracy_delta")


# --- shadow asked for live accuracy: the rows both versions answered -------------------------

PAIRED_SHADOW = asking("shadow", duration="10m", labels_wait=None)


def pairs(rows: int, champion_only: int, challenger_only: int) -> Analysis:
    correct = rows * 8 // 10
    return analysis(
        figures(labelled=rows, correct=correct - champion_only + challenger_only),
        figures(version="1", labelled=rows, correct=correct),
    ).model_copy(
        update={
            "paired_labelled": rows,
            "champion_only": champion_only,
            "challenger_only": challenger_only,
        }
    )


def test_a_shadow_is_promoted_on_paired_rows_two_samples_could_not_tell_apart() -> None:
    # 0.78 vs 0.80 on 1,000 rows: as two samples no verdict; paired, few rows differ
    seen = pairs(1000, 25, 5)
    assert msprt(800, 1000, 780, 1000, alpha=0.025).low < -0.05
    found = verdict(seen, PAIRED_SHADOW, elapsed=60)
    assert found.action == "promote"
    assert found.reasons[0].endswith(
        "(1000 labelled rows both answered: 5 only the challenger got right, 25 only the champion)"
    )


def test_a_shadow_worse_on_paired_rows_is_rolled_back() -> None:
    found = verdict(pairs(1000, 110, 10), PAIRED_SHADOW, elapsed=60)  # -0.10
    assert found.action == "rollback"
    assert found.reasons[0].startswith("the challenger is worse by more than 0.05: ")
