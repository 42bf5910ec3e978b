"""The front hall: one `Project` holds what every face of mlgate works with.

The command line, the gateway's admin API, the rollout controller and the
monitor each open one project and pass it down; none of them builds a config,
settings, catalog or state store of its own. Parts are opened on first use
(MLflow and SQLAlchemy take a second to import) and closed together::

    with Project.open("mlgate.yaml") as project:
        project.catalog.alias(project.name, "champion")
"""

from __future__ import annotations

import os
import threading
import time
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from mlgate.config.loader import load_config
from mlgate.config.models import PipelineConfig
from mlgate.config.settings import Settings, load_settings
from mlgate.errors import ConfigError, RolloutError
from mlgate.processes import holder

if TYPE_CHECKING:
    from mlgate.registry.catalog import Catalog
    from mlgate.reporting.notify import Notifier
    from mlgate.state.store import StateStore

__all__ = ["DEFAULT_CONFIG", "Acting", "Project"]

#: The config a command reads when none is named.
DEFAULT_CONFIG = Path("mlgate.yaml")


class Acting:
    """One act at a time: a lock among this process's threads (a gateway's admin requests,
    its controller), and a lease in the state store among processes (several workers or
    gateways, the command line). Re-entrant: an act may call another.

    Two acts that each read the state and then moved aliases from it, in two processes
    at once, both succeeded: a promotion and an abort each did their part, and the
    record said the opposite of what was served. A process that dies holding the lease
    on another host holds it until `TTL` runs out (one SIGKILLed on this host is seen
    gone and loses it at once); an act waits `WAIT` seconds for it, then is refused.
    """

    LEASE = "acting"
    TTL, WAIT = 60.0, 30.0

    def __init__(self, project: Project) -> None:
        self._project = project
        self._lock = threading.RLock()
        self._depth = 0
        self._holder = holder()

    def __enter__(self) -> None:
        self._lock.acquire()
        try:
            if self._depth == 0:
                self._take()
        except BaseException:
            self._lock.release()
            raise
        self._depth += 1

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        try:
            if self._depth == 0:
                from mlgate.state.rollout import release_lease

                release_lease(self._project.state, self.LEASE, self._holder)
        finally:
            self._lock.release()

    def _take(self) -> None:
        from mlgate.state.rollout import acquire_lease

        store = self._project.state
        deadline = time.monotonic() + self.WAIT
        while not acquire_lease(store, self.LEASE, self._holder, ttl=self.TTL):
            if time.monotonic() > deadline:
                raise RolloutError(
                    f"another act (a promotion, rollback or rollout step) has been in progress "
                    f"for {self.WAIT:g} s",
                    fix="Try again in a minute; see `mlgate rollout status` for what it did.",
                )
            time.sleep(0.05)


class Project:
    """A project's config (when it has one), settings, catalog, state store, logs and notifier.

    `create=False` opens an existing registry only: a reading command run in the
    wrong folder is told so rather than given a new, empty registry.
    """

    def __init__(
        self,
        base_dir: Path,
        settings: Settings | None = None,
        config: PipelineConfig | None = None,
        *,
        create: bool = True,
        notifier: Notifier | None = None,
    ) -> None:
        self.base_dir = base_dir
        self._settings = settings
        self._config = config
        self._create = create
        #: Held by every act that moves aliases or rollouts (`mlgate.road`): acts happen
        #: one after another, in this process and in every process on the state store.
        self.acting = Acting(self)
        if notifier is not None:
            self.__dict__["notifier"] = notifier

    @classmethod
    def open(
        cls,
        config: str | Path | PipelineConfig | None = DEFAULT_CONFIG,
        *,
        settings: Settings | None = None,
        data_files: bool = True,
        required: bool = True,
        create: bool = True,
    ) -> Project:
        """The project a config file (or a loaded config) describes.

        With `required=False` a config file that is not there is no error: the
        project is the current folder, for commands that only read the registry.
        `data_files`: check that the config's data files exist (serving and rollouts
        use what is registered and need none).
        """
        if isinstance(config, PipelineConfig):
            return cls(config.base_dir, settings, config, create=create)
        if config is None or (not required and not Path(config).exists()):
            return cls(Path.cwd(), settings, None, create=create)
        loaded = load_config(config, data_files=data_files)
        return cls(loaded.base_dir, settings, loaded, create=create)

    @property
    def settings(self) -> Settings:
        """Runtime settings from the environment (read on first use: a command that needs
        none is not refused for a bad variable it never uses)."""
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def config(self) -> PipelineConfig:
        """The pipeline config; an error for a project opened without one."""
        if self._config is None:
            raise ConfigError(
                "this command needs the project's config, and there is none here.",
                file=self.base_dir / DEFAULT_CONFIG,
                fix="Run it in the project's folder, or pass -c with its mlgate.yaml.",
            )
        return self._config

    @property
    def has_config(self) -> bool:
        """Whether the project was opened with a config."""
        return self._config is not None

    @property
    def name(self) -> str:
        """The model's name in the registry."""
        return self.config.name

    @property
    def actor(self) -> str:
        """Who is acting, recorded with every change."""
        return self.settings.who()

    @property
    def log_root(self) -> str:
        """Where the prediction and feedback logs are."""
        return self.settings.logs(self.base_dir)

    @property
    def spool_root(self) -> str:
        """The local folder where the gateway spools log records before they are segments."""
        return self.settings.spool(self.base_dir)

    @cached_property
    def state(self) -> StateStore:
        """The state store: alias history, rollout state and events, leases."""
        from mlgate.registry.catalog import Catalog
        from mlgate.state.store import StateStore

        if not self._create:  # before the store makes a .mlgate folder where none belongs
            Catalog.require(self.base_dir, self.settings)
        return StateStore(self.settings.state(self.base_dir))

    @cached_property
    def catalog(self) -> Catalog:
        """The model registry, keeping its alias history in the state store."""
        from mlgate.registry.catalog import Catalog

        if not self._create:
            Catalog.require(self.base_dir, self.settings)
        return Catalog.open(self.base_dir, self.settings, self.state)

    @cached_property
    def notifier(self) -> Notifier:
        """The webhook: the config's `rollout.webhook`, else MLGATE_WEBHOOK_URL, else none."""
        from mlgate.reporting.notify import Notifier

        configured = self._config.rollout.webhook if self._config is not None else None
        return Notifier(configured or os.environ.get("MLGATE_WEBHOOK_URL"))

    def close(self) -> None:
        """Deliver pending notifications and close the state store's connections."""
        if "notifier" in self.__dict__:
            self.notifier.close()
        if "state" in self.__dict__:
            self.state.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
