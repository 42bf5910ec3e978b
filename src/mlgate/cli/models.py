"""`mlgate models`: the registry's versions and aliases, and every move of them."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from mlgate.cli.output import friendly, out, print_json

if TYPE_CHECKING:
    from mlgate.project import Project
    from mlgate.road.acts import Act

models_app = typer.Typer(
    help="Registered models: list, show, promote, roll back, history, model card, MLmodel.",
    no_args_is_help=True,
)

ProjectOption = Annotated[
    Path,
    typer.Option(
        "-c",
        "--config",
        help="The project's mlgate.yaml; its folder holds the embedded registry.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON, nothing else.")]
ReasonOption = Annotated[str, typer.Option("--reason", "-r", help="Why; kept in the history.")]


def open_project(config: Path) -> Project:
    """The project `config` belongs to (or the current folder), with a registry already
    there: reading commands run in the wrong folder say so."""
    from mlgate.project import Project

    if not config.exists():
        return Project(Path.cwd(), create=False)
    return Project(config.resolve().parent, create=False)


def _moved(act: Act, alias: str, unchanged: str) -> str:
    """What an act did to `alias`, in a line."""
    name = escape(act.model)
    if act.moved is not None:
        event = act.moved
        return (
            f"{name}: {alias} {event.from_version or '-'} → {event.to_version} "
            f"(by {escape(event.actor)})"
        )
    if act.ended is not None:
        return f"{name}: {escape(act.ended.note)}"
    return f"{name}: {unchanged}"


@models_app.command("list")
@friendly
def list_models(config: ProjectOption = Path("mlgate.yaml"), as_json: JsonOption = False) -> None:
    """Every registered model with its champion and challenger."""
    with open_project(config) as project:
        found = project.catalog.models()
    if as_json:
        print_json([m.model_dump(mode="json") for m in found])
        return
    if not found:
        out.print("no models registered yet: `mlgate run` registers every trained version")
        return
    table = Table("model", "versions", "latest", "champion", "challenger")
    for m in found:
        table.add_row(
            escape(m.name), str(m.versions), m.latest or "-", m.champion or "-", m.challenger or "-"
        )
    out.print(table)


@models_app.command("show")
@friendly
def show(
    ref: Annotated[str, typer.Argument(help="NAME, NAME@ALIAS or NAME/VERSION.")],
    config: ProjectOption = Path("mlgate.yaml"),
    as_json: JsonOption = False,
) -> None:
    """A model's versions, or one version's verdict, metrics and lineage."""
    catalog = open_project(config).catalog
    if "@" not in ref and "/" not in ref.removeprefix("models:/"):
        name = ref.removeprefix("models:/")
        versions = catalog.versions(name) if name else []
        if not versions:
            catalog.history(name)  # raises the unknown-model error with the known names
        if as_json:
            print_json([v.model_dump(mode="json") for v in versions])
            return
        table = Table("version", "aliases", "verdict", "accuracy/rmse", "created")
        for v in versions:
            main = v.metrics.get("accuracy", v.metrics.get("rmse"))
            table.add_row(
                v.version,
                ", ".join(v.aliases) or "-",
                "passed" if v.passed else "failed",
                "-" if main is None else f"{main:.4f}",
                v.created.strftime("%Y-%m-%d %H:%M:%S"),
            )
        out.print(table)
        return
    ref = ref if ref.startswith("models:/") else f"models:/{ref}"
    info = catalog.resolve(ref)
    if as_json:
        print_json(info.model_dump(mode="json"))
        return
    out.print(f"[bold]{escape(info.name)}[/] version {info.version}")
    out.print(f"  aliases: {', '.join(info.aliases) or '-'}")
    out.print(f"  verdict: {'passed' if info.passed else 'FAILED'}")
    for reason in info.reasons:
        out.print(f"    - {escape(reason)}")
    out.print(f"  model sha256: {info.sha256}")
    out.print(f"  source: {escape(info.source)}")
    for key in ("git_commit", "config_hash", "train_fingerprint", "test_fingerprint"):
        if info.tags.get(f"mlgate.{key}"):
            out.print(f"  {key}: {escape(info.tags[f'mlgate.{key}'])}")
    card = _card_of(catalog, info)
    if card.get("code"):
        out.print(f"  own code: {escape(', '.join(card['code']))}")
        trusted = ", ".join(card.get("trusted_types") or []) or "none"
        out.print(f"  classes trusted for this version only: {escape(trusted)}")
    if info.metrics:
        table = Table("metric", "value")
        for name, value in sorted(info.metrics.items()):
            table.add_row(name, f"{value:.4f}")
        out.print(table)


def _card_of(catalog: Any, info: Any) -> dict[str, Any]:
    """The version's model card as JSON (nothing is loaded or run), {} when unreadable."""
    import json

    try:
        found = json.loads((catalog.local_path(info) / "model.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


@models_app.command("promote")
@friendly
def promote(
    name: Annotated[str, typer.Argument(help="The registered model.")],
    version: Annotated[str, typer.Argument(help="The version to make champion.")],
    reason: ReasonOption = "promoted by hand",
    force: Annotated[
        bool, typer.Option("--force", help="Promote even a version that failed its gates.")
    ] = False,
    config: ProjectOption = Path("mlgate.yaml"),
) -> None:
    """Make VERSION the champion (recorded in the history); a rollout of VERSION ends."""
    from mlgate.road.acts import promote as promote_version

    with open_project(config) as project:
        act = promote_version(project, version, reason=reason, force=force, model=name)
    unchanged = f"version {escape(version)} is already the champion; nothing moved"
    out.print(_moved(act, "champion", unchanged))


@models_app.command("challenger")
@friendly
def challenger(
    name: Annotated[str, typer.Argument(help="The registered model.")],
    version: Annotated[str, typer.Argument(help="The version to make challenger.")],
    reason: ReasonOption = "made challenger by hand",
    force: Annotated[
        bool, typer.Option("--force", help="Even a version that failed its gates.")
    ] = False,
    config: ProjectOption = Path("mlgate.yaml"),
) -> None:
    """Make VERSION the challenger, e.g. again after a rollback (recorded in the history)."""
    from mlgate.road.acts import nominate

    with open_project(config) as project:
        act = nominate(project, version, reason=reason, force=force, model=name)
    if act.moved is None:
        out.print(
            f"{escape(name)}: version {escape(version)} is already the challenger; nothing moved"
        )
        return
    out.print(_moved(act, "challenger", "") + "; start a rollout with mlgate rollout start")


@models_app.command("rollback")
@friendly
def rollback(
    name: Annotated[str, typer.Argument(help="The registered model.")],
    reason: ReasonOption = "rolled back by hand",
    config: ProjectOption = Path("mlgate.yaml"),
) -> None:
    """Point the champion back at the version that held it before; during a rollout,
    take the challenger out instead. A champion that cannot be loaded, with none
    before it, is retired: no champion until a run passes or a version is promoted."""
    from mlgate.road.acts import rollback as roll_back

    with open_project(config) as project:
        act = roll_back(project, reason=reason, model=name)
    if act.moved is not None:
        event = act.moved
        out.print(
            f"{escape(name)}: champion {event.from_version} → {event.to_version or 'none'} "
            f"(rolled back by {escape(event.actor)})"
        )
    else:
        out.print(_moved(act, "champion", ""))


@models_app.command("mlmodel")
@friendly
def mlmodel(
    name: Annotated[str, typer.Argument(help="The registered model.")],
    version: Annotated[str, typer.Argument(help="The version to give an MLmodel.")],
    force: Annotated[
        bool, typer.Option("--force", help="Write it again where the version has one.")
    ] = False,
    config: ProjectOption = Path("mlgate.yaml"),
    as_json: JsonOption = False,
) -> None:
    """Add an MLmodel to VERSION (registered before mlgate wrote one), so that MLflow
    loads it: mlflow.pyfunc.load_model, mlflow models serve, spark_udf. The version is
    verified and loaded first; its own files are not touched."""
    from mlgate.registry.mlmodel import add_mlmodel

    with open_project(config) as project:
        added = add_mlmodel(project.catalog, name, version, force=force)
    if as_json:
        print_json(
            {
                "name": added.name,
                "version": added.version,
                "uri": added.uri,
                "files": added.files,
                "replaced": added.replaced,
            }
        )
        return
    verb = "replaced" if added.replaced else "written"
    out.print(
        f"{escape(added.name)} version {added.version}: MLmodel {verb} "
        f"({escape(', '.join(added.files))})"
    )
    out.print(
        f"  mlflow.pyfunc.load_model({escape(repr(added.uri))}) loads it with mlgate's checks"
    )


@models_app.command("card")
@friendly
def card(
    name: Annotated[str, typer.Argument(help="The registered model.")],
    version: Annotated[str, typer.Argument(help="Its version.")],
    config: ProjectOption = Path("mlgate.yaml"),
    as_html: Annotated[bool, typer.Option("--html", help="A standalone HTML page.")] = False,
    as_markdown: Annotated[
        bool, typer.Option("--markdown", help="Markdown (the default).")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write it to this file.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """A version's model card, from the evidence stored with it: intended use and owners,
    data lineage, metrics with intervals, slices, the gate's verdict against the champion,
    permutation importance, the drift reference profile, what it can estimate before labels
    arrive (calibration or loss model) and its rollout history."""
    from mlgate.errors import ConfigError
    from mlgate.road.card import model_card

    if as_html and as_markdown:
        raise ConfigError(
            "--html and --markdown are two forms of the same card; pass one.",
            show_value=False,
        )
    if output is not None and output.exists() and not force:
        raise ConfigError(
            "refusing to overwrite an existing file.",
            file=output,
            fix="Pass --force to replace it, or another -o.",
        )
    with open_project(config) as project:
        text = model_card(project, name, version, as_html=as_html)
    if output is None:
        out.print(text, markup=False, highlight=False, soft_wrap=True)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    out.print(f"wrote {escape(str(output))}")


@models_app.command("history")
@friendly
def history(
    name: Annotated[str, typer.Argument(help="The registered model.")],
    config: ProjectOption = Path("mlgate.yaml"),
    as_json: JsonOption = False,
    rollouts: Annotated[
        bool, typer.Option("--rollouts", help="The rollout events instead of alias moves.")
    ] = False,
) -> None:
    """Every alias move (when, which alias, from which version to which, by whom, why) and,
    with --rollouts, every rollout event (start, steps, analyses with their figures, the end).
    """
    project = open_project(config)
    if rollouts:
        from mlgate.state.rollout import rollout_events

        steps = rollout_events(project.state, name, limit=1000)
        _listing(
            steps,
            as_json,
            f"{escape(name)}: no rollout yet",
            ("when (UTC)", "event", "strategy", "weight", "step", "by", "what"),
            lambda r: (
                r.at.strftime("%Y-%m-%d %H:%M:%S"),
                r.kind,
                r.strategy,
                f"{r.weight:g}%",
                str(r.step),
                escape(r.actor),
                escape(r.message),
            ),
        )
        return
    _listing(
        project.catalog.history(name),
        as_json,
        f"{escape(name)}: no alias has moved yet",
        ("when (UTC)", "alias", "from", "to", "action", "by", "why"),
        lambda e: (
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.alias,
            e.from_version or "-",
            e.to_version or "-",
            e.action,
            escape(e.actor),
            escape(e.reason),
        ),
    )


def _listing(
    items: Sequence[Any],
    as_json: bool,
    empty: str,
    columns: tuple[str, ...],
    row: Callable[[Any], tuple[str, ...]],
) -> None:
    """Records as JSON, a line saying there are none, or a table of `columns`."""
    if as_json:
        print_json([item.model_dump(mode="json") for item in items])
    elif not items:
        out.print(empty)
    else:
        rows = [row(item) for item in items]
        # The short columns never break; the last one (why, what) wraps between words in
        # the width left, or, when too little is left, goes under its row, indented.
        widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns[:-1])]
        if sum(widths) + 3 * len(columns) + _MIN_TEXT_WIDTH <= out.width:
            table = Table()
            for column in columns[:-1]:
                table.add_column(column, no_wrap=True)
            table.add_column(columns[-1], ratio=1, overflow="fold")
            for cells in rows:
                table.add_row(*cells)
            out.print(table)
            return
        out.print(
            "  ".join([*(c.ljust(w) for c, w in zip(columns, widths, strict=False)), columns[-1]])
        )
        for cells in rows:
            out.print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip())
            for line in textwrap.wrap(Text.from_markup(cells[-1]).plain, out.width - 4):
                out.print(f"    {escape(line)}")


#: The narrowest the last column of a listing may be and stay a table column.
_MIN_TEXT_WIDTH = 30


def register(app: typer.Typer) -> None:
    """Add `mlgate models` to the root app."""
    app.add_typer(models_app, name="models")
