"""Runtime settings from the environment: where the registry and the state store live."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "load_settings", "redact_url"]

#: The folder, beside mlgate.yaml, that holds the embedded registry and state.
HOME = ".mlgate"


class Settings(BaseSettings):
    """What changes between a laptop and production, read from `MLGATE_*` variables."""

    model_config = SettingsConfigDict(env_prefix="MLGATE_", extra="ignore")

    registry_uri: str | None = Field(
        None,
        validation_alias=AliasChoices("MLGATE_REGISTRY_URI", "MLFLOW_TRACKING_URI"),
        description="MLflow tracking URI; default: a SQLite file under .mlgate/.",
    )
    state_url: str | None = Field(
        None, description="SQLAlchemy URL of the state store; default: SQLite under .mlgate/."
    )
    actor: str | None = Field(
        None, description="Who is acting, recorded with alias moves; default: the OS user."
    )

    def registry(self, base_dir: Path) -> str:
        """The registry URI to use for a project in `base_dir`."""
        if self.registry_uri:
            return self.registry_uri
        return f"sqlite:///{(base_dir / HOME / 'mlflow.db').resolve()}"

    def artifact_root(self, base_dir: Path) -> str | None:
        """Where the embedded registry keeps artifacts; None lets a remote server decide."""
        if self.registry_uri:
            return None
        return (base_dir / HOME / "artifacts").resolve().as_uri()

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
    """Settings read from the environment now."""
    return Settings()


def redact_url(url: str) -> str:
    """`url` with any password replaced by ***, safe to show in messages and logs."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    user = f"{parts.username}:***@" if parts.username else "***@"
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}{host}{port}"))
