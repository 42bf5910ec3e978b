"""Pull-request comments on GitHub that update in place instead of piling up.

A comment starts with a hidden marker, ``<!-- mlgate:LABEL -->``. Posting
again with the same label finds that comment and edits it, so a pull request
keeps one comment per label however often CI runs. Settings come from what
GitHub Actions provides: GITHUB_TOKEN (or GH_TOKEN), GITHUB_REPOSITORY,
GITHUB_API_URL and the event file at GITHUB_EVENT_PATH.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel

from mlgate.errors import ConfigError, GitHubError

if TYPE_CHECKING:
    import httpx

__all__ = [
    "MAX_COMMENT_CHARS",
    "CommentResult",
    "GitHubContext",
    "RetryPolicy",
    "comment_body",
    "comment_marker",
    "comment_report",
    "github_context",
    "upsert_comment",
]

logger = logging.getLogger(__name__)

#: GitHub refuses a comment body longer than this many characters.
MAX_COMMENT_CHARS = 65536
DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
PER_PAGE = 100
#: Pages of comments read at most while looking for the marker: 10 000 comments.
MAX_PAGES = 100

_LABEL = re.compile(r"^[A-Za-z0-9_.]+(?:-[A-Za-z0-9_.]+)*$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_TOKEN_FIX = (
    "In GitHub Actions give the step `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` and "
    "the job `permissions: pull-requests: write`; elsewhere set GITHUB_TOKEN (or GH_TOKEN) "
    "to a token that may comment on the repository."
)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try when GitHub fails in a way that may pass: a 5xx or a lost connection.

    Other answers (401, 403, 404, 422, rate limits) are not retried: trying
    again would get the same answer, or make a rate limit last longer.
    """

    attempts: int = 3
    #: Seconds before the second attempt; each later wait doubles.
    backoff: float = 1.0
    #: Seconds the whole call may take, every attempt and wait included.
    total: float = 60.0
    #: Seconds one request may take.
    timeout: float = 15.0


#: The policy used when a caller gives none.
DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True)
class GitHubContext:
    """Which pull request to comment on, where the API is, and the token (never shown)."""

    repository: str
    pr: int
    token: str = field(repr=False)
    api_url: str = DEFAULT_API_URL


class CommentResult(BaseModel):
    """The comment that now holds the report, and whether it was created or edited."""

    id: int
    url: str
    action: Literal["created", "updated"]
    repository: str
    pr: int
    label: str
    truncated: bool = False

    @property
    def created(self) -> bool:
        """True when this run posted a new comment rather than editing its earlier one."""
        return self.action == "created"


class _Transient(Exception):
    """A failure that may pass: a 5xx answer or a request that did not complete."""

    def __init__(self, problem: str, status: int | None = None) -> None:
        self.problem = problem
        self.status = status
        super().__init__(problem)


def comment_marker(label: str = "report") -> str:
    """The hidden HTML comment that marks mlgate's comment for `label`."""
    if not isinstance(label, str) or len(label) > 64 or not _LABEL.match(label):
        raise ConfigError(
            "a comment label must be 1 to 64 letters, digits, '.', '_' or single '-' between them.",
            field="label",
            value=label,
            fix="Pick a plain name such as 'report', 'drift' or 'model-comparison'.",
        )
    return f"<!-- mlgate:{label} -->"


def comment_body(report: str, *, label: str = "report") -> str:
    """The comment's text: the marker, then the report, cut to fit GitHub's limit with a note."""
    return _body(report, comment_marker(label))[0]


def _body(report: str, marker: str) -> tuple[str, bool]:
    body = f"{marker}\n{report}"
    if len(body) <= MAX_COMMENT_CHARS:
        return body, False
    note = (
        f"\n\n---\n*Cut by mlgate: the report has {len(report):,} characters and a GitHub "
        f"comment holds at most {MAX_COMMENT_CHARS:,}. The full report is in the file the "
        "workflow wrote.*\n"
    )
    fence = "\n```"
    room = MAX_COMMENT_CHARS - len(marker) - 1 - len(note) - len(fence)
    kept = report[:room]
    # End on a whole line when one is near, so a table row or a link is not cut in half.
    newline = kept.rfind("\n")
    if newline >= room - 2000:
        kept = kept[:newline]
    if sum(line.lstrip().startswith("```") for line in kept.splitlines()) % 2:
        kept += fence  # close a code block the cut left open, or the note renders as code
    return f"{marker}\n{kept}{note}", True


