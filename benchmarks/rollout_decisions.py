"""Decision quality of live rollouts: wrong promotions and wrong rollbacks, measured.

What the figures say (benchmarks/results/rollout_decisions.json, 20000 rollouts a
cell). mlgate's A/B meets the requirement: it promotes a challenger worse by the
margin in 2.5-2.9% of rollouts and one worse by twice the margin in at most 0.07%,
at every traffic level, against alpha = 5%. It spends alpha/2 on the always-valid
interval, looked at after every interval (stopping early when the answer is
clear), and alpha/2 on one fixed-horizon non-inferiority z-test at the planned end
(duration or sample_size): a worse challenger is promoted only if one of the two
errs, at most alpha by a union bound. The earlier rule, all of alpha on the
sequence and a rollback whenever it had not cleared the margin by the end, kept
wrong promotions at 0.5-0.6% but rolled back 93%, 76% and 20% of *equal*
challengers at 1000, 3000 and 10000 labelled rows per arm; the split rolls back
75%, 41% and 2%. With a margin of 0.02, plan for several thousand labelled rows
per arm (`duration`, `sample_size`). The chapter's t-test, repeated or once at the
end, promotes 32-48% of challengers worse by the margin at 1000-3000 rows per arm
(the end rule is a point rule at the boundary) and 10-11% of those worse by twice
the margin at 1000; it meets alpha only at 10000 rows.

A canary and a shadow that require live accuracy (`min_live_accuracy_delta` set)
are judged the same way and meet it too: a challenger worse by the margin is
promoted in 2.35-2.48% of canaries and 2.60-2.79% of shadows, at every traffic
level. The canary judges every labelled row since it began (its windows restart
at every step, its evidence does not) and keeps `holdback` (5%) of keys on the
champion through its last step until the comparison concludes; before that, its
check judged each step's window alone, and the last step (100%) left the
champion no labelled row, so a challenger worse by the margin was promoted at
every traffic level (99.97% at 300 labelled rows). Equal challengers rolled
back, for want of evidence: canary 52%, 25%, 4% at 100, 300, 1000 labelled rows
per interval (its challenger sees few rows at the early steps, and the
holdback's champion few at the last); shadow 19%, 0.2%, 0%, because both
versions answer every request and only the rows where exactly one is right add
noise (paired; `DISCORDANT` of the rows at equal accuracy).

How the figures are made. Every simulated rollout has a *known* true live accuracy:
the champion's is 0.85 and the challenger's is 0.85 + shift * margin for shift in
(+1, 0, -1, -2) and margin 0.02. Every labelled request is one Bernoulli outcome.
The controller analyses after every interval; an A/B test sends half of the
traffic to each version, and L labelled rows reach each arm per interval (L = 100,
300 or 1000, so the default 10-interval experiment ends with 1000, 3000 or 10000
labelled rows per arm); half of the requests get a label, so each arm serves 2L
requests per interval, above `min_requests`. Nobody errs and latencies are equal,
so only live accuracy can decide. The rules:

- `mlgate ab`: `mlgate.rollout.decide.judge` with `RolloutConfig(strategy="ab")`
  and its defaults (alpha 0.05, margin 0.02, duration 10 intervals), called after
  every interval on the cumulative counts, `failures` and `elapsed` carried the way
  `Controller.tick` carries them, stopping at promote or rollback.
- `t-test, every interval`: the chapter's rule. `scipy.stats.ttest_ind` on the 0/1
  outcomes at every interval; promote as soon as p < 0.05 with the challenger
  ahead, roll back as soon as p < 0.05 with it behind; at the end promote if the
  challenger's observed difference is not below -margin, else roll back.
- `t-test, once at the end`: the same rule judged only at the last interval (the
  fixed-horizon test the t-test is made for), for reference.
- `mlgate canary`: `judge` with `RolloutConfig(strategy="canary")` over the default
  steps 5/25/50/100 % with `min_live_accuracy_delta = -margin` and the default
  holdback (the last step at 95%). The same total traffic (4L requests per
  interval, half labelled) is split by the step's weight; the window restarts at
  every step and the counts since the start are passed as `accumulated`, as in
  the controller. Agreement is left out (it would fail equal models at random),
  so only live accuracy judges.
- `mlgate shadow`: `judge` with `RolloutConfig(strategy="shadow")` and
  `min_live_accuracy_delta = -margin`: both versions answer the same 2L labelled
  rows per interval; exactly one is right on `DISCORDANT` (10%) of them at equal
  accuracy, the challenger's share of those moving with the true difference.
- `ab, sequence only (earlier rule)`: mlgate's A/B before the alpha split, all of
  alpha on the always-valid interval and a rollback at the end without a clear
  answer (`sequence_only_ab`), to show what the split bought.

Monte-Carlo standard error of a rate: 0.15% near 5%, 0.05% near 0.5%, 0.35% at most
(each cell in the JSON carries its own). The full run takes about 260 CPU seconds.

    python benchmarks/rollout_decisions.py               # full run, writes results
    python benchmarks/rollout_decisions.py --sims 500    # a quicker look, no file written
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from _measure import stopwatch
from scipy import stats

from mlgate.config.rollout import AnalysisConfig, RolloutConfig
from mlgate.rollout.analysis import Analysis, VersionFigures
from mlgate.rollout.decide import judge
from mlgate.stats.sequential import msprt

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "rollout_decisions.json"

SEED = 20261203
CHAMPION_ACCURACY = 0.85
MARGIN = 0.02
#: The challenger's true accuracy minus the champion's, in margins.
SHIFTS = (1, 0, -1, -2)
#: Labelled rows per arm per interval in an A/B test.
LABELLED = (100, 300, 1000)
#: Share of requests that get a feedback label.
LABEL_SHARE = 0.5
SIMS = 20_000
ALPHA = 0.05
INTERVAL = 60.0
#: A canary always ends (every step either advances or fails twice); this is a guard.
CANARY_MAX_INTERVALS = 200
LATENCY_MS = 12.0
SINCE = datetime(2026, 1, 1, tzinfo=UTC)

AB = RolloutConfig(strategy="ab", alpha=ALPHA, margin=MARGIN, interval=INTERVAL)
CANARY = RolloutConfig(
    strategy="canary",
    margin=MARGIN,
    interval=INTERVAL,
    analysis=AnalysisConfig(min_live_accuracy_delta=-MARGIN),
)
SHADOW = RolloutConfig(
    strategy="shadow",
    margin=MARGIN,
    interval=INTERVAL,
    analysis=AnalysisConfig(min_live_accuracy_delta=-MARGIN),
)
#: Analyses in an A/B experiment: `judge` forces a verdict once elapsed >= max_duration.
INTERVALS = math.ceil(AB.max_duration / INTERVAL)

#: A shadow's rows where exactly one version is right, at equal accuracy: the two models
#: agree on the rest (their errors overlap, as two fits of one data set's do).
DISCORDANT = 0.10

RULES = (
    "mlgate ab",
    "t-test, every interval",
    "t-test, once at the end",
    "mlgate canary",
    "mlgate shadow",
    "ab, sequence only (earlier rule)",
)


@dataclass(frozen=True)
class Cell:
    """One rule in one true situation: traffic level and true difference (in margins)."""

    rule: str
    labelled: int
    shift: int


@dataclass
class Outcome:
    """What one rule decided over `sims` simulated rollouts of one cell."""

    rule: str
    labelled: int
    shift: int
    true_difference: float
    sims: int
    promotes: int
    rollbacks: int
    median_intervals: float


def figures(labelled: int, correct: int, requests: int) -> VersionFigures:
    """One version's live figures: no errors, the common latency, the given counts."""
    return VersionFigures(
        version="x",
        requests=requests,
        errors=0,
        error_rate=0.0,
        p99_latency_ms=LATENCY_MS if requests else None,
        labelled=labelled,
        correct=correct,
        accuracy=correct / labelled if labelled else None,
    )


