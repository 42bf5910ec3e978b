"""GitHub's answers, against a fake GitHub on 127.0.0.1: each refusal with its own message,
and failures that may pass retried, boundedly."""

from __future__ import annotations

import re
import socket
import time

import pytest
from github_server import PR, REPOSITORY, TOKEN, FakeGitHub
from github_support import FAST, context, never_leaks, post

from mlgate.errors import GitHubError
from mlgate.reporting import GitHubContext, RetryPolicy, upsert_comment


def test_every_request_carries_the_api_headers(github: FakeGitHub) -> None:
    post(github, "report\n")
    for request in github.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"
        assert request.headers["user-agent"].startswith("mlgate/")
    assert github.requests[0].query == {"per_page": ["100"]}


def test_a_page_link_to_another_host_is_not_followed(github: FakeGitHub) -> None:
    for i in range(101):
        github.add_comment(f"comment {i}")
    github.link_base = "http://127.0.0.2:9"
    with pytest.raises(GitHubError) as caught:
        post(github, "report\n")
    assert str(caught.value) == (
        f"GitHub {REPOSITORY}#{PR}: the next page of comments is on another host (127.0.0.2); "
        "the token is not sent there. Check GITHUB_API_URL."
    )
    assert len(github.requests) == 1


# --- GitHub's refusals, each with its own message ---

FIX_401 = (
    "In GitHub Actions give the step `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` and the "
    "job `permissions: pull-requests: write`; elsewhere set GITHUB_TOKEN (or GH_TOKEN) to a "
    "token that may comment on the repository."
)


def test_a_wrong_token_is_a_401_that_says_how_to_give_one(github: FakeGitHub) -> None:
    github.token = "ghs_another"
    with pytest.raises(GitHubError) as caught:
        post(github, "report\n")
    assert str(caught.value) == (
        f"GitHub {REPOSITORY}#{PR}: the token was refused while listing its comments: it is "
        f"missing, expired or invalid (HTTP 401). {FIX_401}"
    )
    assert caught.value.status == 401
    never_leaks(caught.value)


def test_a_403_says_the_token_lacks_permission(github: FakeGitHub) -> None:
    github.fail(403, message="Resource not accessible by integration")
    with pytest.raises(GitHubError, match=r"^GitHub acme/churn#7: the token lacks permission") as e:
        post(github, "report\n")
    assert str(e.value) == (
        "GitHub acme/churn#7: the token lacks permission for listing its comments: Resource not "
        "accessible by integration (HTTP 403). Give the workflow job `permissions: "
        "pull-requests: write` (a fine-grained token needs 'Pull requests: write' on "
        "acme/churn). Pull requests from forks get a read-only token: post from a workflow_run "
        "workflow instead."
    )
    assert len(github.requests) == 1  # not retried


@pytest.mark.parametrize(
    ("repository", "pr"), [("acme/nothing", PR), (REPOSITORY, 404)], ids=["repository", "pr"]
)
def test_a_404_names_the_repository_and_the_pull_request(
    github: FakeGitHub, repository: str, pr: int
) -> None:
    with pytest.raises(GitHubError) as caught:
        upsert_comment(context(github, repository=repository, pr=pr), "report\n", retry=FAST)
    assert str(caught.value) == (
        f"GitHub {repository}#{pr}: not found while listing its comments: repository "
        f"{repository} or pull request #{pr} does not exist or this token cannot see it "
        "(HTTP 404). Check GITHUB_REPOSITORY and --pr (or the event's pull request); a token "
        "without access to a private repository also gets 404."
    )
    assert len(github.requests) == 1


def test_a_secondary_rate_limit_says_when_to_retry(github: FakeGitHub) -> None:
    github.fail(429, headers={"Retry-After": "60"}, message="You have exceeded a secondary rate")
    with pytest.raises(GitHubError) as caught:
        post(github, "report\n")
    assert re.fullmatch(
        r"GitHub acme/churn#7: rate limited while listing its comments; retry in 60 s, after "
        r"\d\d:\d\d:\d\d UTC \(HTTP 429\)\. Run the step again then; one comment per "
        r"label per run stays well under the limits\.",
        str(caught.value),
    )
    assert caught.value.retry_after == 60
    assert len(github.requests) == 1


