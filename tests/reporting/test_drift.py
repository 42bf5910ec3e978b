"""Drift reports: the Markdown table and the standalone HTML page with its plots."""

from __future__ import annotations

import base64
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlgate.drift import DriftReport, detect, sample_values
from mlgate.reporting.drift import drift_html, drift_markdown

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    rows = 800
    reference = pd.DataFrame(
        {
            "age": rng.normal(40, 10, rows).round(),
            "income": rng.lognormal(10, 0.5, rows),
            "plan": rng.choice(["basic", "plus"], rows),
            "a|b": rng.normal(0, 1, rows),
        }
    )
    current = reference.sample(frac=1.0, random_state=1).reset_index(drop=True)
    current["age"] += 8
    current.loc[:199, "plan"] = "enterprise"
    return reference, current


@pytest.fixture(scope="module")
def report(frames: tuple[pd.DataFrame, pd.DataFrame]) -> DriftReport:
    reference, current = frames
    labels = (np.array(["yes", "no"] * 400), np.array(["yes"] * 600 + ["no"] * 200))
    return detect(reference, current, labels=labels)


def samples(frames: tuple[pd.DataFrame, pd.DataFrame], report: DriftReport) -> dict[str, Any]:
    reference, current = frames
    return {
        c.column: (
            sample_values(reference[c.column].to_numpy(), c.kind),
            sample_values(current[c.column].to_numpy(), c.kind),
        )
        for c in report.columns
    }


def test_markdown_lists_every_column_with_its_test_statistic_and_verdict(
    report: DriftReport,
) -> None:
    text = drift_markdown(report)
    lines = text.splitlines()
    assert [c.column for c in report.drifted] == ["age", "plan"]
    assert lines[0] == "## Data drift: ❌ drift"
    assert lines[2] == "2 of 4 columns drifted (50%; the dataset drifts at 30%)."
    table = [line for line in lines if line.startswith("| ") and not line.startswith("| Column")]
    by_name = {row.split(" | ")[0].removeprefix("| "): row for row in table}
    assert set(by_name) == {"age", "income", "plan", "a\\|b", "label"}
    for c in report.columns:
        row = by_name[c.column.replace("|", "\\|")]
        value = f"D={c.statistic:.4f}" if c.test == "ks" else f"χ²={c.statistic:.1f}"
        assert f"| {value}, p={c.p_adjusted:.3g} |" in row
        assert row.count(" | ") == 6  # seven cells: the escaped | in 'a|b' does not split one
        assert ("| **yes** |" in row) == c.drifted
    assert "| KS |" in by_name["age"]
    assert "| chi-square |" in by_name["plan"]
    assert "| enterprise |" in by_name["plan"]
    assert by_name["label"].startswith("| label | chi-square | χ²=")
    assert table.index(by_name["label"]) == len(table) - 1  # after the features
    assert text.endswith("since at large N every p-value is tiny.\n")


def test_markdown_shows_effect_sizes_with_their_thresholds(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    from mlgate.config.monitor import DriftConfig

    report = detect(*frames, config=DriftConfig(large_sample=100))
    rows = [line for line in drift_markdown(report).splitlines() if line.startswith("| age ")]
    (age,) = rows
    assert "| Wasserstein (normalised) |" in age
    assert "(threshold 0.05) | **yes** |" in age


class Page(HTMLParser):
    """Every tag of a page with its attributes, and the text of its title."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def test_html_is_one_standalone_page_with_a_png_plot_per_column(
    frames: tuple[pd.DataFrame, pd.DataFrame], report: DriftReport
) -> None:
    text = drift_html(report, samples(frames, report))
    assert text.startswith("<!doctype html>")
    page = Page()
    page.feed(text)
    page.close()
    assert page.title == "mlgate drift"
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert [i["alt"] for i in images] == [name for name, _ in rows_in_order(report)][:4]
    for image in images:
        src = image["src"] or ""
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.removeprefix("data:image/png;base64,")).startswith(PNG)
    # Nothing is fetched from elsewhere: no scripts, stylesheets or remote sources.
    assert not [t for t, _ in page.tags if t in ("script", "link", "iframe")]
    for _, attrs in page.tags:
        for key in ("src", "href"):
            value = attrs.get(key)
            assert value is None or value.startswith("data:"), value
    rows = [attrs for tag, attrs in page.tags if tag == "tr"]
    assert len(rows) == 1 + len(report.columns) + 1  # the header, the features, the label
    assert [r["class"] for r in rows[1:]] == [
        "drift" if c.drifted else "ok" for _, c in rows_in_order(report)
    ]
    assert "a|b" in text
    assert "label (label)" not in text


def rows_in_order(report: DriftReport) -> list[tuple[str, Any]]:
    found = sorted(report.columns, key=lambda c: (not c.drifted, c.column))
    return [(c.column, c) for c in found] + [("label", report.label)]


def test_html_without_samples_has_the_table_and_no_plots(report: DriftReport) -> None:
    text = drift_html(report)
    assert "data:image/png" not in text
    assert text.count("<tr") == 1 + len(report.columns) + 1


def test_html_escapes_names_and_draws_dollars_as_text() -> None:
    reference = pd.DataFrame({"<b>$x$</b>": np.arange(100.0), "plan": ["$a$", "b"] * 50})
    report = detect(reference, reference)
    sampled = {
        c.column: (sample_values(reference[c.column].to_numpy(), c.kind),) * 2
        for c in report.columns
    }
    text = drift_html(report, sampled)
    assert "<b>$x$</b>" not in text
    assert "&lt;b&gt;$x$&lt;/b&gt;" in text
    assert text.count("data:image/png;base64,") == 2


def test_drifted_columns_are_ranked_by_the_model_s_importance_of_them(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    from mlgate.drift.profile import build_profile

    reference, current = frames
    kinds = {"age": "numeric", "income": "numeric", "plan": "categorical", "a|b": "numeric"}
    profile = build_profile(reference, kinds)
    unweighted = detect(profile, current)
    assert [c.column for c in unweighted.drifted] == ["age", "plan"]  # by name
    assert "Importance" not in drift_markdown(unweighted)
    profile.importance = {"age": 0.01, "plan": 0.2, "income": 0.05}
    report = detect(profile, current)
    assert [c.column for c in report.drifted] == ["plan", "age"]  # plan matters more
    assert [c.importance for c in report.columns] == [0.01, 0.05, 0.2, None]
    table = drift_markdown(report).splitlines()
    rows = [line.split(" | ")[0].lstrip("| ") for line in table if line.startswith("| ")][1:]
    assert rows == ["plan", "age", "a\\|b", "income"]  # drifted first, by importance
    assert table[6].endswith(" 0.2000 |")
    assert table[8].endswith("|  | |")
    assert "by the model's permutation importance" in table[-1]
