"""The model catalog: MLflow's model registry, plus mlgate's history of alias moves.

Each registered version is an MLflow run holding the verified bundle
(model.skops, model.onnx where it converts, model.json, schema.yaml, the test
set, metrics and summary) and a model version pointing at it, tagged with the
gate verdict and lineage. The version is created only after every artifact is
logged, so a crash mid-registration leaves no version without its files.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from mlgate.config.settings import HOME, Settings, load_settings, redact_url
from mlgate.errors import ArtifactError, RegistryError
from mlgate.state.store import AliasEvent, StateStore

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["CHALLENGER", "CHAMPION", "Catalog", "ModelSummary", "VersionInfo", "parse_ref"]

CHAMPION = "champion"
CHALLENGER = "challenger"
_TAG = "mlgate."


class VersionInfo(BaseModel):
    """One registered version as mlgate sees it."""

    name: str
    version: str
    run_id: str | None
    source: str
    passed: bool | None = Field(description="The gate verdict it was registered with.")
    reasons: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    metrics: dict[str, float] = Field(default_factory=dict)
    sha256: str | None = Field(None, description="Digest of model.skops, kept in the registry.")
    created: datetime
    tags: dict[str, str] = Field(default_factory=dict)


class ModelSummary(BaseModel):
    """A registered model and where its aliases point."""

    name: str
    versions: int
    latest: str | None
    champion: str | None
    challenger: str | None


def parse_ref(ref: str) -> tuple[str, str | None, str | None]:
    """(name, version, alias) of `models:/NAME/VERSION`, `models:/NAME@ALIAS`, NAME@ALIAS."""
    body = ref.removeprefix("models:/")
    if "@" in body:
        name, _, alias = body.partition("@")
        if name and alias:
            return name, None, alias
    elif "/" in body:
        name, _, version = body.partition("/")
        if name and version.isdigit():
            return name, version, None
    raise RegistryError(
        f"cannot read the model reference {ref!r}",
        fix="Write models:/NAME/VERSION, models:/NAME@ALIAS (or NAME@ALIAS), or a run folder.",
    )


def _quiet_mlflow() -> None:
    for name in ("mlflow", "alembic", "mlflow.store.db.utils"):
        logging.getLogger(name).setLevel(logging.WARNING)


class Catalog:
    """Registered models and versions, their aliases, and the history of alias moves."""

    def __init__(
        self,
        uri: str,
        state: StateStore,
        *,
        artifact_root: str | None = None,
        cache: Path,
        actor: str = "mlgate",
    ) -> None:
        self.uri = uri
        self.state = state
        self.artifact_root = artifact_root
        self.cache = cache
        self.actor = actor
        self._client: MlflowClient | None = None

    @classmethod
    def open(cls, base_dir: Path, settings: Settings | None = None) -> Catalog:
        """The catalog for a project folder, embedded under `.mlgate/` unless settings say so."""
        settings = settings or load_settings()
        home = base_dir / HOME
        home.mkdir(parents=True, exist_ok=True)
        return cls(
            settings.registry(base_dir),
            StateStore(settings.state(base_dir)),
            artifact_root=settings.artifact_root(base_dir),
            cache=home / "cache",
            actor=settings.who(),
        )

    @property
    def client(self) -> MlflowClient:
        """The MLflow client, created on first use (importing MLflow takes about a second)."""
        if self._client is None:
            _quiet_mlflow()
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
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
        query = f"name = '{_escape(name)}'"
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
        self._require_model(name)
        try:
            return self._info(self.client.get_model_version(name, str(version)))
        except Exception as e:
            known = ", ".join(v.version for v in self.versions(name)) or "none"
            raise RegistryError(
                f"model {name!r} has no version {version!r}", fix=f"Versions: {known}."
            ) from e

    def alias(self, name: str, alias: str) -> VersionInfo | None:
        """The version `alias` points at, or None when it points nowhere."""
        self._require_model(name)
        try:
            return self._info(self.client.get_model_version_by_alias(name, alias))
        except Exception:
            return None

    def resolve(self, ref: str) -> VersionInfo:
        """The version a `models:/` reference names."""
        name, version, alias = parse_ref(ref)
        if version is not None:
            return self.version(name, version)
        assert alias is not None  # parse_ref gives a version or an alias
        found = self.alias(name, alias)
        if found is None:
            raise RegistryError(
                f"model {name!r} has no version with alias {alias!r}",
                fix=f"See `mlgate models show {name}`; aliases are set by `mlgate run` "
                "and `mlgate models promote`.",
            )
        return found

    def local_path(self, info: VersionInfo) -> Path:
        """A local folder with the version's bundle, downloaded into the cache if remote."""
        if info.source.startswith("file://"):
            from urllib.parse import unquote, urlparse

            path = Path(unquote(urlparse(info.source).path))
        else:
            import mlflow.artifacts

            target = self.cache / info.name / info.version
            if not (target / "model.json").exists():
                target.mkdir(parents=True, exist_ok=True)
                self._call(
                    lambda: mlflow.artifacts.download_artifacts(
                        artifact_uri=info.source, dst_path=str(target), tracking_uri=self.uri
                    )
                )
                nested = target / Path(info.source.rstrip("/")).name
                path = nested if (nested / "model.json").exists() else target
            else:
                path = target
        if not (path / "model.json").exists():
            raise ArtifactError(
                "the registered version's files are missing", path=path, fix="Register it again."
            )
        return path

    def history(self, name: str) -> list[AliasEvent]:
        """Every alias move of `name`, oldest first."""
        self._require_model(name)
        return self.state.alias_history(name)

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
        """Log the bundle as an MLflow run and register it as a new version of `name`."""
        from mlflow.entities import Metric, Param, RunStatus

        client = self.client
        experiment = self._experiment(name)
        verdict = {
            f"{_TAG}passed": str(passed).lower(),
            f"{_TAG}reasons": json.dumps(reasons)[:5000],
            f"{_TAG}sha256": sha256,
        }
        run = self._call(
            lambda: client.create_run(experiment, run_name=run_name, tags=tags | verdict)
        )
        run_id = run.info.run_id
        try:
            now = int(datetime.now(UTC).timestamp() * 1000)
            client.log_batch(
                run_id,
                metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items() if v is not None],
                params=[Param(k, str(v)[:6000]) for k, v in params.items()],
            )
            client.log_artifacts(run_id, str(bundle), "model")
            client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
        except Exception as e:
            client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
            raise RegistryError(f"could not log the model's files to the registry ({e})") from e
        self._ensure_model(name)
        version = self._call(
            lambda: client.create_model_version(
                name,
                f"{run.info.artifact_uri}/model",
                run_id=run_id,
                tags=tags | verdict,
                description="passed its gates" if passed else "FAILED: " + "; ".join(reasons),
            )
        )
        return self._info(version)

    def move_alias(
        self, name: str, alias: str, version: str | None, *, action: str, reason: str
    ) -> AliasEvent:
        """Point `alias` at `version` (None removes it) and record the move, atomically."""
        current = self.alias(name, alias)
        before = current.version if current else None
        with self.state.session() as session:
            event = self.state.record_alias_move(
                session,
                model=name,
                alias=alias,
                from_version=before,
                to_version=version,
                action=action,
                actor=self.actor,
                reason=reason,
            )
            if version is None:
                self._call(lambda: self.client.delete_registered_model_alias(name, alias))
            else:
                self._call(lambda: self.client.set_registered_model_alias(name, alias, version))
        return event

    def promote(self, name: str, version: str, *, reason: str, force: bool = False) -> AliasEvent:
        """Make `version` the champion; a version that failed its gates needs `force`."""
        info = self.version(name, version)
        if info.passed is False and not force:
            raise RegistryError(
                f"version {version} of {name!r} failed its gates "
                f"({'; '.join(info.reasons) or 'see mlgate models show'})",
                fix="Pass --force to promote it anyway.",
            )
        event = self.move_alias(name, CHAMPION, info.version, action="promote", reason=reason)
        challenger = self.alias(name, CHALLENGER)
        if challenger and challenger.version == info.version:
            self.move_alias(name, CHALLENGER, None, action="promote", reason="became champion")
        return event

    def rollback(self, name: str, *, reason: str) -> AliasEvent:
        """Point the champion back at the version it pointed to before the current one."""
        current = self.alias(name, CHAMPION)
        if current is None:
            raise RegistryError(f"model {name!r} has no champion to roll back")
        earlier: list[str] = []  # champions before the current one; a rollback pops one
        for event in self.state.alias_history(name, CHAMPION):
            if event.action == "rollback":
                if earlier:
                    earlier.pop()
            elif event.from_version is not None:
                earlier.append(event.from_version)
        previous = earlier[-1] if earlier else None
        if previous is None:
            raise RegistryError(
                f"no champion of {name!r} came before version {current.version}, "
                "so there is nothing to roll back to",
                fix=f"Promote a version instead: mlgate models promote {name} VERSION.",
            )
        return self.move_alias(name, CHAMPION, previous, action="rollback", reason=reason)

    # helpers -----------------------------------------------------------------

    def _experiment(self, name: str) -> str:
        experiment_name = f"mlgate/{name}"
        found = self._call(lambda: self.client.get_experiment_by_name(experiment_name))
        if found is not None:
            return str(found.experiment_id)
        return str(
            self._call(
                lambda: self.client.create_experiment(
                    experiment_name, artifact_location=self.artifact_root
                )
            )
        )

    def _ensure_model(self, name: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.create_registered_model(name)
        except MlflowException as e:
            if "RESOURCE_ALREADY_EXISTS" not in str(e.error_code):
                raise RegistryError(f"cannot create the registered model {name!r} ({e})") from e

    def _require_model(self, name: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException as e:
            known = ", ".join(sorted(m.name for m in self.client.search_registered_models()))
            raise RegistryError(
                f"no registered model named {name!r}",
                fix=f"Registered: {known}."
                if known
                else "Nothing is registered yet: run `mlgate run`.",
            ) from e

    def _call(self, fn: Any) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return fn()
        except MlflowException as e:
            raise RegistryError(
                f"the registry at {redact_url(self.uri)} refused: {e.message}"
            ) from e

    def _info(self, version: Any) -> VersionInfo:
        tags = dict(version.tags or {})
        passed = tags.get(f"{_TAG}passed")
        metrics: dict[str, float] = {}
        if version.run_id:
            try:
                metrics = dict(self.client.get_run(version.run_id).data.metrics)
            except Exception:
                metrics = {}
        return VersionInfo(
            name=version.name,
            version=str(version.version),
            run_id=version.run_id,
            source=version.source,
            passed=None if passed is None else passed == "true",
            reasons=json.loads(tags.get(f"{_TAG}reasons", "[]")),
            aliases=list(version.aliases or []),
            metrics=metrics,
            sha256=tags.get(f"{_TAG}sha256"),
            created=datetime.fromtimestamp(version.creation_timestamp / 1000, UTC),
            tags=tags,
        )


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _escape(name: str) -> str:
    return name.replace("'", "\\'")
