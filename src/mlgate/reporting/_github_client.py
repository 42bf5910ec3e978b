"""GitHub's REST API for comments: one client per call, GitHub's answers checked, retries.

A 5xx answer or a lost connection may pass, so the whole step is tried again
under a `RetryPolicy`; any other failure becomes a GitHubError that says what
it means and what to do. The token is never shown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from mlgate.errors import GitHubError
from mlgate.reporting._github_context import TOKEN_FIX, GitHubContext

if TYPE_CHECKING:
    import httpx

__all__ = ["DEFAULT_RETRY", "MAX_PAGES", "PER_PAGE", "RetryPolicy", "Session", "with_retries"]

# Under the public module's name: everything one comment does logs to one logger.
logger = logging.getLogger("mlgate.reporting.github")

API_VERSION = "2022-11-28"
PER_PAGE = 100
#: Pages of comments read at most while looking for the marker: 10 000 comments.
MAX_PAGES = 100

T = TypeVar("T")


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


class _Transient(Exception):
    """A failure that may pass: a 5xx answer or a request that did not complete."""

    def __init__(self, problem: str, status: int | None = None) -> None:
        self.problem = problem
        self.status = status
        super().__init__(problem)


def with_retries(context: GitHubContext, policy: RetryPolicy, step: Callable[[Session], T]) -> T:
    """What `step` returns, the step repeated whole after a 5xx or a lost connection.

    Gives up with a GitHubError after `policy.attempts`, or sooner when the next
    wait would pass `policy.total`.
    """
    import httpx

    deadline = time.monotonic() + policy.total
    delay = policy.backoff
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
        session = Session(context, client, policy, deadline)
        for attempt in range(1, max(1, policy.attempts) + 1):
            try:
                return step(session)
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


class Session:
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
                fix=TOKEN_FIX,
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
