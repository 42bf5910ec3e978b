"""Alias moves with their rules: promote to champion, nominate a challenger, roll back.

Each is one recorded move (or none, when the alias already points there); a
version that failed its gates moves only when forced. A champion that cannot be
loaded never holds a project hostage: roll back retires it even when no
champion came before it. What else an act means
(ending a rollout, telling the webhook) is the road's (`mlgate.road`).
"""

from __future__ import annotations

from mlgate.errors import ArtifactError, RegistryError
from mlgate.registry.catalog import Catalog
from mlgate.registry.history import AliasEvent
from mlgate.registry.versions import CHALLENGER, CHAMPION, VersionInfo

__all__ = ["nominate", "promote", "rollback"]


def _require_passed(name: str, info: VersionInfo, force: bool, doing: str) -> None:
    """Refuse a version that failed its gates unless forced; `doing` names the move."""
    if info.passed is False and not force:
        raise RegistryError(
            f"version {info.version} of {name!r} failed its gates: "
            f"{'; '.join(info.reasons) or 'see mlgate models show'}.",
            fix=f"Pass --force to {doing} anyway.",
        )


def promote(
    catalog: Catalog, name: str, version: str, *, reason: str, force: bool = False
) -> AliasEvent | None:
    """Make `version` the champion; a version that failed its gates needs `force`.

    None when it already is the champion: nothing moves and nothing is recorded,
    so a rollback never "returns" to the version it is on.
    """
    info = catalog.version(name, version)
    current = catalog.alias(name, CHAMPION)
    if current is not None and current.version == info.version:
        return None
    _require_passed(name, info, force, "promote it")
    event = catalog.move_alias(name, CHAMPION, info.version, action="promote", reason=reason)
    challenger = catalog.alias(name, CHALLENGER)
    if challenger and challenger.version == info.version:
        catalog.move_alias(name, CHALLENGER, None, action="promote", reason="became champion")
    return event


def nominate(
    catalog: Catalog, name: str, version: str, *, reason: str, force: bool = False
) -> AliasEvent | None:
    """Make `version` the challenger again (after a rollback, or to try an older one);
    a version that failed its gates needs `force`. None when it already is."""
    info = catalog.version(name, version)
    champion = catalog.alias(name, CHAMPION)
    if champion is not None and champion.version == info.version:
        raise RegistryError(
            f"version {info.version} of {name!r} is the champion; a challenger must be "
            "another version.",
            fix=f"Pick another version: mlgate models show {name}.",
        )
    current = catalog.alias(name, CHALLENGER)
    if current is not None and current.version == info.version:
        return None
    _require_passed(name, info, force, "make it the challenger")
    return catalog.move_alias(name, CHALLENGER, info.version, action="nominate", reason=reason)


def rollback(catalog: Catalog, name: str, *, reason: str) -> AliasEvent:
    """Point the champion back at the version it pointed to before the current one."""
    current = catalog.alias(name, CHAMPION)
    if current is None:
        raise RegistryError(
            f"model {name!r} has no champion to roll back.",
            fix=f"Promote a version: mlgate models promote {name} VERSION.",
        )
    earlier = catalog.champions_before(name)
    previous = earlier[-1] if earlier else None
    if previous is None:
        broken = _unloadable(catalog, name, current.version)
        if broken is not None:
            return catalog.move_alias(
                name,
                CHAMPION,
                None,
                action="rollback",
                reason=f"{reason} (retired: version {current.version} cannot be loaded: "
                f"{broken.rstrip('.')}; no champion came before it)",
            )
        raise RegistryError(
            f"no champion of {name!r} came before version {current.version}, "
            "so there is nothing to roll back to.",
            fix=f"Promote a version instead: mlgate models promote {name} VERSION.",
        )
    return catalog.move_alias(name, CHAMPION, previous, action="rollback", reason=reason)


def _unloadable(catalog: Catalog, name: str, version: str) -> str | None:
    """Why `version` cannot be loaded the way the gateway loads it; None when it can."""
    from mlgate.registry.refs import load_ref

    try:
        load_ref(f"models:/{name}/{version}", catalog=catalog)
    except ArtifactError as e:
        return e.problem
    return None
