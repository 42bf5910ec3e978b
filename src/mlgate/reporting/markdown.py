"""Markdown reports: the run summary written beside the metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlgate.registry.onnx import OnnxExport
    from mlgate.results import RunResult

__all__ = ["run_summary"]


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def run_summary(result: RunResult) -> str:
    """A Markdown page saying what the run did, what it measured and its verdict."""
    verdict = "PASSED" if result.passed else f"FAILED at {result.stage}"
    lines = [
        f"# {result.name}: {verdict}",
        "",
        f"Run `{result.run_id}`"
        + (f", {result.task}, target `{result.target}`" if result.task else ""),
        "",
    ]
    if result.reasons:
        lines += ["## Why it did not pass", ""]
        lines += [f"- {reason}" for reason in result.reasons]
        lines.append("")
    if result.warnings:
        lines += ["## Warnings", ""]
        lines += [f"- {warning}" for warning in result.warnings]
        lines.append("")
    lines += ["## Data", "", "| part | rows | columns | violations |", "|---|---|---|---|"]
    for part, report in result.validation.items():
        lines.append(f"| {part} | {report.rows} | {report.columns} | {len(report.violations)} |")
    lines.append("")
    if result.metrics:
        lines += ["## Test metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| {name} | {_number(value)} |" for name, value in result.metrics.items()]
        lines.append("")
    if result.cross_validation:
        lines += ["## Cross-validation", "", "| metric | mean | std | folds |", "|---|---|---|---|"]
        lines += [
            f"| {cv.metric} | {cv.mean:.4f} | {cv.std:.4f} | {cv.folds} |"
            for cv in result.cross_validation
        ]
        lines.append("")
    if result.gates and result.gates.checks:
        lines += ["## Gates", "", "| check | result |", "|---|---|"]
        lines += [
            f"| {c.reason} | {'pass' if c.passed else '**fail**'} |" for c in result.gates.checks
        ]
        lines.append("")
    if result.evaluation and result.evaluation.slices:
        lines += ["## Slices", "", "| column | value | rows | metrics |", "|---|---|---|---|"]
        for s in result.evaluation.slices:
            shown = ", ".join(f"{k} {_number(v)}" for k, v in list(s.metrics.items())[:4])
            lines.append(f"| {s.column} | {s.value} | {s.rows} | {shown} |")
        lines.append("")
    lineage = result.lineage
    lines += [
        "## Lineage",
        "",
        f"- train data: `{lineage.train_fingerprint}`",
        f"- test data: `{lineage.test_fingerprint or 'held out from train'}`",
        f"- config: `sha256:{lineage.config_hash}`",
        f"- git commit: `{lineage.git_commit or 'not a git repository'}`"
        + (" (uncommitted changes)" if lineage.git_dirty else ""),
        f"- seed: {lineage.seed}",
    ]
    if result.model:
        lines.append(
            f"- model: `{result.model.path}` ({result.model.size_bytes / 1e6:.2f} MB, "
            f"sha256 `{result.model.sha256[:16]}…`)"
        )
    if result.training_time_s is not None:
        lines.append(f"- training time: {result.training_time_s:.2f} s")
    if result.onnx is not None:
        lines.append(f"- ONNX: {_onnx(result.onnx)}")
    return "\n".join(lines) + "\n"


def _onnx(exported: OnnxExport) -> str:
    """The export in one line: kept or why not, and how fast one row is answered."""
    speeds = [
        f"{ms:.3g} ms a row with {how}"
        for ms, how in ((exported.onnx_ms, "ONNX Runtime"), (exported.model_ms, exported.library))
        if ms is not None
    ]
    kept = "exported" if exported.artifact is not None else "not exported"
    return f"{kept}: {exported.reason}" + (f" ({'; '.join(speeds)})" if speeds else "")
