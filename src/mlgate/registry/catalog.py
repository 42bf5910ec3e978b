"""The model catalog: MLflow's model registry, with every alias move kept in an `AliasHistory`.

Each registered version is an MLflow run holding the verified bundle
(model.skops, model.onnx where it converts, model.json, schema.yaml, the test
set, metrics and summary) and a model version pointing at it, tagged with the
gate verdict, lineage and the sha256 of model.skops and of model.json (which in
turn records model.onnx's). How a version is made, so that a crash
mid-registration leaves no version without its files, is `_registration`'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.config.settings import HOME, Settings
from mlgate.errors import ArtifactError, RegistryError
from mlgate.registry._lock import sqlite_file
from mlgate.registry._mlflow import call, connect, escape, missing, refused, version_info
from mlgate.registry._reader import TableReader
from mlgate.registry._record import check_bundle
from mlgate.registry._registration import Registrar
from mlgate.registry.history import AliasEvent, AliasHistory
from mlgate.registry.versions import (
    CHALLENGER,
    CHAMPION,
    ModelSummary,
    VersionInfo,
    parse_ref,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["CHALLENGER", "CHAMPION", "Catalog", "ModelSummary", "VersionInfo", "parse_ref"]


class Catalog:
    """Registered models and versions, their aliases, and the history of alias moves."""

    def __init__(
        self,
        uri: str,
        history: AliasHistory,
        *,
        artifact_root: str | None = None,
        cache: Path,
        actor: str = "mlgate",
    ) -> None:
        self.uri = uri
        self._history = history
        self.artifact_root = artifact_root
        self.cache = cache
        self.actor = actor
        self._client: MlflowClient | None = None
        #: Reads versions without importing MLflow, on a database registry.
        self._reader = TableReader.for_uri(uri)

    @classmethod
    def open(
        cls, base_dir: Path, settings: Settings, history: AliasHistory, *, create: bool = True
    ) -> Catalog:
        """The catalog for a project folder, embedded under `.mlgate/` unless settings say so.

        With `create=False` a project without an embedded registry is an error rather
        than a new, empty registry (see `require`).
        """
        if not create:
            cls.require(base_dir, settings)
        home = base_dir / HOME
        home.mkdir(parents=True, exist_ok=True)
        return cls(
            settings.registry(base_dir),
            history,
            artifact_root=settings.artifact_root(base_dir),
            cache=home / "cache",
            actor=settings.who(),
        )

    @staticmethod
    def require(base_dir: Path, settings: Settings) -> None:
        """Refuse a project with no registry: reading commands run in the wrong folder, or
        with a registry URI naming a database file that is not there, say so (and make
        nothing)."""
        if not settings.registry_uri and not (base_dir / HOME / "mlflow.db").exists():
            raise RegistryError(
                f"no model registry in {base_dir.resolve()}: there is no {HOME}/mlflow.db.",
                fix="Run `mlgate run` in the project first, pass -c with the project's "
                "mlgate.yaml, or set MLGATE_REGISTRY_URI.",
            )
        named = sqlite_file(settings.registry_uri) if settings.registry_uri else None
        if named is not None and (not named.is_file() or named.stat().st_size == 0):
            state = "is empty" if named.is_file() else "does not exist"
            raise RegistryError(
                f"no model registry at {settings.registry_uri}: the file {state}.",
                fix="Check MLGATE_REGISTRY_URI (or MLFLOW_TRACKING_URI); `mlgate run` "
                "registers a project's first version.",
            )

    @property
    def client(self) -> MlflowClient:
        """The MLflow client, created on first use (importing MLflow takes about a second)."""
        if self._client is None:
            self._client = connect(self.uri)
        return self._client

    # reading -----------------------------------------------------------------

    def models(self) -> list[ModelSummary]:
        """Every registered model with its version count and aliases."""
        found = []
        for model in self._call(lambda: self.client.search_registered_models(max_results=1000)):
            aliases = dict(getattr(model, "aliases", {}) or {})
            versions = self.versions(model.name)
            found.append(
                ModelSummary(
                    name=model.name,
                    versions=len(versions),
                    latest=versions[-1].version if versions else None,
                    champion=_str(aliases.get(CHAMPION)),
                    challenger=_str(aliases.get(CHALLENGER)),
                )
            )
        return found

    def versions(self, name: str) -> list[VersionInfo]:
        """Every version of `name`, oldest first."""
        query = f"name = '{escape(name)}'"
        found = self._call(lambda: self.client.search_model_versions(query, max_results=10000))
        # Searches leave aliases out; the registered model knows where each points.
        model = self._call(lambda: self.client.get_registered_model(name)) if found else None
        pointing: dict[str, list[str]] = {}
        for alias, version in (getattr(model, "aliases", None) or {}).items():
            pointing.setdefault(str(version), []).append(alias)
        infos = [self._info(v) for v in found]
        for info in infos:
            info.aliases = sorted(set(info.aliases) | set(pointing.get(info.version, [])))
        return sorted(infos, key=lambda v: int(v.version))

    def version(self, name: str, version: str) -> VersionInfo:
        """One version, or a RegistryError listing the versions there are."""
        if self._reader is not None and (read := self._reader.version(name, str(version))):
            return read
        from mlflow.exceptions import MlflowException

        self._require_model(name)
        try:
            found = self.client.get_model_version(name, str(version))
        except MlflowException as e:
            if not missing(e):
                raise refused(self.uri, e) from e
            known = ", ".join(v.version for v in self.versions(name)) or "none yet"
            raise RegistryError(
                f"model {name!r} has no version {version!r}.", fix=f"Versions: {known}."
            ) from e
        return self._info(found)

    def alias(self, name: str, alias: str) -> VersionInfo | None:
        """The version `alias` points at, or None when it points nowhere."""
        if self._reader is not None:
            known, read = self._reader.alias(name, alias)
            if known:
                return read
        from mlflow.exceptions import MlflowException

        self._require_model(name)
        try:
            found = self.client.get_model_version_by_alias(name, alias)
        except MlflowException as e:
            if missing(e):
                return None
            raise refused(self.uri, e) from e
        return self._info(found)

    def aliases(self, name: str) -> dict[str, str]:
        """Where each alias of `name` points: alias → version."""
        self._require_model(name)
        model = self._call(lambda: self.client.get_registered_model(name))
        return {str(a): str(v) for a, v in sorted((getattr(model, "aliases", None) or {}).items())}

    def has_model(self, name: str) -> bool:
        """Whether `name` is registered (with or without versions)."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException as e:
            if missing(e):
                return False
            raise refused(self.uri, e) from e
        return True

    def resolve(self, ref: str) -> VersionInfo:
        """The version a `models:/` reference names."""
        name, version, alias = parse_ref(ref)
        if version is not None:
            return self.version(name, version)
        assert alias is not None  # parse_ref gives a version or an alias
        found = self.alias(name, alias)
        if found is None:
            known = ", ".join(f"{a} → {v}" for a, v in self.aliases(name).items())
            raise RegistryError(
                f"model {name!r} has no version with alias {alias!r}.",
                fix=(f"Aliases: {known}." if known else "It has no aliases yet.")
                + " Aliases are set by `mlgate run` and `mlgate models promote`.",
            )
        return found

    def local_path(self, info: VersionInfo) -> Path:
        """A local folder with the version's bundle, downloaded into the cache if remote."""
        if info.source.startswith("file://"):
            from urllib.parse import unquote, urlparse

            path = Path(unquote(urlparse(info.source).path))
        else:
            # Keyed by run as well: version numbers restart in a new registry.
            target = self.cache / info.name / f"{info.version}-{info.run_id or 'norun'}"
            nested = target / Path(info.source.rstrip("/")).name
            if not (nested / "model.json").exists():  # MLflow is imported only to download
                import mlflow.artifacts

                target.mkdir(parents=True, exist_ok=True)
                self._call(
                    lambda: mlflow.artifacts.download_artifacts(
                        artifact_uri=info.source, dst_path=str(target), tracking_uri=self.uri
                    )
                )
            path = nested
        if not (path / "model.json").exists():
            raise ArtifactError(
                "the registered version's files are missing.", path=path, fix="Register it again."
            )
        return path

    def history(self, name: str) -> list[AliasEvent]:
        """Every alias move of `name`, oldest first."""
        self._require_model(name)
        return self._history.alias_history(name)

    def champions_before(self, name: str) -> list[str]:
        """The versions that were champion before the current one, oldest first; a
        rollback returns to the last of them and is popped off in turn."""
        earlier: list[str] = []
        for event in self._history.alias_history(name, CHAMPION):
            if event.from_version == event.to_version:
                continue  # nothing moved
            if event.action == "rollback":
                if earlier:
                    earlier.pop()
            elif event.from_version is not None:
                earlier.append(event.from_version)
        return earlier

    # writing -----------------------------------------------------------------

    def register(
        self,
        name: str,
        bundle: Path,
        *,
        passed: bool,
        reasons: list[str],
        metrics: dict[str, float | None],
        params: dict[str, Any],
        tags: dict[str, str],
        sha256: str,
        run_name: str,
    ) -> VersionInfo:
        """Log the bundle as an MLflow run and register it as a new version of `name`
        (`registering`, with nothing to do before its run ends)."""
        with self.registering(
            name,
            bundle,
            passed=passed,
            reasons=reasons,
            metrics=metrics,
            params=params,
            tags=tags,
            sha256=sha256,
            run_name=run_name,
        ) as info:
            return info

    @contextmanager
    def registering(
        self,
        name: str,
        bundle: Path,
        *,
        passed: bool,
        reasons: list[str],
        metrics: dict[str, float | None],
        params: dict[str, Any],
        tags: dict[str, str],
        sha256: str,
        run_name: str,
    ) -> Iterator[VersionInfo]:
        """Register the bundle as a new version of `name`; the block moves its aliases.

        The bundle is checked first (its model file must still have digest `sha256`
        when one is given), before the registry is opened, so a broken bundle changes
        nothing; `Registrar` makes the version, the run ending FINISHED with the block,
        or FAILED with the version marked failed when the block raises.
        """
        checked = check_bundle(bundle, sha256)
        # The client is made before the registrar takes the lock: making it takes it too.
        registrar = Registrar(self.client, self.uri, self._history, self.artifact_root)
        with registrar.registering(
            name,
            bundle,
            checked,
            passed=passed,
            reasons=reasons,
            metrics=metrics,
            params=params,
            tags=tags,
            run_name=run_name,
        ) as info:
            yield info

    def version_files(self, info: VersionInfo) -> list[str]:
        """The names of the files in the version's folder of the registry's store."""
        run_id, folder = self._run_folder(info)
        return sorted(
            Path(f.path).name
            for f in self._call(lambda: self.client.list_artifacts(run_id, folder))
            if not f.is_dir
        )

    def add_version_files(self, info: VersionInfo, local: Path, names: list[str]) -> None:
        """Log the files `names` of folder `local` into the version's folder, beside its
        own (one of the same name is replaced), and find them there after."""
        run_id, folder = self._run_folder(info)
        for name in names:
            self._call(lambda n=name: self.client.log_artifact(run_id, str(local / n), folder))
        lost = sorted(set(names) - set(self.version_files(info)))
        if lost:
            raise RegistryError(
                f"{', '.join(lost)} did not reach the registry's store for {info.name} "
                f"version {info.version}.",
                fix="Check that the registry's artifact store is reachable and writable, "
                "then try again.",
            )

    def tag_version(self, info: VersionInfo, key: str, value: str) -> None:
        """Set tag `key` of the version to `value`."""
        self._call(lambda: self.client.set_model_version_tag(info.name, info.version, key, value))

    def _run_folder(self, info: VersionInfo) -> tuple[str, str]:
        """The run holding the version's files, and their folder within its artifacts."""
        run = None if info.run_id is None else self._call(lambda: self.client.get_run(info.run_id))
        root = "" if run is None else run.info.artifact_uri.rstrip("/") + "/"
        if run is None or not info.source.startswith(root):
            raise RegistryError(
                f"{info.name} version {info.version} keeps its files outside a run's "
                f"artifacts ({info.source}), where mlgate cannot add to them.",
                fix="Register the model again with `mlgate run`.",
            )
        return str(info.run_id), info.source[len(root) :].rstrip("/")

    def move_alias(
        self, name: str, alias: str, version: str | None, *, action: str, reason: str
    ) -> AliasEvent:
        """Point `alias` at `version` (None removes it) and record the move, atomically."""
        current = self.alias(name, alias)
        before = current.version if current else None
        with self._history.moving_alias(
            model=name,
            alias=alias,
            from_version=before,
            to_version=version,
            action=action,
            actor=self.actor,
            reason=reason,
        ) as event:
            if version is None:
                self._call(lambda: self.client.delete_registered_model_alias(name, alias))
            else:
                self._call(lambda: self.client.set_registered_model_alias(name, alias, version))
        return event

    # helpers -----------------------------------------------------------------

    def _require_model(self, name: str) -> None:
        if self.has_model(name):
            return
        registered = self._call(lambda: self.client.search_registered_models(max_results=1000))
        known = ", ".join(sorted(m.name for m in registered))
        raise RegistryError(
            f"no registered model named {name!r}.",
            fix=f"Registered: {known}."
            if known
            else "Nothing is registered yet: run `mlgate run`.",
        )

    def _call(self, fn: Any) -> Any:
        return call(self.uri, fn)

    def _info(self, version: Any) -> VersionInfo:
        return version_info(self.client, version)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
