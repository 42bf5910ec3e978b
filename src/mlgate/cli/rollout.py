"""`mlgate rollout`: start, watch, inspect, finish or abort a challenger's rollout."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from mlgate.cli.output import err, friendly, out, print_json

if TYPE_CHECKING:
    from collections.abc import Callable

    from mlgate.project import Project
    from mlgate.road.acts import Act

rollout_app = typer.Typer(
    help="Roll a challenger out: canary, blue-green, shadow or A/B.", no_args_is_help=True
)

ConfigOption = Annotated[Path, typer.Option("-c", "--config", help="The pipeline config.")]
ReasonOption = Annotated[
    str | None, typer.Option("--reason", "-r", help="Why; kept in the events.")
]


def open_project(config: Path) -> Project:
    """The project of the config's model (rollouts need no data files)."""
    from mlgate.project import Project

    return Project.open(config, data_files=False)


def _steps(text: str | None) -> list[float] | None:
    if text is None:
        return None
    from mlgate.errors import ConfigError

    parts = [part.strip() for part in text.split(",")]
    try:
        if "" in parts:
            raise ValueError("an empty step")
        return [float(part) for part in parts]
    except ValueError as e:
        raise ConfigError(
            "steps must be percentages separated by commas", field="--steps", value=text
        ) from e


@rollout_app.command("start")
@friendly
def start(
    config: ConfigOption = Path("mlgate.yaml"),
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="blue-green, canary, shadow or ab.")
    ] = None,
    steps: Annotated[
        str | None, typer.Option("--steps", help="Canary weights, e.g. 5,25,50,100.")
    ] = None,
) -> None:
    """Start rolling the challenger out with the config's plan (or these options)."""
    from mlgate.road.rollouts import start_rollout

    with open_project(config) as project:
        state = start_rollout(project, strategy=strategy, steps=_steps(steps))
    out.print(
        f"{escape(state.model)}: {state.strategy} rollout started at {state.weight:g}% "
        f"({escape(state.note)})"
    )
    out.print("a running `mlgate serve` (or `mlgate rollout watch`) advances it by itself")