def test_an_exhausted_rate_limit_on_403_uses_the_reset_time(github: FakeGitHub) -> None:
    reset = str(int(time.time()) + 120)
    github.fail(403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset})
    with pytest.raises(GitHubError, match=r"^GitHub acme/churn#7: rate limited .* retry in") as e:
        post(github, "report\n")
    assert e.value.retry_after is not None
    assert 100 <= e.value.retry_after <= 121


def test_a_secondary_rate_limit_told_only_in_the_text_is_still_one(github: FakeGitHub) -> None:
    github.fail(403, message="You have exceeded a secondary rate limit. Please wait.")
    with pytest.raises(GitHubError) as caught:
        post(github, "report\n")
    assert str(caught.value).startswith(
        "GitHub acme/churn#7: rate limited while listing its comments; retry no sooner than a "
        "minute from now (HTTP 403)."
    )
    assert caught.value.retry_after is None


def test_a_comment_without_an_id_is_refused(github: FakeGitHub) -> None:
    github.add_comment("<!-- mlgate:report -->\nold")
    del github.comments[PR][0]["id"]
    with pytest.raises(GitHubError, match=r"^GitHub acme/churn#7: GitHub answered with a comment"):
        post(github, "report\n")


def test_a_refused_body_gives_githubs_reason(github: FakeGitHub) -> None:
    github.fail(422, message="Validation Failed")
    with pytest.raises(GitHubError) as caught:
        post(github, "report\n")
    assert str(caught.value) == (
        "GitHub acme/churn#7: GitHub refused listing its comments: Validation Failed (HTTP 422)."
    )


def test_githubs_text_never_carries_the_token_into_a_message(github: FakeGitHub) -> None:
    github.fail(403, message=f"token {TOKEN} is not allowed here")
    with pytest.raises(GitHubError) as caught:
        post(github, "report\n")
    assert "token *** is not allowed here" in str(caught.value)
    never_leaks(caught.value)


# --- failures that may pass are retried, boundedly ---


def test_a_500_then_200_succeeds_after_a_retry(github: FakeGitHub) -> None:
    github.fail(500)
    result = post(github, "report\n")
    assert result.action == "created"
    assert [r.method for r in github.requests] == ["GET", "GET", "POST"]
    assert len(github.comments[PR]) == 1


def test_three_5xx_answers_give_up_with_a_clear_error(github: FakeGitHub) -> None:
    github.fail(503, times=5, message="Service Unavailable")
    with pytest.raises(GitHubError) as caught:
        post(github, "report\n")
    assert str(caught.value) == (
        "GitHub acme/churn#7: GitHub failed while listing its comments: Service Unavailable; "
        "gave up after 3 attempts (HTTP 503). GitHub or the network is failing; run the step "
        "again later (https://www.githubstatus.com)."
    )
    assert len(github.requests) == 3


def test_the_total_time_bounds_the_retries(github: FakeGitHub) -> None:
    github.fail(500, times=5)
    slow = RetryPolicy(backoff=5.0, total=1.0, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(GitHubError, match=r"gave up after 1 attempt \(HTTP 500\)"):
        upsert_comment(context(github), "report\n", retry=slow)
    assert time.monotonic() - started < 3
    assert len(github.requests) == 1


def test_an_unreachable_api_is_retried_then_named() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    gone = GitHubContext(
        repository=REPOSITORY, pr=PR, token=TOKEN, api_url=f"http://127.0.0.1:{port}"
    )
    started = time.monotonic()
    with pytest.raises(GitHubError) as caught:
        upsert_comment(gone, "report\n", retry=FAST)
    assert str(caught.value) == (
        "GitHub acme/churn#7: could not reach 127.0.0.1 while listing its comments "
        "(ConnectError); gave up after 3 attempts. GitHub or the network is failing; run the "
        "step again later (https://www.githubstatus.com)."
    )
    assert time.monotonic() - started < 10
    never_leaks(caught.value)
