"""Alias moves with their rules: promote, nominate and roll back, each on record."""

from __future__ import annotations

import pytest
from catalog_support import exact, moves

from mlgate.errors import RegistryError
from mlgate.registry import aliases
from mlgate.registry.catalog import CHALLENGER, CHAMPION, Catalog


def test_promote_records_from_to_actor_and_reason(three: Catalog) -> None:
    three.move_alias("demo", CHAMPION, "1", action="register", reason="first to pass")
    three.move_alias("demo", CHALLENGER, "3", action="register", reason="passed")
    event = aliases.promote(three, "demo", "3", reason="better on the holdout")
    assert event is not None
    assert (event.from_version, event.to_version, event.actor) == ("1", "3", "tester")
    assert three.alias("demo", CHAMPION).version == "3"  # type: ignore[union-attr]
    assert three.alias("demo", CHALLENGER) is None  # the challenger became champion
    assert moves(three) == [
        (CHAMPION, None, "1", "register", "tester", "first to pass"),
        (CHALLENGER, None, "3", "register", "tester", "passed"),
        (CHAMPION, "1", "3", "promote", "tester", "better on the holdout"),
        (CHALLENGER, "3", None, "promote", "tester", "became champion"),
    ]


def test_a_failed_version_is_promoted_only_with_force(three: Catalog) -> None:
    with pytest.raises(
        RegistryError,
        match=exact(
            "version 2 of 'demo' failed its gates: accuracy too low. "
            "Pass --force to promote it anyway."
        ),
    ):
        aliases.promote(three, "demo", "2", reason="try")
    assert three.alias("demo", CHAMPION) is None
    assert three.history("demo") == []
    event = aliases.promote(three, "demo", "2", reason="hotfix", force=True)
    assert event is not None
    assert (event.from_version, event.to_version, event.reason) == (None, "2", "hotfix")


def test_promoting_the_champion_again_moves_and_records_nothing(three: Catalog) -> None:
    aliases.promote(three, "demo", "1", reason="first")
    aliases.promote(three, "demo", "3", reason="second")
    assert aliases.promote(three, "demo", "3", reason="again") is None
    assert len(three.history("demo")) == 2
    assert aliases.rollback(three, "demo", reason="bad").to_version == "1"


def test_a_first_champion_that_cannot_be_loaded_is_retired_by_rollback(three: Catalog) -> None:
    aliases.promote(three, "demo", "1", reason="first")
    folder = three.local_path(three.version("demo", "1"))
    with (folder / "model.skops").open("ab") as f:
        f.write(b"altered")
    event = aliases.rollback(three, "demo", reason="it will not load")
    assert (event.from_version, event.to_version, event.action) == ("1", None, "rollback")
    assert event.reason.startswith("it will not load (retired: version 1 cannot be loaded: ")
    assert event.reason.endswith("; no champion came before it)")
    assert three.alias("demo", CHAMPION) is None
    assert aliases.promote(three, "demo", "3", reason="the next").from_version is None  # type: ignore[union-attr]
    assert three.champions_before("demo") == []


def test_rollbacks_walk_back_the_stack_of_champions(three: Catalog) -> None:
    aliases.promote(three, "demo", "1", reason="a")
    aliases.promote(three, "demo", "3", reason="b")
    aliases.promote(three, "demo", "2", reason="c", force=True)
    first = aliases.rollback(three, "demo", reason="2 misbehaves")
    assert (first.from_version, first.to_version, first.action) == ("2", "3", "rollback")
    second = aliases.rollback(three, "demo", reason="3 too")
    assert (second.from_version, second.to_version) == ("3", "1")
    assert three.alias("demo", CHAMPION).version == "1"  # type: ignore[union-attr]
    with pytest.raises(
        RegistryError,
        match=exact(
            "no champion of 'demo' came before version 1, so there is nothing to roll back to. "
            "Promote a version instead: mlgate models promote demo VERSION."
        ),
    ):
        aliases.rollback(three, "demo", reason="once more")
    aliases.promote(three, "demo", "3", reason="d")
    assert aliases.rollback(three, "demo", reason="e").to_version == "1"
    assert [(m[1], m[2], m[3]) for m in moves(three)] == [
        (None, "1", "promote"),
        ("1", "3", "promote"),
        ("3", "2", "promote"),
        ("2", "3", "rollback"),
        ("3", "1", "rollback"),
        ("1", "3", "promote"),
        ("3", "1", "rollback"),
    ]


def test_rollback_without_a_champion(three: Catalog) -> None:
    with pytest.raises(
        RegistryError,
        match=exact(
            "model 'demo' has no champion to roll back. "
            "Promote a version: mlgate models promote demo VERSION."
        ),
    ):
        aliases.rollback(three, "demo", reason="r")


def test_a_failed_alias_move_records_nothing(three: Catalog) -> None:
    with pytest.raises(RegistryError, match=r"Invalid alias name: 'not ok!'"):
        three.move_alias("demo", "not ok!", "1", action="promote", reason="r")
    assert three.history("demo") == []