def github_context(
    env: Mapping[str, str] | None = None, *, pr: int | None = None, api_url: str | None = None
) -> GitHubContext:
    """The repository, pull request, API URL and token that GitHub Actions sets in `env`."""
    env = os.environ if env is None else env
    token = (env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or "").strip()
    if not token:
        raise ConfigError(
            "neither GITHUB_TOKEN nor GH_TOKEN is set: there is no token to post with.",
            fix=_TOKEN_FIX,
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


def comment_report(
    path: str | Path,
    *,
    label: str = "report",
    pr: int | None = None,
    env: Mapping[str, str] | None = None,
    retry: RetryPolicy | None = None,
) -> CommentResult:
    """Post the Markdown file at `path` on the pull request, editing mlgate's earlier comment."""
    comment_marker(label)  # a bad label fails before anything else is read
    report = _read_report(Path(path))
    return upsert_comment(github_context(env, pr=pr), report, label=label, retry=retry)


def _read_report(path: Path) -> str:
    fix = "Pass the file the report step wrote, e.g. `mlgate compare ... --markdown report.md`."
    if not path.exists():
        raise ConfigError("the report file does not exist.", file=path, fix=fix)
    if not path.is_file():
        raise ConfigError("the report is not a file.", file=path, fix=fix)
    try:
        report = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError("the report file is not UTF-8 text.", file=path, fix=fix) from e
    except OSError as e:
        raise ConfigError(
            f"cannot read the report file: {e.strerror or e.__class__.__name__}.", file=path
        ) from e
    if not report.strip():
        raise ConfigError(
            "the report file is empty: there is nothing to post.",
            file=path,
            fix="Check that the step writing it ran and succeeded.",
        )
    return report


def upsert_comment(
    context: GitHubContext,
    report: str,
    *,
    label: str = "report",
    retry: RetryPolicy | None = None,
) -> CommentResult:
    """Edit mlgate's comment for `label` on the pull request to hold `report`, or post one.

    A 5xx answer or a lost connection repeats the whole step (list, then edit
    or post), so a post that reached GitHub before its answer was lost is
    found on the next attempt instead of posted twice.
    """
    import httpx

    marker = comment_marker(label)
    body, truncated = _body(report, marker)
    policy = retry or DEFAULT_RETRY
    deadline = time.monotonic() + policy.total
    delay = policy.backoff
    posted = False  # an earlier attempt posted: the comment found now may be that post
    with httpx.Client(
        base_url=context.api_url,
        headers={
            "Authorization": f"Bearer {context.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": _user_agent(),
        },
        timeout=httpx.Timeout(policy.timeout, connect=min(policy.timeout, 10.0)),
        follow_redirects=True,
    ) as client:
        session = _Session(context, client, policy, deadline)
        for attempt in range(1, max(1, policy.attempts) + 1):
            try:
                existing = session.find(marker)
                if existing is None:
                    posted = True
                    comment = session.create(body)
                else:
                    comment = session.update(existing["id"], body)
                action: Literal["created", "updated"] = (
                    "updated" if existing is not None and not posted else "created"
                )
                return CommentResult(
                    id=comment["id"],
                    url=str(comment.get("html_url") or ""),
                    action=action,
                    repository=context.repository,
                    pr=context.pr,
                    label=label,
                    truncated=truncated,
                )
            except _Transient as e:
                if attempt >= policy.attempts or time.monotonic() + delay >= deadline:
                    tries = f"{attempt} attempt" + ("s" if attempt > 1 else "")
                    raise GitHubError(
                        f"{e.problem}; gave up after {tries}",
                        repository=context.repository,
                        pr=context.pr,
                        status=e.status,
                        fix="GitHub or the network is failing; run the step again later "
                        "(https://www.githubstatus.com).",
                    ) from e
                logger.warning(
                    "%s; trying again in %.1f s (attempt %d of %d)",
                    e.problem,
                    delay,
                    attempt + 1,
                    policy.attempts,
                )
                time.sleep(delay)
                delay *= 2
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def _user_agent() -> str:
    from mlgate._version import __version__

    return f"mlgate/{__version__}"


class _Session:
    """The requests of one upsert: list, create and edit, with GitHub's answers checked."""

    def __init__(
        self, context: GitHubContext, client: httpx.Client, policy: RetryPolicy, deadline: float
    ) -> None:
        self.context = context
        self.client = client
        self.policy = policy
        self.deadline = deadline

    def find(self, marker: str) -> dict[str, Any] | None:
        """The first comment on the pull request whose body starts with `marker`."""
        url = f"/repos/{self.context.repository}/issues/{self.context.pr}/comments"
        params: dict[str, int] | None = {"per_page": PER_PAGE}
        for _ in range(MAX_PAGES):
            response = self.send("GET", url, params=params, doing="listing its comments")
            comments = self.json(response, list)
            for comment in comments:
                text = comment.get("body") if isinstance(comment, dict) else None
                if isinstance(text, str) and text.lstrip().startswith(marker):
                    return self.comment(comment)
            following = response.links.get("next", {}).get("url")
            if not following:
                return None
            self.check_origin(following)
            url, params = following, None
        logger.warning("stopped looking for the earlier comment after %d pages", MAX_PAGES)
        return None

    def create(self, body: str) -> dict[str, Any]:
        url = f"/repos/{self.context.repository}/issues/{self.context.pr}/comments"
        response = self.send("POST", url, payload={"body": body}, doing="posting the comment")
        return self.comment(self.json(response, dict))

    def update(self, comment_id: int, body: str) -> dict[str, Any]:
        url = f"/repos/{self.context.repository}/issues/comments/{comment_id}"
        doing = f"editing comment {comment_id}"
        response = self.send("PATCH", url, payload={"body": body}, doing=doing)
        return self.comment(self.json(response, dict))

    def send(
        self,
        method: str,
        url: str,
        *,
        doing: str,
        params: Mapping[str, int] | None = None,
        payload: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One request; a 5xx or a lost connection raises _Transient, other failures GitHubError."""
        import httpx

        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise _Transient(f"ran out of time while {doing}")
        try:
            response = self.client.request(
                method,
                url,
                params=params,
                json=payload,
                timeout=min(self.policy.timeout, remaining),
            )
        except httpx.TransportError as e:
            host = urlsplit(self.context.api_url).hostname
            raise _Transient(
                f"could not reach {host} while {doing} ({e.__class__.__name__})"
            ) from e
        if response.status_code >= 500:
            raise _Transient(
                f"GitHub failed while {doing}: {self.said(response)}", response.status_code
            )
        if response.status_code >= 400:
            raise self.failure(response, doing)
        return response

    def failure(self, response: httpx.Response, doing: str) -> GitHubError:
        """The clear error for a 4xx answer: what it means here and what to do."""
        repo, pr, status = self.context.repository, self.context.pr, response.status_code
        headers = response.headers
        where: dict[str, Any] = {"repository": repo, "pr": pr, "status": status}
        # GitHub's documented signs of a rate limit; a secondary limit may show only in the text.
        limited = (
            status == 429
            or "retry-after" in headers
            or headers.get("x-ratelimit-remaining") == "0"
            or "rate limit" in self.said(response).lower()
        )
        if status in (403, 429) and limited:
            seconds = _retry_seconds(headers)
            when = (
                "no sooner than a minute from now"
                if seconds is None
                else f"in {seconds:.0f} s, after "
                f"{(datetime.now(UTC) + timedelta(seconds=seconds)):%H:%M:%S} UTC"
            )
            return GitHubError(
                f"rate limited while {doing}; retry {when}",
                **where,
                retry_after=seconds,
                fix="Run the step again then; one comment per label per run stays well "
                "under the limits.",
            )
        if status == 401:
            return GitHubError(
                f"the token was refused while {doing}: it is missing, expired or invalid",
                **where,
                fix=_TOKEN_FIX,
            )
        if status == 403:
            return GitHubError(
                f"the token lacks permission for {doing}: {self.said(response)}",
                **where,
                fix="Give the workflow job `permissions: pull-requests: write` (a fine-grained "
                f"token needs 'Pull requests: write' on {repo}). Pull requests from forks get "
                "a read-only token: post from a workflow_run workflow instead.",
            )
        if status == 404:
            return GitHubError(
                f"not found while {doing}: repository {repo} or pull request #{pr} does not "
                "exist or this token cannot see it",
                **where,
                fix="Check GITHUB_REPOSITORY and --pr (or the event's pull request); a token "
                "without access to a private repository also gets 404.",
            )
        return GitHubError(f"GitHub refused {doing}: {self.said(response)}", **where)

    def said(self, response: httpx.Response) -> str:
        """GitHub's own message, short, with the token taken out should it ever appear."""
        try:
            payload = response.json()
            text = payload.get("message") if isinstance(payload, dict) else None
        except ValueError:
            text = None
        text = str(text or response.reason_phrase or response.status_code)
        return self.redact(text if len(text) <= 200 else text[:197] + "...")

    def redact(self, text: str) -> str:
        return text.replace(self.context.token, "***")

    def json(self, response: httpx.Response, kind: type[Any]) -> Any:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, kind):
            raise GitHubError(
                f"GitHub answered {response.request.method} {response.url.path} with "
                f"something other than a JSON {kind.__name__}",
                repository=self.context.repository,
                pr=self.context.pr,
                status=response.status_code,
                fix="Check GITHUB_API_URL points at GitHub's REST API.",
            )
        return payload

    def comment(self, comment: dict[str, Any]) -> dict[str, Any]:
        """`comment` once it is known to have the integer id every later request needs."""
        if isinstance(comment.get("id"), int) and not isinstance(comment["id"], bool):
            return comment
        raise GitHubError(
            "GitHub answered with a comment that has no id",
            repository=self.context.repository,
            pr=self.context.pr,
            fix="Check GITHUB_API_URL points at GitHub's REST API.",
        )

    def check_origin(self, url: str) -> None:
        """Refuse a page link to another host: the token goes with every request."""
        base, there = urlsplit(self.context.api_url), urlsplit(url)
        if (base.scheme, base.hostname, base.port) != (there.scheme, there.hostname, there.port):
            raise GitHubError(
                f"the next page of comments is on another host ({there.hostname}); "
                "the token is not sent there",
                repository=self.context.repository,
                pr=self.context.pr,
                fix="Check GITHUB_API_URL.",
            )


def _retry_seconds(headers: httpx.Headers) -> float | None:
    """Seconds until GitHub accepts requests again, from retry-after or x-ratelimit-reset."""
    after = headers.get("retry-after")
    if after is not None:
        try:
            return max(0.0, float(after))
        except ValueError:
            pass
    reset = headers.get("x-ratelimit-reset")
    if reset is not None:
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            pass
    return None