@rollout_app.command("status")
@friendly
def status(
    config: ConfigOption = Path("mlgate.yaml"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, nothing else.")] = False,
) -> None:
    """The current step and weight, the last analyses, and the next action."""
    from mlgate.road.rollouts import rollout_status

    with open_project(config) as project:
        found = rollout_status(project)
    if as_json:
        print_json(found)
        return
    state = found["state"]
    out.print(f"[bold]{escape(state['model'])}[/]: {escape(_serving(state))}")
    upcoming = found["next"]
    if upcoming:
        out.print(
            f"step {upcoming['step'] + 1} of {upcoming['of_steps']}; next analysis in "
            f"{upcoming['in_seconds']:.0f} s: {escape(upcoming['action'])}"
        )
    if found["estimated"]:
        out.print(escape(_estimated(found["estimated"])))
    if found["events"]:
        table = Table("when (UTC)", "event", "challenger's share", "what")
        for event in found["events"][-10:]:
            ended = event["kind"] in _ENDINGS
            table.add_row(
                event["at"][:19].replace("T", " "),
                event["kind"],
                "-" if ended else f"{event['weight']:g}%",
                escape(event["message"]),  # whole: the table wraps it between words
            )
        out.print(table)


#: What the controller does with an estimate, by rollout.analysis.estimated.
_USES = {"advise": "shown, not acted on", "enforce": "judged until live accuracy is measured"}


def _estimated(found: dict[str, Any]) -> str:
    """The latest analysis's estimated performance, in words."""
    from mlgate.rollout.estimated import Estimated

    figures = Estimated.model_validate(found["figures"])
    notes = "".join(f"; {note}" for note in figures.notes)
    mode = found["mode"]
    use = f"; rollout.analysis.estimated: {mode}, {_USES[mode]}" if mode in _USES else ""
    return f"{figures.describe()}{notes} (at {found['at'][:19].replace('T', ' ')}{use})"


#: Events after which no challenger takes traffic: a share shown there reads as a split.
_ENDINGS = frozenset({"promote", "rollback", "abort", "superseded"})


#: Strategies in which a challenger at 0% answers copies of requests, not users.
_MIRRORED = frozenset({"shadow", "blue-green"})


def _serving(state: dict[str, Any]) -> str:
    """Who serves what, in words: during a rollout the split, after it the outcome."""
    plan = state.get("plan") or {}
    champion, challenger = plan.get("champion"), plan.get("challenger")
    if state["status"] == "running" and state["weight"] == 0 and state["strategy"] in _MIRRORED:
        return (
            f"running, {state['strategy']}: champion {champion} answers all traffic; version "
            f"{challenger} answers copies of it off the path"
            + (" (the pre-switch analysis)" if state["strategy"] == "blue-green" else "")
        )
    if state["status"] == "running":
        return (
            f"running, {state['strategy']}: version {challenger} takes {state['weight']:g}% "
            f"of traffic, champion {champion} the rest"
        )
    if state["status"] == "idle" or not plan:
        return "no rollout; the champion serves all traffic"
    outcome = state.get("note") or state["status"].replace("_", " ")
    return f"{outcome}; the champion serves all traffic"


@rollout_app.command("promote")
@friendly
def promote(config: ConfigOption = Path("mlgate.yaml"), reason: ReasonOption = None) -> None:
    """Finish the rollout now: the challenger becomes champion."""
    from mlgate.road import acts

    _end(config, acts.promote, reason or "promoted by hand")


@rollout_app.command("abort")
@friendly
def abort(config: ConfigOption = Path("mlgate.yaml"), reason: ReasonOption = None) -> None:
    """Roll back now: all traffic returns to the champion."""
    from mlgate.road import acts

    _end(config, acts.abort, reason or "aborted by hand")


def _end(config: Path, act: Callable[..., Act], reason: str) -> None:
    """End the running rollout with `act` (promote or abort) and say how it ended."""
    with open_project(config) as project:
        done = act(project, reason=reason)
    out.print(f"{escape(done.model)}: {escape(done.ended.note if done.ended else done.action)}")


@rollout_app.command("watch")
@friendly
def watch(
    config: ConfigOption = Path("mlgate.yaml"),
    every: Annotated[
        str,
        typer.Option("--every", help="Time between checks: seconds, or e.g. 500ms, 5s, 1m."),
    ] = "1s",
) -> None:
    """Run the controller alone (when no gateway runs it), printing each rollout event as it
    happens (its analyses, steps and end, whoever acts); Ctrl-C stops."""
    import time

    from mlgate.config.rollout import parse_duration
    from mlgate.errors import ConfigError
    from mlgate.rollout.controller import Controller
    from mlgate.state.rollout import rollout_events

    try:
        pause = parse_duration(every)
    except ValueError as e:
        raise ConfigError(str(e), field="--every", value=every) from e
    if not 0.1 <= pause <= 3600:
        raise ConfigError(
            "must be between 100ms and 1h", field="--every", value=every, show_value=True
        )

    project = open_project(config)
    controller = Controller(project)
    err.print(f"watching the rollout of {escape(controller.name)}; Ctrl-C stops")
    stop = threading.Event()
    acting = threading.Thread(
        target=controller.run, args=(stop,), kwargs={"every": pause}, daemon=True
    )
    newest = rollout_events(controller.store, controller.name, limit=1)
    seen = newest[-1].id if newest else 0
    acting.start()
    try:
        while acting.is_alive():
            time.sleep(pause)
            for event in rollout_events(controller.store, controller.name, limit=50):
                if event.id > seen:
                    seen = event.id
                    out.print(
                        f"{event.at:%H:%M:%S} {event.kind} ({event.strategy} "
                        f"{event.weight:g}%): {escape(event.message)}"
                    )
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        acting.join(timeout=30)
        controller.close()
        project.close()


def register(app: typer.Typer) -> None:
    """Add `mlgate rollout` to the root app."""
    app.add_typer(rollout_app, name="rollout")
