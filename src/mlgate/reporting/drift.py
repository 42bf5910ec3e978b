"""Drift reports: a Markdown table and a standalone HTML page with one plot per feature."""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlgate.drift.result import ColumnDrift, DriftReport
    from mlgate.drift.stattests import CategoricalSample, NumericSample

__all__ = ["drift_html", "drift_markdown"]

_TESTS = {
    "ks": "KS",
    "wasserstein": "Wasserstein (normalised)",
    "psi": "PSI",
    "chi2": "chi-square",
    "jensen_shannon": "Jensen–Shannon",
}


_SYMBOLS = {"ks": "D", "chi2": "χ²"}


def _value(column: ColumnDrift) -> str:
    if column.p_value is not None:
        adjusted = column.p_adjusted if column.p_adjusted is not None else column.p_value
        symbol = _SYMBOLS.get(column.test, "statistic")
        digits = 1 if column.test == "chi2" else 4
        return f"{symbol}={column.statistic:.{digits}f}, p={adjusted:.3g}"
    return f"{column.statistic:.4f} (threshold {column.threshold:g})"


def _rows(report: DriftReport) -> list[tuple[str, ColumnDrift]]:
    """(name as shown, column): features with drift first (those the model leans on most
    first), then the others, then the prediction and label."""
    drifted = report.drifted
    rows = [(c.column, c) for c in drifted]
    rows += [(c.column, c) for c in sorted(report.columns, key=lambda c: c.column) if not c.drifted]
    for role, extra in (("prediction", report.prediction), ("label", report.label)):
        if extra is not None:
            shown = role if extra.column == role else f"{extra.column} ({role})"
            rows.append((shown, extra))
    return rows


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def drift_markdown(report: DriftReport, *, title: str = "Data drift") -> str:
    """A Markdown report: the dataset verdict, then every column's test and verdict."""
    verdict = "❌ drift" if report.dataset_drift else "✅ no dataset drift"
    weighted = any(c.importance is not None for c in report.columns)
    lines = [
        f"## {title}: {verdict}",
        "",
        f"{len(report.drifted)} of {len(report.columns)} columns drifted "
        f"({report.share:.0%}; the dataset drifts at {report.threshold:.0%}).",
        "",
        "| Column | Test | Statistic | Drifted | Reference mean | Current mean | Unseen |"
        + (" Importance |" if weighted else ""),
        "|---|---|---|---|---|---|---|" + ("---|" if weighted else ""),
    ]
    for shown, c in _rows(report):
        means = ["" if m is None else f"{m:.4g}" for m in (c.reference_mean, c.current_mean)]
        unseen = ", ".join(c.unseen[:10]) + (" …" if len(c.unseen) > 10 else "")
        importance = "" if c.importance is None else f" {c.importance:.4f} |"
        lines.append(
            f"| {_cell(shown)} | {_cell(_TESTS.get(c.test, c.test))} | {_value(c)} | "
            f"{'**yes**' if c.drifted else 'no'} | {means[0]} | {means[1]} | {_cell(unseen)} |"
            + (importance or (" |" if weighted else ""))
        )
    lines += [
        "",
        "p-values are Benjamini–Hochberg adjusted across columns; large samples use effect "
        "sizes with thresholds instead, since at large N every p-value is tiny."
        + (
            " Drifted columns are listed by the model's permutation importance of them "
            "(the drop in its score when the column is shuffled), most important first."
            if weighted
            else ""
        ),
    ]
    if report.prediction is not None or report.label is not None:
        lines[-1] = lines[-1].replace(
            "across columns;", "across the feature columns (predictions and labels stand apart);"
        )
    return "\n".join(lines) + "\n"


def _plain(text: str) -> str:
    """Text matplotlib draws as it is (a pair of $ would start mathtext)."""
    return text.replace("$", r"\$")


def _plot(shown: str, column: ColumnDrift, reference: Any, current: Any) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from mlgate.drift.stattests import CategoricalSample

    fig, ax = plt.subplots(figsize=(4.6, 2.8))
    if isinstance(reference, CategoricalSample) and isinstance(current, CategoricalSample):
        keys = sorted(set(reference.counts) | set(current.counts))[:20]
        total_r, total_c = max(reference.count, 1), max(current.count, 1)
        x = np.arange(len(keys))
        ax.bar(
            x - 0.2, [reference.counts.get(k, 0) / total_r for k in keys], 0.4, label="reference"
        )
        ax.bar(x + 0.2, [current.counts.get(k, 0) / total_c for k in keys], 0.4, label="current")
        ax.set_xticks(x, [_plain(k) for k in keys], rotation=30, ha="right")
        ax.set_ylabel("share")
    else:
        for sample, label in ((reference, "reference"), (current, "current")):
            data = sample.sorted
            if data.size:
                levels = (np.arange(data.size) + 0.5) / data.size
                step = max(1, data.size // 2000)
                ax.plot(data[::step], levels[::step], label=label)
        ax.set_ylabel("cumulative share")
    ax.set_title(f"{_plain(shown)}: {'drift' if column.drifted else 'no drift'}")
    ax.legend()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def drift_html(
    report: DriftReport,
    samples: dict[str, tuple[NumericSample | CategoricalSample, NumericSample | CategoricalSample]]
    | None = None,
) -> str:
    """A standalone HTML page: the verdict table and, given samples, one plot per column."""
    e = html.escape
    rows = "".join(
        f"<tr class={'drift' if c.drifted else 'ok'}><td>{e(shown)}</td>"
        f"<td>{e(_TESTS.get(c.test, c.test))}</td><td>{e(_value(c))}</td>"
        f"<td>{'yes' if c.drifted else 'no'}</td><td>{e(', '.join(c.unseen[:10]))}</td></tr>"
        for shown, c in _rows(report)
    )
    plots = ""
    for shown, column in _rows(report):
        pair = (samples or {}).get(column.column)
        if pair is not None:
            data = _plot(shown, column, *pair)
            plots += f'<img alt="{e(shown)}" src="data:image/png;base64,{data}">'
    verdict = "Dataset drift" if report.dataset_drift else "No dataset drift"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>mlgate drift</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
        ".drift td{background:#fde8e6}img{margin:4px}</style></head><body>"
        f"<h1>{verdict}</h1><p>{len(report.drifted)} of {len(report.columns)} columns drifted "
        f"({report.share:.0%}; threshold {report.threshold:.0%}).</p>"
        "<table><tr><th>column</th><th>test</th><th>statistic</th><th>drifted</th>"
        f"<th>unseen categories</th></tr>{rows}</table><div>{plots}</div></body></html>"
    )
