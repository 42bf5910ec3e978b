"""Decision quality of the regression rules: wrong blocks and wrong passes, measured.

A gate `max_regression: {accuracy: m}` should pass a candidate that is no worse
than the champion and block one that is clearly worse. This script simulates
champion/candidate pairs with a *known* true accuracy difference on paired test
rows and counts how often each rule of `gates.rule` gets the verdict wrong.

Each simulated test set draws every row's joint outcome (both right, only the
champion right, only the candidate right, both wrong) from a 2x2 distribution
with the champion at 85% accuracy and 8-12% discordant rows (drawn uniformly per
pair): two models that agree on most rows, the realistic paired setting. The
verdict is mlgate's own: `paired_bootstrap` on the label arrays, a
`MetricComparison` from its interval, then `loss_of` and `_judge` for each rule.

    python benchmarks/decision_quality.py                # full run, writes results
    python benchmarks/decision_quality.py --sims 200     # a quicker look, no file written

What the figures say (benchmarks/results/decision_quality.json). `point` is the
default. It is the only rule whose two errors stay balanced, and the sum of its
errors (blocking an equal model plus passing one worse by 2m) is the smallest in
every cell: 3.6% against 48% for either interval rule at m = 0.02 on 1000 rows.
`non_inferiority` holds the boundary (about 3% of models worse by m pass) but blocks
48-91% of *equal* models on test sets of 200-1000 rows, which teaches people to
override the gate; it becomes usable only when the interval's half-width is under
about half the margin (1% at m = 0.02 on 5000 rows). `significant_regression` never
blocks a good model but passes 48-94% of models worse by 2m at those sizes, so it
fails the gate's purpose. The price of `point`: a model worse by exactly m passes
about half the time (the margin is a break-even, not a guarantee), and where the
interval is wider than the margin (200 rows; 1000 at m = 0.01) 15-36% of its
verdicts are wrong either way. Interval rules at a lower confidence only slide along
the same trade-off (a side run at 80%, 1000 rows, m = 0.02: non_inferiority blocks
21% of equal models, significant_regression passes 27% of 2m-worse ones), so no rule
was added; instead a check's reason says when its interval is wider than the margin,
i.e. when the test set is too small to judge.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import typing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _measure import stopwatch

from mlgate.config.models import GatesConfig
from mlgate.gates.compare import MetricComparison
from mlgate.gates.decide import _judge, loss_of
from mlgate.stats.paired import paired_bootstrap

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "decision_quality.json"

SEED = 20261126
BASELINE_ACCURACY = 0.85
DISCORDANT = (0.08, 0.12)
MARGINS = (0.02, 0.01)
SIZES = (200, 1000, 5000)
#: The candidate's true accuracy minus the champion's, in margins.
SHIFTS = (1, 0, -1, -2)
SIMS = 2000
#: mlgate's own default, so the intervals are the ones a real gate would draw.
RESAMPLES = 2000
CONFIDENCE = 0.95
#: Every rule GatesConfig accepts, so a new rule is measured without editing this file.
RULES: tuple[str, ...] = typing.get_args(GatesConfig.model_fields["rule"].annotation)


@dataclass(frozen=True)
class Cell:
    """One true situation: margin, test rows, true difference (in margins)."""

    margin: float
    rows: int
    shift: int


@dataclass
class Outcome:
    """How often each rule passed the candidate in one cell, over `sims` test sets."""

    margin: float
    rows: int
    shift: int
    true_difference: float
    sims: int
    passes: dict[str, int]
    mean_half_width: float


def joint_outcome(difference: float, discordant: float) -> np.ndarray[Any, Any]:
    """P(both right), P(champion only), P(candidate only), P(both wrong) for one row."""
    candidate_only = (discordant + difference) / 2
    champion_only = (discordant - difference) / 2
    both = BASELINE_ACCURACY - champion_only
    p = np.array([both, champion_only, candidate_only, 1.0 - both - discordant])
    if (p < 0).any():
        raise ValueError(f"no joint distribution for difference {difference}, {discordant=}")
    return p


def simulate(cell: Cell, sims: int, resamples: int) -> Outcome:
    """Draw `sims` paired test sets for `cell` and judge each with every rule."""
    difference = cell.shift * cell.margin
    rng = np.random.default_rng([SEED, cell.rows, cell.shift + 10, round(cell.margin * 1e4)])
    passes = dict.fromkeys(RULES, 0)
    half_widths = 0.0
    for _ in range(sims):
        p = joint_outcome(difference, rng.uniform(*DISCORDANT))
        row = rng.choice(4, size=cell.rows, p=p)
        champion_right, candidate_right = row <= 1, (row == 0) | (row == 2)
        y = rng.integers(0, 2, size=cell.rows)
        champion = np.where(champion_right, y, 1 - y)
        candidate = np.where(candidate_right, y, 1 - y)
        interval = paired_bootstrap(
            "accuracy",
            y,
            (champion, None),
            (candidate, None),
            resamples=resamples,
            confidence=CONFIDENCE,
            seed=int(rng.integers(2**32)),
        )
        entry = MetricComparison(
            metric="accuracy",
            baseline=float(champion_right.mean()),
            candidate=float(candidate_right.mean()),
            difference=interval.difference,
            ci_low=interval.low,
            ci_high=interval.high,
            confidence=CONFIDENCE,
            greater_is_better=True,
        )
        loss = loss_of(entry)
        if loss is None:  # cannot happen: the difference is always set
            raise RuntimeError("no loss for a comparison with a difference")
        for rule in RULES:
            passes[rule] += _judge(loss, cell.margin, rule)
        half_widths += (interval.high - interval.low) / 2
    return Outcome(
        margin=cell.margin,
        rows=cell.rows,
        shift=cell.shift,
        true_difference=difference,
        sims=sims,
        passes=passes,
        mean_half_width=half_widths / sims,
    )


def _run(args: tuple[Cell, int, int]) -> Outcome:
    return simulate(*args)


def table(outcomes: list[Outcome], sims: int) -> str:
    """The results as Markdown: one row per margin, test size and rule."""
    by = {(o.margin, o.rows, o.shift): o for o in outcomes}
    lines = [
        f"{sims} simulated test sets per cell, {RESAMPLES} bootstrap resamples each, "
        f"{CONFIDENCE:.0%} intervals. Monte-Carlo standard error of a rate: at most "
        f"{math.sqrt(0.25 / sims):.1%} (near 50%), {math.sqrt(0.05 * 0.95 / sims):.1%} "
        "near 5% or 95%. Half-width: mean half-width of the interval for equal models.",
        "",
        "| margin m | rows | half-width | rule | blocks better by m | blocks equal "
        "| passes worse by m (boundary) | passes worse by 2m |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for margin in MARGINS:
        for rows in SIZES:
            half = by[(margin, rows, 0)].mean_half_width
            for rule in RULES:
                cells = [by[(margin, rows, shift)] for shift in SHIFTS]
                block_better, block_equal = (1 - c.passes[rule] / c.sims for c in cells[:2])
                pass_boundary, pass_worse = (c.passes[rule] / c.sims for c in cells[2:])
                lines.append(
                    f"| {margin:g} | {rows} | {half:.3f} | {rule} | {block_better:.1%} "
                    f"| {block_equal:.1%} | {pass_boundary:.1%} | {pass_worse:.1%} |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=SIMS, help="test sets per cell")
    parser.add_argument("--resamples", type=int, default=RESAMPLES)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    cells = [Cell(m, n, s) for m in MARGINS for n in SIZES for s in SHIFTS]
    with stopwatch() as clock, ProcessPoolExecutor(max_workers=args.workers) as pool:
        outcomes = list(pool.map(_run, [(c, args.sims, args.resamples) for c in cells]))
    seconds, cpu = clock.wall_s, clock.cpu_s
    print(table(outcomes, args.sims))
    print(f"\n{len(cells)} cells in {seconds:.0f} s ({cpu:.0f} CPU s) on {args.workers} worker(s)")
    if args.sims != SIMS or args.resamples != RESAMPLES:
        return
    RESULTS.parent.mkdir(exist_ok=True)
    summary = {
        "description": "Share of simulated champion/candidate pairs each regression rule "
        "passes, by margin, test rows and true accuracy difference (candidate - champion).",
        "settings": {
            "baseline_accuracy": BASELINE_ACCURACY,
            "discordant_rows": list(DISCORDANT),
            "sims_per_cell": args.sims,
            "resamples": args.resamples,
            "confidence": CONFIDENCE,
            "seed": SEED,
            "monte_carlo_se_max": math.sqrt(0.25 / args.sims),
        },
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "cells": [
            {
                "margin": o.margin,
                "rows": o.rows,
                "true_difference": o.true_difference,
                "sims": o.sims,
                "pass_rate": {rule: o.passes[rule] / o.sims for rule in RULES},
                "mean_half_width": o.mean_half_width,
            }
            for o in outcomes
        ],
        "table": table(outcomes, args.sims),
    }
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
