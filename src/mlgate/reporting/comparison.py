"""The comparison report in Markdown: the chapter's table, with intervals and the verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlgate.gates.compare import Comparison

__all__ = ["comparison_markdown"]

_SHOWN = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "rmse", "mae", "r2")
_TITLES = {
    "accuracy": "Accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1 Score",
    "roc_auc": "ROC AUC",
    "log_loss": "Log loss",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
}


def _value(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _change(value: float | None) -> str:
    return "n/a" if value is None else f"{round(value, 3) + 0.0:+.3f}"  # never "-0.000"


def _importance(comparison: Comparison) -> list[str]:
    """The features whose permutation importance moved most, as a table."""
    if not comparison.importance:
        return []
    lines = [
        "",
        "### Feature importance that moved most",
        "",
        f"Permutation importance: the drop in {comparison.importance_score or 'score'} when "
        "the feature is shuffled, each model on its own held-out rows.",
        "",
        "| Feature | Baseline | Candidate | Change |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {c.feature} | {_value(c.baseline)} | {_value(c.candidate)} | {_change(c.change)} |"
        for c in comparison.importance
    ]
    return lines


def comparison_markdown(comparison: Comparison, *, title: str = "Model comparison") -> str:
    """A Markdown report: metric, baseline, candidate, change and its interval; the verdict."""
    verdict = comparison.verdict
    status = "" if verdict is None else ("✅ " if verdict.passed else "❌ ")
    confidence = next(
        (m.confidence for m in comparison.metrics.values() if m.confidence is not None), 0.95
    )
    lines = [
        f"## {status}{title}",
        "",
        f"Baseline `{comparison.baseline_ref}` against candidate `{comparison.candidate_ref}` "
        f"on the same {comparison.test_samples} rows of `{comparison.data}`.",
        "",
        f"| Metric | Baseline | Candidate | Change | {confidence:.0%} interval of the change |",
        "|---|---|---|---|---|",
    ]
    for name in [n for n in _SHOWN if n in comparison.metrics] + [
        n for n in comparison.metrics if n not in _SHOWN
    ]:
        m = comparison.metrics[name]
        interval = (
            f"{_change(m.ci_low)} to {_change(m.ci_high)}"
            if m.ci_low is not None and m.ci_high is not None
            else "n/a"
        )
        arrow = "" if m.greater_is_better else " (lower is better)"
        lines.append(
            f"| **{_TITLES.get(name, name)}**{arrow} | {_value(m.baseline)} | "
            f"{_value(m.candidate)} | {_change(m.difference)} | {interval} |"
        )
    if comparison.mcnemar is not None:
        t = comparison.mcnemar
        lines += [
            "",
            f"McNemar's exact test on the rows where only one model is right: baseline only "
            f"{t.baseline_only}, candidate only {t.candidate_only}, p = {t.p_value:.4f}.",
        ]
    if verdict is not None:
        lines += ["", "### Decision", ""]
        if not verdict.checks:
            lines.append("No gates are configured: nothing could fail.")
        for check in verdict.checks:
            lines.append(f"- {'✅' if check.passed else '❌'} {check.reason}")
        lines += ["", "**Passed**" if verdict.passed else "**Failed**"]
    lines += _importance(comparison)
    if comparison.slices:
        lines += ["", "<details><summary>Slices</summary>", ""]
        lines += [
            "| Slice | Rows | Metric | Baseline | Candidate | Change |",
            "|---|---|---|---|---|---|",
        ]
        for part in comparison.slices:
            for name in ("accuracy", "f1", "rmse", "r2"):
                if name in part.metrics:
                    m = part.metrics[name]
                    lines.append(
                        f"| {part.column}={part.value} | {part.rows} | {name} | "
                        f"{_value(m.baseline)} | {_value(m.candidate)} | {_change(m.difference)} |"
                    )
        lines += ["", "</details>"]
    size = comparison.model_size_mb
    time_text = (
        "n/a" if comparison.training_time is None else f"{comparison.training_time:.2f} seconds"
    )
    lines += [
        "",
        "<details><summary>Details</summary>",
        "",
        f"- Training time: {time_text}",
        f"- Model size: {size:.2f} MB",
        f"- Test samples: {comparison.test_samples}",
        "",
        "</details>",
    ]
    return "\n".join(lines) + "\n"
