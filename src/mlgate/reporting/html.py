"""The comparison report as one self-contained HTML page with plots."""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlgate.gates.compare import Comparison

__all__ = ["comparison_html"]

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px}
th{background:#f4f4f4}.pass{color:#176f2c}.fail{color:#b3261e}img{max-width:100%}
.plots{display:flex;flex-wrap:wrap;gap:1em}
"""


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def _figures(comparison: Comparison) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found: list[tuple[str, str]] = []
    intervals = [
        (name, m.difference, m.ci_low, m.ci_high)
        for name, m in comparison.metrics.items()
        if m.difference is not None and m.ci_low is not None and m.ci_high is not None
    ]
    if intervals:
        fig, ax = plt.subplots(figsize=(6, 0.45 * len(intervals) + 1))
        for i, (_, difference, low, high) in enumerate(intervals):
            ax.errorbar(
                difference,
                i,
                xerr=[[difference - low], [high - difference]],
                fmt="o",
                color="#1f5fa8",
                capsize=4,
            )
        ax.axvline(0, color="#888", linewidth=1)
        ax.set_yticks(range(len(intervals)), [name for name, *_ in intervals])
        ax.set_xlabel("candidate − baseline (paired interval)")
        found.append(("Metric differences", _png(fig)))
        plt.close(fig)
    curves = comparison.curves
    if curves is None:
        return found
    for side, matrix in curves.confusion.items():
        fig, ax = plt.subplots(figsize=(3.6, 3.2))
        ax.imshow(matrix, cmap="Blues")
        for r, row in enumerate(matrix):
            for c, value in enumerate(row):
                ax.text(c, r, str(value), ha="center", va="center")
        ax.set_xticks(range(len(curves.labels)), curves.labels)
        ax.set_yticks(range(len(curves.labels)), curves.labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(side)
        found.append((f"Confusion matrix: {side}", _png(fig)))
        plt.close(fig)
    if curves.roc:
        fig, ax = plt.subplots(figsize=(4, 4))
        for side, points in curves.roc.items():
            ax.plot(points["fpr"], points["tpr"], label=side)
        ax.plot([0, 1], [0, 1], color="#aaa", linestyle="--")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.legend()
        found.append(("ROC curves", _png(fig)))
        plt.close(fig)
    if curves.residuals:
        fig, ax = plt.subplots(figsize=(5, 4))
        for side, points in curves.residuals.items():
            ax.scatter(points["predicted"], points["residual"], s=8, alpha=0.5, label=side)
        ax.axhline(0, color="#888", linewidth=1)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true − predicted")
        ax.legend()
        found.append(("Residuals", _png(fig)))
        plt.close(fig)
    return found


def comparison_html(comparison: Comparison) -> str:
    """A standalone HTML page: the metric table, the verdict and the plots."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(name)}</td><td>{_fmt(m.baseline)}</td><td>{_fmt(m.candidate)}</td>"
        f"<td>{_fmt(m.difference, sign=True)}</td><td>{_interval(m.ci_low, m.ci_high)}</td></tr>"
        for name, m in comparison.metrics.items()
    )
    verdict = ""
    if comparison.verdict is not None:
        items = "".join(
            f'<li class="{"pass" if c.passed else "fail"}">{e(c.reason)}</li>'
            for c in comparison.verdict.checks
        )
        word = "Passed" if comparison.verdict.passed else "Failed"
        klass = "pass" if comparison.verdict.passed else "fail"
        verdict = f'<h2 class="{klass}">{word}</h2><ul>{items}</ul>'
    moved = "".join(
        f"<tr><td>{e(c.feature)}</td><td>{_fmt(c.baseline)}</td><td>{_fmt(c.candidate)}</td>"
        f"<td>{_fmt(c.change, sign=True)}</td></tr>"
        for c in comparison.importance
    )
    if moved:
        moved = (
            "<h2>Feature importance that moved most</h2><p>Permutation importance: the drop "
            f"in {e(comparison.importance_score or 'score')} when the feature is shuffled, "
            "each model on its own held-out rows.</p><table><tr><th>feature</th>"
            f"<th>baseline</th><th>candidate</th><th>change</th></tr>{moved}</table>"
        )
    plots = "".join(
        f'<figure><img alt="{e(title)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{e(title)}</figcaption></figure>"
        for title, data in _figures(comparison)
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>mlgate comparison</title><style>{_STYLE}</style></head><body>"
        f"<h1>Model comparison</h1><p>Baseline <code>{e(comparison.baseline_ref)}</code> "
        f"against candidate <code>{e(comparison.candidate_ref)}</code> on "
        f"{comparison.test_samples} rows of <code>{e(comparison.data)}</code>.</p>"
        "<table><tr><th>metric</th><th>baseline</th><th>candidate</th><th>change</th>"
        f"<th>interval</th></tr>{rows}</table>{verdict}{moved}"
        f'<div class="plots">{plots}</div></body></html>'
    )


def _fmt(value: float | None, *, sign: bool = False) -> str:
    if value is None:
        return "n/a"
    # rounded first, so that what rounds to zero is never "-0.0000"
    return f"{round(value, 4) + 0.0:+.4f}" if sign else f"{round(value, 4) + 0.0:.4f}"


def _interval(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return "n/a"
    return f"{_fmt(low, sign=True)} to {_fmt(high, sign=True)}"
