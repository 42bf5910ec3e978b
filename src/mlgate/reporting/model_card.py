"""A version's model card, in Markdown or HTML, from the evidence stored with it.

Everything comes from the version's folder (its card `model.json`, the run's
`run.json` with its metrics, slices, lineage and verdict against the champion, the
reference profile) and the alias history, so the card can be rebuilt for any past
version: intended use and owners (the config's `card:` section when it was trained),
data lineage, metrics with intervals, slices, the gate's verdict with its
statistics, permutation importance, the drift reference profile, what the version can
estimate before labels arrive (a classifier's calibration, a regressor's loss model) and
the rollout history of the version.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlgate.drift.profile import Profile
    from mlgate.registry.bundle import ModelCard
    from mlgate.registry.history import AliasEvent
    from mlgate.results import RunResult

__all__ = ["CARD_MARKDOWN", "Section", "card_html", "card_markdown", "card_sections"]

#: The card written into every version's folder at registration.
CARD_MARKDOWN = "model_card.md"
#: z of the 95% Wilson interval of accuracy.
_Z = 1.959964


@dataclass
class Section:
    """One part of the card: a title, lines of text, and a table (header row first)."""

    title: str
    lines: list[str] = field(default_factory=list)
    table: list[list[str]] = field(default_factory=list)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{round(value, 4) + 0.0:.4f}"


def _wilson(share: float, rows: int) -> tuple[float, float]:
    """The 95% Wilson interval of a share of `rows` rows (accuracy on the test set)."""
    centre = (share + _Z**2 / (2 * rows)) / (1 + _Z**2 / rows)
    half = _Z * math.sqrt(share * (1 - share) / rows + _Z**2 / (4 * rows**2)) / (1 + _Z**2 / rows)
    return max(0.0, centre - half), min(1.0, centre + half)


def card_sections(
    run: RunResult,
    card: ModelCard,
    profile: Profile | None,
    *,
    version: str | None,
    events: list[AliasEvent],
) -> list[Section]:
    """The card's sections; `version` None before the registry has numbered it."""
    shown = f"version {version}" if version else f"run {run.run_id}"
    intended = card.intended
    use = intended.intended_use if intended else ""
    owners = ", ".join(intended.owners) if intended else ""
    about = Section(
        "Intended use",
        [
            f"{card.name} ({shown}): a {card.task} model of `{card.target}` from "
            f"{len(card.features)} features, {card.flavour} flavour.",
            f"Intended use: {use or 'not stated (card.intended_use in mlgate.yaml)'}",
            f"Owners: {owners or 'not stated (card.owners in mlgate.yaml)'}",
        ]
        + ([f"Limitations: {intended.limitations}"] if intended and intended.limitations else []),
    )
    lineage = run.lineage
    data = Section(
        "Data lineage",
        [
            f"Train data: `{lineage.train_fingerprint}`",
            f"Test data: `{lineage.test_fingerprint or 'held out from train'}`",
            f"Config: `sha256:{lineage.config_hash}`; seed {lineage.seed}",
            f"Git commit: `{lineage.git_commit or 'not a git repository'}`"
            + (" (uncommitted changes)" if lineage.git_dirty else ""),
            f"Model file: `{card.artifact.path}` sha256 `{card.artifact.sha256}`",
        ],
        [["part", "rows", "columns", "violations"]]
        + [
            [part, str(r.rows), str(r.columns), str(len(r.violations))]
            for part, r in run.validation.items()
        ],
    )
    schema = Section(
        "Schema",
        [],
        [["feature", "kind"]] + [[name, card.kinds.get(name, "")] for name in card.features],
    )
    metrics = Section("Metrics on the test set", [], [["metric", "value", "95% interval"]])
    rows = run.evaluation.rows if run.evaluation else 0
    for name, value in run.metrics.items():
        interval = ""
        if name == "accuracy" and value is not None and rows:
            low, high = _wilson(value, rows)
            interval = f"{low:.4f} to {high:.4f} (Wilson, {rows} rows)"
        metrics.table.append([name, _number(value), interval])
    slices = Section("Slices", [], [["column", "value", "rows", "metrics"]])
    for s in run.evaluation.slices if run.evaluation else []:
        slices.table.append(
            [
                s.column,
                s.value,
                str(s.rows),
                ", ".join(f"{k} {_number(v)}" for k, v in list(s.metrics.items())[:4]),
            ]
        )
    if len(slices.table) == 1:
        slices.lines.append("No slices configured (evaluation.slices).")
        slices.table = []
    gate = Section("Gate verdict", ["PASSED" if run.passed else f"FAILED at {run.stage}"])
    comparison = run.comparison
    if comparison is not None:
        gate.lines.append(
            f"Against {comparison.baseline_ref} on the same {comparison.test_samples} rows:"
        )
        gate.table = [["metric", "champion", "this version", "change", "interval"]] + [
            [
                m.metric,
                _number(m.baseline),
                _number(m.candidate),
                _number(m.difference),
                f"{_number(m.ci_low)} to {_number(m.ci_high)}"
                if m.ci_low is not None and m.ci_high is not None
                else "n/a",
            ]
            for m in comparison.metrics.values()
        ]
        if comparison.mcnemar is not None:
            t = comparison.mcnemar
            gate.lines.append(
                f"McNemar's exact test: champion only right {t.baseline_only}, this version "
                f"only {t.candidate_only}, p = {t.p_value:.4f}."
            )
    else:
        gate.lines.append("No champion to compare with when it was trained.")
    for check in run.gates.checks if run.gates else []:
        gate.lines.append(f"{'pass' if check.passed else 'FAIL'}: {check.reason}")
    gate.lines += [f"Reason: {r}" for r in run.reasons]
    importance = Section("Permutation importance", [], [])
    if card.importance is not None:
        imp = card.importance
        importance.lines.append(
            f"Drop in {imp.score} when the feature is shuffled ({imp.rows} held-out rows, "
            f"{imp.repeats} repeats)."
        )
        importance.table = [["feature", "importance", "std"]] + [
            [name, _number(imp.mean[name]), _number(imp.std.get(name))] for name in imp.ranked()
        ]
    else:
        importance.lines.append("Not measured (a version trained before mlgate measured it).")
    reference = Section("Drift reference profile", [], [])
    if profile is not None:
        reference.lines.append(f"{profile.rows} training rows profiled.")
        reference.table = [["column", "kind", "missing", "mean", "std", "categories"]] + [
            [
                name,
                c.kind,
                str(c.missing),
                _number(c.mean) if c.mean is not None else "",
                _number(c.std) if c.std is not None else "",
                str(len(c.counts)) if c.kind == "categorical" else "",
            ]
            for name, c in profile.columns.items()
        ]
    else:
        reference.lines.append("No reference profile stored.")
    rollout = Section("Rollout history", [], [])
    mine = [e for e in events if version is not None and version in (e.from_version, e.to_version)]
    if mine:
        rollout.table = [["when (UTC)", "alias", "from", "to", "action", "by", "why"]] + [
            [
                e.at.strftime("%Y-%m-%d %H:%M:%S"),
                e.alias,
                e.from_version or "-",
                e.to_version or "-",
                e.action,
                e.actor,
                e.reason,
            ]
            for e in mine
        ]
    else:
        rollout.lines.append(
            "No alias has moved to or from this version yet."
            if version
            else "Written at registration, before any alias moved."
        )
    estimation = _estimation(card)
    return [about, data, schema, metrics, slices, gate, importance, reference, estimation, rollout]


