"""Messages about a data file: everything of the project's own, nothing of another's."""

from __future__ import annotations

import pytest

from mlgate.data import disclosure
from mlgate.data.disclosure import column, example, examples, names, value, withheld
from mlgate.data.report import Example, ValidationReport, Violation

HEADER = ["id", "SECRET-COLUMN", "label"]


def _shown() -> tuple[str, ...]:
    return (
        column("SECRET-COLUMN"),
        column("SECRET-COLUMN", quoted=False),
        names(HEADER),
        value("SECRET-VALUE"),
        example("SECRET-VALUE"),
        example("SECRET-VALUE", lead=""),
        examples(["SECRET-A", 2]),
    )


def test_outside_a_block_messages_show_everything() -> None:
    assert _shown() == (
        "'SECRET-COLUMN'",
        "SECRET-COLUMN",
        "id, SECRET-COLUMN, label",
        "'SECRET-VALUE'",
        " (e.g. 'SECRET-VALUE')",
        " ('SECRET-VALUE')",
        "'SECRET-A', 2",
    )


def test_withheld_columns_go_by_position_and_values_are_left_out() -> None:
    with withheld(HEADER, named=["label"]):
        assert _shown() == (
            "column 2",
            "column 2",
            "the file's 3 column(s), not named here: it is outside the project",
            "(not shown)",
            "",
            "",
            "",
        )
        # The project's own names, and names the file does not have, stay.
        assert (column("label"), column("elsewhere", quoted=False)) == ("'label'", "elsewhere")


def test_the_block_ends_with_its_error_and_shows_everything_again() -> None:
    with pytest.raises(ValueError, match=r"^\(not shown\)$"), withheld(HEADER):
        raise ValueError(value("SECRET-VALUE"))
    assert value("SECRET-VALUE") == "'SECRET-VALUE'"


def test_a_withheld_report_keeps_counts_and_rules_not_names_or_rows() -> None:
    found = ValidationReport(
        rows=3,
        columns=3,
        violations=[
            Violation(
                column="SECRET-COLUMN",
                rule="above_max",
                message="1 value(s) above max 5",
                count=1,
                expected=5,
                examples=[Example(row=0, value="SECRET-VALUE")],
            ),
            Violation(column=None, rule="duplicates", message="1 duplicate row(s)", count=1),
        ],
    )
    assert disclosure.report(found) is found
    with withheld(HEADER):
        hidden = disclosure.report(found)
    assert [(v.column, v.rule, v.count, v.examples) for v in hidden.violations] == [
        ("column 2", "above_max", 1, []),
        (None, "duplicates", 1, []),
    ]
    assert found.violations[0].examples  # the report given is left as it was
