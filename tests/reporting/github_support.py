"""What the pull-request comment tests share: a quick retry policy, a context for the
fake GitHub, one upsert, and the environment GitHub Actions gives a step."""

from __future__ import annotations

import json
from pathlib import Path

from github_server import PR, REPOSITORY, TOKEN, FakeGitHub

from mlgate.reporting import CommentResult, GitHubContext, RetryPolicy, upsert_comment

FAST = RetryPolicy(backoff=0.01, total=10.0, timeout=5.0)


def context(github: FakeGitHub, *, pr: int = PR, repository: str = REPOSITORY) -> GitHubContext:
    return GitHubContext(repository=repository, pr=pr, token=TOKEN, api_url=github.url)


def post(github: FakeGitHub, report: str, **options: object) -> CommentResult:
    return upsert_comment(context(github), report, retry=FAST, **options)  # type: ignore[arg-type]


def never_leaks(error: BaseException) -> None:
    """Neither the error nor anything chained to it shows the token."""
    seen: BaseException | None = error
    while seen is not None:
        assert TOKEN not in str(seen)
        assert TOKEN not in repr(seen)
        seen = seen.__cause__ or seen.__context__


def actions_env(tmp_path: Path, event: object | None = None, **extra: str) -> dict[str, str]:
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPOSITORY} | extra
    if event is not None:
        path = tmp_path / "event.json"
        path.write_text(json.dumps(event), encoding="utf-8")
        env["GITHUB_EVENT_PATH"] = str(path)
    return env