def _estimation(card: ModelCard) -> Section:
    """What the version can estimate before labels arrive, and from how many held-out rows."""
    section = Section("Estimation without labels")
    calibration, loss = card.calibration, card.loss_model
    if calibration is not None:
        separation = (
            f"; its probabilities tell right answers from wrong ones with ROC AUC "
            f"{_number(calibration.separation)}"
            if calibration.separation is not None
            else ""
        )
        section.lines.append(
            f"Accuracy from the model's confidence, calibrated on {calibration.rows} held-out "
            f"rows, {len(calibration.scores)} bins{separation} (held-out accuracy "
            f"{_number(calibration.held_out_accuracy)})."
        )
        usable, note = calibration.usable, calibration.note
        figures = "accuracy (F1 and ROC AUC for two classes)"
    elif loss is not None:
        section.lines.append(
            f"MAE and RMSE from a loss model on {loss.rows} held-out rows, "
            f"{len(loss.absolute)} leaves (held-out MAE {_number(loss.held_out_mae)}, RMSE "
            f"{_number(loss.held_out_rmse)})."
        )
        usable, note = loss.usable, loss.note
        figures = "MAE and RMSE"
    else:
        section.lines.append(
            "Nothing: no calibration or loss model stored (a model without probabilities, or "
            "a version registered before mlgate fitted them); its performance waits for labels."
        )
        return section
    section.lines.append(
        f"Usable: the monitor and the rollout analysis estimate {figures} before labels arrive."
        if usable
        else f"Not usable: {note}."
    )
    return section


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def card_markdown(sections: list[Section], *, title: str) -> str:
    """The card as Markdown."""
    out = [f"# Model card: {title}", ""]
    for section in sections:
        out += [f"## {section.title}", ""]
        out += [f"- {line}" if len(section.lines) > 1 else line for line in section.lines]
        if section.lines:
            out.append("")
        if section.table:
            header, *body = section.table
            out.append("| " + " | ".join(map(_cell, header)) + " |")
            out.append("|" + "---|" * len(header))
            out += ["| " + " | ".join(map(_cell, row)) + " |" for row in body]
            out.append("")
    return "\n".join(out)


def card_html(sections: list[Section], *, title: str) -> str:
    """The card as a standalone HTML page."""
    e = html.escape
    parts = []
    for section in sections:
        parts.append(f"<h2>{e(section.title)}</h2>")
        if section.lines:
            parts.append(
                "<ul>" + "".join(f"<li>{e(line)}</li>" for line in section.lines) + "</ul>"
            )
        if section.table:
            header, *body = section.table
            head = "".join(f"<th>{e(h)}</th>" for h in header)
            rows = "".join(
                "<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in body
            )
            parts.append(f"<table><tr>{head}</tr>{rows}</table>")
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Model card: {e(title)}</title><style>body{{font-family:system-ui,sans-serif;"
        "max-width:1000px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px}</style></head><body>"
        f"<h1>Model card: {e(title)}</h1>{''.join(parts)}</body></html>"
    )
