"""Registering a checked bundle as a new version: an MLflow run holding its files, then the
model version pointing at them.

The run is tagged with the gate verdict, the sha256 of model.skops and of model.json, and
the process that made it; the version is created only after every required file is logged
and found in the registry's store, so a crash mid-registration leaves no version without
its files. The run stays RUNNING until the caller's block ends: FINISHED then, or FAILED
with the version marked failed when the block raises, so a run still RUNNING is a
registration cut short (closed by the next one, see `_abandoned`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.errors import RegistryError
from mlgate.registry._abandoned import close_abandoned, mark_failed, owner_tags
from mlgate.registry._lock import registry_lock
from mlgate.registry._mlflow import TAG, call, refused, version_info
from mlgate.registry._record import fit_reasons
from mlgate.registry.history import AliasHistory
from mlgate.registry.versions import VersionInfo

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["Registrar"]

#: Room for the failure reasons in the version's description.
_DESCRIPTION_LIMIT = 1000


class Registrar:
    """Makes new versions in the registry at `uri` through `client`, with their experiment
    (`mlgate/<name>`, its artifacts under `artifact_root` when set) and registered model."""

    def __init__(
        self, client: MlflowClient, uri: str, history: AliasHistory, artifact_root: str | None
    ) -> None:
        self.client = client
        self.uri = uri
        self.history = history
        self.artifact_root = artifact_root

    @contextmanager
    def registering(
        self,
        name: str,
        bundle: Path,
        checked: tuple[str, str, list[str]],
        *,
        passed: bool,
        reasons: list[str],
        metrics: dict[str, float | None],
        params: dict[str, Any],
        tags: dict[str, str],
        run_name: str,
    ) -> Iterator[VersionInfo]:
        """A new version of `name` from `bundle`, whose `checked` digests of model.skops and
        model.json and files to find once logged are `_record.check_bundle`'s; the block
        moves its aliases. On a SQLite registry, registrations happen one at a time, block
        included."""
        model_sha256, card_sha256, required = checked
        client = self.client
        verdict = {
            f"{TAG}passed": str(passed).lower(),
            f"{TAG}reasons": fit_reasons(reasons),
            f"{TAG}sha256": model_sha256,
            f"{TAG}card_sha256": card_sha256,
        }
        description = "passed its gates" if passed else "FAILED: " + "; ".join(reasons)
        if len(description) > _DESCRIPTION_LIMIT:
            description = description[: _DESCRIPTION_LIMIT - 1] + "…"
        with registry_lock(self.uri):
            experiment = self._experiment(name)
            call(self.uri, lambda: close_abandoned(client, experiment, name, self.history))
            run = call(
                self.uri,
                lambda: client.create_run(
                    experiment, run_name=run_name, tags=tags | verdict | owner_tags()
                ),
            )
            run_id = run.info.run_id
            try:
                self._log(run_id, bundle, metrics, params, required)
                self._ensure_model(name)
                version = call(
                    self.uri,
                    lambda: client.create_model_version(
                        name,
                        f"{run.info.artifact_uri}/model",
                        run_id=run_id,
                        tags=tags | verdict,
                        description=description,
                    ),
                )
            except BaseException:
                self._end(run_id, "FAILED")
                raise
            info = version_info(client, version)
            try:
                yield info
            except BaseException as e:
                self._cut_short(info, e)
                raise
            self._end(run_id, "FINISHED")

    def _cut_short(self, info: VersionInfo, error: BaseException) -> None:
        """The version marked failed and its run FAILED: its registration did not finish."""
        problem = getattr(error, "problem", None) or str(error) or type(error).__name__
        try:
            reason = f"its registration did not finish: {problem}"
            mark_failed(self.client, info.name, info.version, info.tags, reason)
        except Exception:  # the registry that just failed may refuse this too
            logging.getLogger(__name__).warning("could not mark version %s failed", info.version)
        self._end(info.run_id, "FAILED")

    def _end(self, run_id: str | None, status: str) -> None:
        if run_id is None:
            return
        try:
            self.client.set_terminated(run_id, status)
        except Exception:  # left RUNNING, the next registration closes it
            logging.getLogger(__name__).warning("could not mark run %s %s", run_id, status)

    def _log(
        self,
        run_id: str,
        bundle: Path,
        metrics: dict[str, float | None],
        params: dict[str, Any],
        required: list[str],
    ) -> None:
        """Metrics, params and the bundle's files into the run, every required file found
        in the store after; a RegistryError otherwise."""
        from mlflow.entities import Metric, Param

        client = self.client
        try:
            now = int(datetime.now(UTC).timestamp() * 1000)
            client.log_batch(
                run_id,
                metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items() if v is not None],
                params=[Param(k, str(v)[:6000]) for k, v in params.items()],
            )
            client.log_artifacts(run_id, str(bundle), "model")
            logged = {Path(f.path).name for f in client.list_artifacts(run_id, "model")}
            for folder in {Path(f).parent for f in required} - {Path(".")}:  # e.g. code/
                listed = client.list_artifacts(run_id, f"model/{folder.as_posix()}")
                logged |= {f"{folder.as_posix()}/{Path(f.path).name}" for f in listed}
            lost = [f for f in required if f not in logged and Path(f).name not in logged]
            if lost:
                raise RegistryError(f"{', '.join(lost)} did not reach the registry's store")
        except Exception as e:
            raise RegistryError(
                f"could not log the model's files to the registry ({e}), so no version "
                "was registered.",
                fix="Check that the registry's artifact store is reachable and writable, "
                "then run again.",
            ) from e

    def _experiment(self, name: str) -> str:
        experiment_name = f"mlgate/{name}"
        from mlflow.exceptions import MlflowException

        found = call(self.uri, lambda: self.client.get_experiment_by_name(experiment_name))
        if found is not None:
            return str(found.experiment_id)
        try:
            made = self.client.create_experiment(
                experiment_name, artifact_location=self.artifact_root
            )
        except MlflowException as e:
            if "RESOURCE_ALREADY_EXISTS" not in str(e.error_code):
                raise refused(self.uri, e) from e
            # Another process made it just now (no lock keeps a server's writers apart).
            found = call(self.uri, lambda: self.client.get_experiment_by_name(experiment_name))
            if found is None:
                raise refused(self.uri, e) from e
            return str(found.experiment_id)
        return str(made)

    def _ensure_model(self, name: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.create_registered_model(name)
        except MlflowException as e:
            if "RESOURCE_ALREADY_EXISTS" not in str(e.error_code):
                raise RegistryError(f"cannot create the registered model {name!r} ({e}).") from e
