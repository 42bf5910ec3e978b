"""Where a pull-request comment goes: the repository, pull request, API URL and token.

Read from what GitHub Actions sets: GITHUB_TOKEN (or GH_TOKEN), GITHUB_REPOSITORY,
GITHUB_API_URL and the event file at GITHUB_EVENT_PATH.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from mlgate.errors import ConfigError

__all__ = ["DEFAULT_API_URL", "TOKEN_FIX", "GitHubContext", "github_context"]

DEFAULT_API_URL = "https://api.github.com"
#: How to give the step a token that may comment; said when there is none or it is refused.
TOKEN_FIX = (
    "In GitHub Actions give the step `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` and "
    "the job `permissions: pull-requests: write`; elsewhere set GITHUB_TOKEN (or GH_TOKEN) "
    "to a token that may comment on the repository."
)

_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class GitHubContext:
    """Which pull request to comment on, where the API is, and the token (never shown)."""

    repository: str
    pr: int
    token: str = field(repr=False)
    api_url: str = DEFAULT_API_URL


def github_context(
    env: Mapping[str, str] | None = None, *, pr: int | None = None, api_url: str | None = None
) -> GitHubContext:
    """The repository, pull request, API URL and token that GitHub Actions sets in `env`."""
    env = os.environ if env is None else env
    token = (env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or "").strip()
    if not token:
        raise ConfigError(
            "neither GITHUB_TOKEN nor GH_TOKEN is set: there is no token to post with.",
            fix=TOKEN_FIX,
        )
    repository = (env.get("GITHUB_REPOSITORY") or "").strip()
    if not repository:
        raise ConfigError(
            "GITHUB_REPOSITORY is not set: there is no repository to comment on.",
            fix="GitHub Actions sets it; elsewhere set GITHUB_REPOSITORY=owner/repo.",
        )
    if not _REPOSITORY.match(repository):
        raise ConfigError(
            "GITHUB_REPOSITORY must be owner/repo.",
            value=repository,
            fix="Set it to the repository's owner and name, e.g. GITHUB_REPOSITORY=acme/churn.",
        )
    url = (api_url or env.get("GITHUB_API_URL") or DEFAULT_API_URL).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        from mlgate.config.settings import redact_url

        raise ConfigError(
            "GITHUB_API_URL must be an http(s) URL.",
            value=redact_url(url),
            fix=f"Leave it unset for github.com ({DEFAULT_API_URL}).",
        )
    if pr is None:
        pr = _event_pr(env)
    elif isinstance(pr, bool) or not isinstance(pr, int) or pr < 1:
        raise ConfigError("a pull request number must be a whole number from 1.", value=pr)
    return GitHubContext(repository=repository, pr=pr, token=token, api_url=url)


def _event_pr(env: Mapping[str, str]) -> int:
    """The pull request number in the event that started the workflow."""
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        raise ConfigError(
            "no pull request number: --pr is not given and GITHUB_EVENT_PATH is not set.",
            fix="Pass --pr N, or run in a GitHub Actions job started by a pull_request event.",
        )
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(
            f"cannot read the GitHub event file: {e.__class__.__name__}.",
            file=path,
            fix="Pass --pr N instead.",
        ) from e
    for key in ("pull_request", "issue"):
        part = event.get(key) if isinstance(event, dict) else None
        number = part.get("number") if isinstance(part, dict) else None
        if isinstance(number, int) and not isinstance(number, bool) and number > 0:
            return number
    name = env.get("GITHUB_EVENT_NAME") or "this"
    raise ConfigError(
        f"the {name} event has no pull_request.number or issue.number.",
        file=path,
        fix="Run on pull_request or issue_comment events, or pass --pr N.",
    )