def requests_for(labelled: int) -> int:
    """Requests that carried `labelled` labelled rows."""
    return round(labelled / LABEL_SHARE)


def draw_ab(cell: Cell, sims: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Cumulative correct rows of champion and challenger after each interval, (sims, k).

    The seed leaves the rule out, so every A/B rule judges the very same rollouts.
    """
    rng = np.random.default_rng([SEED, cell.labelled, cell.shift + 10])
    challenger_accuracy = CHAMPION_ACCURACY + cell.shift * MARGIN
    champion = rng.binomial(cell.labelled, CHAMPION_ACCURACY, size=(sims, INTERVALS))
    challenger = rng.binomial(cell.labelled, challenger_accuracy, size=(sims, INTERVALS))
    return champion.cumsum(axis=1), challenger.cumsum(axis=1)


def ttest_p(
    champion_correct: np.ndarray[Any, Any], challenger_correct: np.ndarray[Any, Any], n: int
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """`ttest_ind`'s two-sided p-value on 0/1 outcomes, from the counts; and the difference.

    The mean of n 0/1 outcomes is the share p, their sample standard deviation
    sqrt(n p (1 - p) / (n - 1)); `ttest_ind_from_stats` on these is `ttest_ind` on
    the rows (checked in `check_ttest`), without materialising millions of rows.
    """
    p_a, p_b = champion_correct / n, challenger_correct / n
    sd_a = np.sqrt(n * p_a * (1 - p_a) / (n - 1))
    sd_b = np.sqrt(n * p_b * (1 - p_b) / (n - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        result = stats.ttest_ind_from_stats(p_b, sd_b, n, p_a, sd_a, n)
    return np.nan_to_num(np.asarray(result.pvalue), nan=1.0), p_b - p_a


def check_ttest() -> None:
    """Fail unless the count-based p-value is `ttest_ind`'s on the 0/1 rows."""
    rng = np.random.default_rng(SEED)
    for n in (100, 3000):
        a = (rng.random(n) < CHAMPION_ACCURACY).astype(float)
        b = (rng.random(n) < CHAMPION_ACCURACY - MARGIN).astype(float)
        expected = stats.ttest_ind(b, a).pvalue
        got, _ = ttest_p(np.array([a.sum()]), np.array([b.sum()]), n)
        if not math.isclose(float(got[0]), float(expected), rel_tol=1e-9):
            raise RuntimeError(f"t-test from counts {got[0]} != ttest_ind {expected}")


def ttest_rule(cell: Cell, sims: int, *, every: bool) -> tuple[list[str], list[int]]:
    """The chapter's rule on every simulated rollout: actions and intervals used."""
    champion, challenger = draw_ab(cell, sims)
    actions = np.full(sims, "", dtype=object)
    when = np.zeros(sims, dtype=int)
    looks = range(1, INTERVALS + 1) if every else range(INTERVALS, INTERVALS + 1)
    for k in looks:
        p, difference = ttest_p(champion[:, k - 1], challenger[:, k - 1], cell.labelled * k)
        open_ = actions == ""
        significant = p < ALPHA
        if k == INTERVALS:
            promote = np.where(significant, difference > 0, difference >= -MARGIN)
        else:
            promote = significant & (difference > 0)
        rollback = (significant & (difference < 0)) | ((k == INTERVALS) & ~promote)
        actions[open_ & promote] = "promote"
        actions[open_ & rollback & ~promote] = "rollback"
        when[open_ & (promote | rollback)] = k
    return list(actions), list(when)


def mlgate_ab(cell: Cell, sims: int) -> tuple[list[str], list[int]]:
    """`judge` after every interval on every simulated A/B rollout, as the controller runs it."""
    champion, challenger = draw_ab(cell, sims)
    actions: list[str] = []
    when: list[int] = []
    for i in range(sims):
        failures, action, k = 0, "hold", 0
        while action not in ("promote", "rollback"):
            k += 1
            labelled = cell.labelled * k
            analysis = Analysis(
                since=SINCE,
                champion=figures(labelled, int(champion[i, k - 1]), requests_for(labelled)),
                challenger=figures(labelled, int(challenger[i, k - 1]), requests_for(labelled)),
            )
            verdict = judge(analysis, AB, step=0, failures=failures, elapsed=k * INTERVAL)
            action, failures = verdict.action, verdict.failures
        actions.append(action)
        when.append(k)
    return actions, when


def mlgate_canary(cell: Cell, sims: int) -> tuple[list[str], list[int]]:
    """`judge` after every interval on every simulated canary, as the controller runs it:
    the step's window restarts at every step, and its live accuracy is judged on every
    labelled row since the rollout began (`accumulated`), the champion keeping the
    holdback's keys through the last step."""
    rng = np.random.default_rng([SEED, cell.labelled, cell.shift + 10, 1])
    challenger_accuracy = CHAMPION_ACCURACY + cell.shift * MARGIN
    total = requests_for(2 * cell.labelled)
    actions: list[str] = []
    when: list[int] = []
    for _ in range(sims):
        step, failures, action, k, step_k = 0, 0, "hold", 0, 0
        # champion labelled, correct; challenger labelled, correct: this step's, and all
        window, counts = [0, 0, 0, 0], [0, 0, 0, 0]
        while action not in ("promote", "rollback") and k < CANARY_MAX_INTERVALS:
            k += 1
            step_k += 1
            weight = CANARY.weight_at(step) / 100
            to_challenger = round(total * LABEL_SHARE * weight)
            to_champion = round(total * LABEL_SHARE) - to_challenger
            drawn = (
                to_champion,
                int(rng.binomial(to_champion, CHAMPION_ACCURACY)),
                to_challenger,
                int(rng.binomial(to_challenger, challenger_accuracy)),
            )
            window = [a + b for a, b in zip(window, drawn, strict=True)]
            counts = [a + b for a, b in zip(counts, drawn, strict=True)]
            verdict = judge(
                canary_analysis(window),
                CANARY,
                step=step,
                failures=failures,
                elapsed=k * INTERVAL,
                step_elapsed=step_k * INTERVAL,
                accumulated=canary_analysis(counts),
            )
            action, failures = verdict.action, verdict.failures
            if action == "advance":
                step, step_k, window = step + 1, 0, [0, 0, 0, 0]
        actions.append(action)
        when.append(k)
    return actions, when


def canary_analysis(counts: list[int]) -> Analysis:
    """The figures of (champion labelled, correct, challenger labelled, correct)."""
    return Analysis(
        since=SINCE,
        champion=figures(counts[0], counts[1], requests_for(counts[0])),
        challenger=figures(counts[2], counts[3], requests_for(counts[2])),
    )


def mlgate_shadow(cell: Cell, sims: int) -> tuple[list[str], list[int]]:
    """`judge` after every interval on every simulated shadow that requires live accuracy:
    both versions answer every request (the same total traffic, 2L labelled rows an
    interval), and the rows only one of them got right decide."""
    rng = np.random.default_rng([SEED, cell.labelled, cell.shift + 10, 2])
    difference = cell.shift * MARGIN
    # P(only the champion right), P(only the challenger right), P(both or neither)
    only = ((DISCORDANT - difference) / 2, (DISCORDANT + difference) / 2)
    shares = [only[0], only[1], 1.0 - sum(only)]
    per_interval = 2 * cell.labelled
    actions: list[str] = []
    when: list[int] = []
    for _ in range(sims):
        failures, action, k = 0, "hold", 0
        n = worse = better = 0
        while action not in ("promote", "rollback"):
            k += 1
            drawn = rng.multinomial(per_interval, shares)
            n, worse, better = n + per_interval, worse + int(drawn[0]), better + int(drawn[1])
            # Both right on the concordant rows in the champion's share; the counts of
            # correct rows below only show in reasons: the decision is on the pairs.
            correct = round(n * CHAMPION_ACCURACY)
            analysis = Analysis(
                since=SINCE,
                champion=figures(n, min(n, correct), requests_for(n)),
                challenger=figures(n, min(n, max(0, correct - worse + better)), requests_for(n)),
                paired_labelled=n,
                champion_only=worse,
                challenger_only=better,
            )
            verdict = judge(analysis, SHADOW, step=0, failures=failures, elapsed=k * INTERVAL)
            action, failures = verdict.action, verdict.failures
        actions.append(action)
        when.append(k)
    return actions, when


def sequence_only_ab(cell: Cell, sims: int) -> tuple[list[str], list[int]]:
    """mlgate's earlier A/B rule, for comparison: all of alpha on the always-valid
    interval at every look, and a rollback at the end when it has not cleared -margin."""
    champion, challenger = draw_ab(cell, sims)
    actions: list[str] = []
    when: list[int] = []
    for i in range(sims):
        action, k = "hold", 0
        while action == "hold":
            k += 1
            n = cell.labelled * k
            a, b = int(champion[i, k - 1]), int(challenger[i, k - 1])
            result = msprt(a, n, b, n, alpha=ALPHA)
            if result.high < -MARGIN:
                action = "rollback"
            elif result.low > -MARGIN and n >= AB.analysis.min_labels:
                action = "promote"
            elif k == INTERVALS:
                action = "rollback"
        actions.append(action)
        when.append(k)
    return actions, when


SIMULATE: dict[str, Callable[[Cell, int], tuple[list[str], list[int]]]] = {
    "mlgate ab": mlgate_ab,
    "t-test, every interval": lambda cell, sims: ttest_rule(cell, sims, every=True),
    "t-test, once at the end": lambda cell, sims: ttest_rule(cell, sims, every=False),
    "mlgate canary": mlgate_canary,
    "mlgate shadow": mlgate_shadow,
    "ab, sequence only (earlier rule)": sequence_only_ab,
}


def simulate(cell: Cell, sims: int) -> Outcome:
    """Run `sims` rollouts of `cell` under its rule and count the verdicts."""
    actions, when = SIMULATE[cell.rule](cell, sims)
    return Outcome(
        rule=cell.rule,
        labelled=cell.labelled,
        shift=cell.shift,
        true_difference=round(cell.shift * MARGIN, 10),
        sims=sims,
        promotes=actions.count("promote"),
        rollbacks=actions.count("rollback"),
        median_intervals=float(np.median(when)),
    )


def _run(args: tuple[Cell, int]) -> Outcome:
    return simulate(*args)


def se(rate: float, sims: int) -> float:
    """Monte-Carlo standard error of a rate estimated from `sims` draws."""
    return math.sqrt(max(rate * (1 - rate), 1 / sims) / sims)


def table(outcomes: list[Outcome], sims: int) -> str:
    """The results as Markdown: one row per rule and traffic level."""
    by = {(o.rule, o.labelled, o.shift): o for o in outcomes}
    lines = [
        f"{sims} simulated rollouts per cell; champion accuracy {CHAMPION_ACCURACY}, "
        f"margin m = {MARGIN}, alpha {ALPHA}, {INTERVALS} intervals for A/B. Monte-Carlo "
        f"standard error of a rate: {math.sqrt(0.05 * 0.95 / sims):.2%} near 5%, "
        f"{math.sqrt(0.25 / sims):.2%} at most. Traffic: labelled rows per arm per "
        "interval in A/B (the canary gets the same total, split by its step weight). "
        "Intervals: median intervals to a decision for true difference +m / 0 / -m / -2m.",
        "",
        "| rule | labelled/arm/interval | promotes worse by m | promotes worse by 2m "
        "| rolls back equal | rolls back better by m | intervals (+m / 0 / -m / -2m) |",
        "|---|---|---|---|---|---|---|",
    ]
    for rule in RULES:
        for labelled in LABELLED:
            better, equal, worse, worse2 = (by[(rule, labelled, s)] for s in SHIFTS)
            median = " / ".join(f"{o.median_intervals:g}" for o in (better, equal, worse, worse2))
            lines.append(
                f"| {rule} | {labelled} | {worse.promotes / worse.sims:.2%} "
                f"| {worse2.promotes / worse2.sims:.2%} | {equal.rollbacks / equal.sims:.1%} "
                f"| {better.rollbacks / better.sims:.1%} | {median} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=SIMS, help="rollouts per cell")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    check_ttest()
    # The slow cells first, so the pool ends together.
    cells = [Cell(r, n, s) for r in RULES for n in reversed(LABELLED) for s in SHIFTS]
    cells.sort(key=lambda c: c.rule.startswith("t-test"))
    with stopwatch() as clock, ProcessPoolExecutor(max_workers=args.workers) as pool:
        outcomes = list(pool.map(_run, [(c, args.sims) for c in cells]))
    seconds, cpu = clock.wall_s, clock.cpu_s
    print(table(outcomes, args.sims))
    print(f"\n{len(cells)} cells in {seconds:.0f} s ({cpu:.0f} CPU s) on {args.workers} worker(s)")
    if args.sims != SIMS:
        return
    RESULTS.parent.mkdir(exist_ok=True)
    summary = {
        "description": "Share of simulated rollouts each rule promotes and rolls back, by "
        "traffic and true live accuracy difference (challenger - champion).",
        "settings": {
            "champion_accuracy": CHAMPION_ACCURACY,
            "margin": MARGIN,
            "alpha": ALPHA,
            "ab_intervals": INTERVALS,
            "label_share": LABEL_SHARE,
            "canary_steps": CANARY.steps,
            "canary_min_live_accuracy_delta": CANARY.analysis.min_live_accuracy_delta,
            "canary_holdback": CANARY.holdback,
            "shadow_discordant_share": DISCORDANT,
            "min_labels": AB.analysis.min_labels,
            "min_requests": AB.analysis.min_requests,
            "sims_per_cell": args.sims,
            "seed": SEED,
            "monte_carlo_se_at_5pct": math.sqrt(0.05 * 0.95 / args.sims),
        },
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "cells": [
            {
                "rule": o.rule,
                "labelled_per_arm_per_interval": o.labelled,
                "true_difference": o.true_difference,
                "sims": o.sims,
                "promote_rate": o.promotes / o.sims,
                "promote_rate_se": se(o.promotes / o.sims, o.sims),
                "rollback_rate": o.rollbacks / o.sims,
                "rollback_rate_se": se(o.rollbacks / o.sims, o.sims),
                "median_intervals": o.median_intervals,
            }
            for o in sorted(outcomes, key=lambda o: (RULES.index(o.rule), o.labelled, -o.shift))
        ],
        "table": table(outcomes, args.sims),
    }
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
