"""Runtime settings from the environment: where the registry and the state store live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "load_settings", "redact_url"]

#: The folder, beside mlgate.yaml, that holds the embedded registry and state.
HOME = ".mlgate"


def _seconds(default: float, description: str) -> Any:
    """A duration setting: a number of seconds, more than 0 and at most an hour."""
    return Field(default, gt=0, le=3600, allow_inf_nan=False, description=description)


class Settings(BaseSettings):
    """What changes between a laptop and production, read from `MLGATE_*` variables."""

    model_config = SettingsConfigDict(env_prefix="MLGATE_", extra="ignore")

    registry_uri: str | None = Field(
        None,
        validation_alias=AliasChoices("MLGATE_REGISTRY_URI", "MLFLOW_TRACKING_URI"),
        description="MLflow tracking URI; default: a SQLite file under .mlgate/.",
    )
    allow_local_registry: bool = Field(
        False,
        description="Allow registering into the local SQLite registry when CI=true (refused "
        "there by default: the runner's files are thrown away).",
    )
    state_url: str | None = Field(
        None, description="SQLAlchemy URL of the state store; default: SQLite under .mlgate/."
    )
    actor: str | None = Field(
        None, description="Who is acting, recorded with alias moves; default: the OS user."
    )
    artifact_location: str | None = Field(
        None,
        validation_alias=AliasChoices("MLGATE_ARTIFACT_ROOT"),
        description="Where registered artifacts go (path or URL); default: the tracking "
        "server's choice, or .mlgate/artifacts for a database URI.",
    )
    admin_token: SecretStr | None = Field(
        None, description="Bearer token of the gateway's admin API; unset turns the API off."
    )
    log_path: str | None = Field(
        None,
        description="Where the gateway writes prediction and feedback logs (path or fsspec "
        "URL); default: .mlgate/logs.",
    )
    spool_path: str | None = Field(
        None,
        description="Local folder of the log's spool, where every answer's record is written "
        "before the answer is sent; default: spool/ in MLGATE_LOG_PATH when that is a local "
        "folder, else .mlgate/spool. One spool per log path.",
    )
    log_sync_interval: float = Field(
        1.0,
        ge=0,
        le=3600,
        allow_inf_nan=False,
        description="Seconds between fsyncs of the spool: a crash of the machine loses at "
        "most this much of the answers (a killed gateway loses none); each worker then hands "
        "its spool file to be turned into a Parquet segment. 0: every record is written "
        "through to the disk before its answer (slower).",
    )
    log_grace: float = _seconds(
        10.0,
        "Seconds the spool may fail to take records before readiness answers 503 (each "
        "answer whose record cannot be written is answered 503 at once).",
    )
    max_body_bytes: int = Field(
        10 * 1024 * 1024, gt=0, description="Largest request body the gateway reads."
    )
    max_batch_rows: int = Field(10_000, gt=0, description="Most rows per prediction request.")
    max_header_bytes: int = Field(
        8192,
        ge=256,
        description="Largest request header (name and value) and longest request line the "
        "gateway reads; a longer one is answered 431 (414 for the line).",
    )
    max_headers_total_bytes: int = Field(
        32768,
        ge=1024,
        description="Largest request head (the request line and every header together); "
        "a larger one is answered 431 before the rest is read.",
    )
    header_timeout: float = _seconds(
        10.0,
        "Seconds a client has to send a request's headers, from connecting (or "
        "from its first byte on a kept-alive connection); then 408 and the connection closes.",
    )
    body_timeout: float = _seconds(
        60.0,
        "Seconds a client has to send a request's body once its headers are in; "
        "then the connection closes.",
    )
    keep_alive_timeout: float = _seconds(
        5.0,
        "Seconds an idle kept-alive connection stays open.",
    )
    max_connections: int = Field(
        1000,
        gt=0,
        description="Most open connections per worker process; one more is answered 503 "
        "and closed at once (keep it under the process's open-file limit).",
    )
    max_connections_per_address: int = Field(
        250,
        ge=0,
        description="Most open connections per worker from one client address (the TCP "
        "peer); one more is answered 429 and closed at once, so one address cannot take "
        "every connection. Behind a proxy or load balancer every connection is the "
        "proxy's: raise it there, or 0 for no such cap.",
    )
    feedback_token: SecretStr | None = Field(
        None,
        description="Bearer token POST /feedback requires when set (set it in production: "
        "labels steer rollouts); unset, anyone who can reach the gateway may send labels.",
    )
    read_token: SecretStr | None = Field(
        None,
        description="Bearer token the dashboard's reads (GET /ui/api/...) and the judge "
        "(/judge/...) require when set; unset, they are open like /metrics (figures only, "
        "never data rows or secrets). The dashboard's reads also take the admin token.",
    )
    arm: str | None = Field(
        None,
        max_length=128,
        description="This replica's arm of a rollout another controller runs (Argo Rollouts, "
        "Flagger): written into every prediction record, so GET/POST /judge compares the "
        "arms. Set it from the pod's labels through the downward API (rollouts-pod-template-"
        "hash, or the Deployment's name under Flagger).",
    )
    pinned_version: str | None = Field(
        None,
        max_length=64,
        description="Serve only this registered version, whatever the aliases and mlgate's "
        "own split say: for replicas whose traffic Argo Rollouts or Flagger moves (the "
        "canary's pod template names the new version).",
    )
    role_header: bool = Field(
        False,
        description="Say in an x-mlgate-role header whether the champion or the challenger "
        "answered (off: a client sending labels could aim them at one version).",
    )
    poll_interval: float = _seconds(
        0.5,
        "Seconds between the gateway's checks of the rollout state (a number).",
    )
    challenger_fallback: bool = Field(
        True, description="Answer with the champion when the challenger fails."
    )
    onnx: bool = Field(
        True,
        description="Serve a version through ONNX Runtime when it has an ONNX export; false "
        "serves every version with its own library (slower; for comparing the two).",
    )
    faults: str | None = Field(
        None,
        description="Faults injected into the challenger, to rehearse a rollback: "
        "errors=0.3 (share of its predictions that fail), slow=10 (times slower), "
        "flip=0.4 (share of rows answered wrong); comma-separated. Never the champion.",
    )

    @field_validator("admin_token", "feedback_token", "read_token")
    @classmethod
    def _token(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            # An empty value (a secret that expanded to nothing) must not mean "no password".
            unset, what = {
                "admin_token": ("unset the variable to keep it off", "turn the admin API on"),
                "feedback_token": ("unset the variable to take labels without one", "require it"),
                "read_token": ("unset the variable to keep the reads open", "require it"),
            }[str(info.field_name)]
            raise ValueError(f"is set but empty; set a token to {what}, or {unset}.")
        return value

    @field_validator("faults")
    @classmethod
    def _faults(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            from mlgate.config.faults import Faults

            Faults.parse(value)  # raises ValueError with what is wrong
            return value
        return None

    def check_registry_for_writing(self) -> None:
        """Refuse to register into the local SQLite default inside CI (`CI=true`), where it
        is a throwaway file on the runner, unless MLGATE_ALLOW_LOCAL_REGISTRY is set."""
        import os

        from mlgate.errors import ConfigError

        in_ci = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
        if in_ci and not self.registry_uri and not self.allow_local_registry:
            raise ConfigError(
                "CI is set and MLGATE_REGISTRY_URI is not: the version would be registered in "
                "a SQLite file on this runner, thrown away when the job ends.",
                fix="Give the job the registry's secret (MLGATE_REGISTRY_URI, and "
                "MLGATE_STATE_URL for the gateway's state), or set "
                "MLGATE_ALLOW_LOCAL_REGISTRY=true if a throwaway registry is what you want.",
            )

    def registry(self, base_dir: Path) -> str:
        """The registry URI to use for a project in `base_dir`."""
        if self.registry_uri:
            return self.registry_uri
        return f"sqlite:///{(base_dir / HOME / 'mlflow.db').resolve()}"

    def artifact_root(self, base_dir: Path) -> str | None:
        """Where new experiments keep artifacts; None lets a tracking server decide.

        A database URI has no server to decide, and MLflow would fall back to
        ./mlruns in whatever folder the command runs in, so it gets the
        project's own folder unless MLGATE_ARTIFACT_ROOT says otherwise.
        """
        if self.artifact_location:
            return self.artifact_location
        if self.registry_uri and self.registry_uri.split(":", 1)[0].startswith(
            ("http", "databricks")
        ):
            return None
        return (base_dir / HOME / "artifacts").resolve().as_uri()

    def logs(self, base_dir: Path) -> str:
        """Where prediction and feedback logs go for a project in `base_dir`."""
        return self.log_path or str((base_dir / HOME / "logs").resolve())

    def spool(self, base_dir: Path) -> str:
        """The local folder of the log's spool for a project in `base_dir`."""
        if self.spool_path:
            return str(Path(self.spool_path).resolve())
        logs = self.logs(base_dir)
        scheme, sep, rest = logs.partition("://")
        if not sep:
            return str(Path(logs, "spool").resolve())
        if scheme in ("file", "local"):
            return str(Path(rest, "spool").resolve())
        return str((base_dir / HOME / "spool").resolve())

    def state(self, base_dir: Path) -> str:
        """The state store URL to use for a project in `base_dir`."""
        if self.state_url:
            return self.state_url
        return f"sqlite:///{(base_dir / HOME / 'state.db').resolve()}"

    def who(self) -> str:
        """The actor name recorded with changes."""
        if self.actor:
            return self.actor
        import getpass

        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return "unknown"


def load_settings() -> Settings:
    """Settings read from the environment now; a bad variable is a ConfigError naming it."""
    from mlgate.errors import ConfigError

    try:
        return Settings()
    except ValidationError as e:
        first = e.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        variable = field if field.isupper() else f"MLGATE_{field.upper()}"
        problem = str(first["msg"]).removeprefix("Value error, ")
        fix = None
        if first["type"] != "value_error":  # mlgate's own checks say what to do themselves
            described = _description(field)
            fix = f"{variable}: {described} Fix the value, or unset it for the default."
        raise ConfigError(
            f"{problem[:1].lower()}{problem[1:]}",
            field=f"environment variable {variable}",
            value=first.get("input"),
            show_value="TOKEN" not in variable,
            fix=fix,
        ) from None


def _description(field: str) -> str:
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        names = {name.upper(), f"MLGATE_{name.upper()}"} | set(
            getattr(alias, "choices", [alias] if isinstance(alias, str) else [])
        )
        if field in names or field == name:
            text = (info.description or "").strip()
            return text if text.endswith(".") else f"{text}."
    return "See docs/config.md."


def redact_url(url: str) -> str:
    """`url` with any password replaced by ***, safe to show in messages and logs.

    Works on the text, not on a parsed URL, so that a URL too broken to parse (a
    port that is not a number, no scheme, a password with an unescaped '/' or '@')
    still has its password hidden.
    """
    import re

    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    at = rest.rfind("@")
    user, colon, _password = rest[:at].partition(":") if at > 0 else ("", "", "")
    if colon and "/" not in user:
        rest = f"{user}:***{rest[at:]}"
    rest = re.sub(
        r"(?i)([?&;](?:password|passwd|pwd|secret|token|api_key|access_key|secret_key)=)[^&;#]*",
        r"\1***",
        rest,
    )
    return f"{scheme}{sep}{rest}"
