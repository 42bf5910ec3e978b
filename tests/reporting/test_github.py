"""Pull-request comments against a fake GitHub on 127.0.0.1: one per label, edited in place."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import pytest
from github_server import PR, REPOSITORY, TOKEN, FakeGitHub

from mlgate.errors import ConfigError, GitHubError
from mlgate.reporting import (
    CommentResult,
    GitHubContext,
    RetryPolicy,
    comment_body,
    comment_marker,
    comment_report,
    github_context,
    upsert_comment,
)
from mlgate.reporting.github import MAX_COMMENT_CHARS

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


# --- one comment per label, edited in place ---


def test_the_first_run_creates_a_comment_and_the_second_edits_it(github: FakeGitHub) -> None:
    first = post(github, "## Report one\n")
    assert first.action == "created"
    assert first.created
    assert github.bodies() == ["<!-- mlgate:report -->\n## Report one\n"]
    assert first.url == f"https://github.com/{REPOSITORY}/pull/{PR}#issuecomment-{first.id}"

    second = post(github, "## Report two\n")
    assert second.action == "updated"
    assert second.id == first.id
    assert github.bodies() == ["<!-- mlgate:report -->\n## Report two\n"]
    assert [r.method for r in github.requests] == ["GET", "POST", "GET", "PATCH"]


def test_every_request_carries_the_api_headers(github: FakeGitHub) -> None:
    post(github, "report\n")
    for request in github.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"
        assert request.headers["user-agent"].startswith("mlgate/")
    assert github.requests[0].query == {"per_page": ["100"]}


def test_two_labels_keep_two_comments(github: FakeGitHub) -> None:
    comparison = post(github, "comparison 1\n", label="comparison")
    drift = post(github, "drift 1\n", label="drift")
    post(github, "comparison 2\n", label="comparison")
    assert comparison.id != drift.id
    assert github.bodies() == [
        "<!-- mlgate:comparison -->\ncomparison 2\n",
        "<!-- mlgate:drift -->\ndrift 1\n",
    ]


def test_someone_elses_comments_are_left_alone(github: FakeGitHub) -> None:
    github.add_comment("LGTM, ship it")
    # A person quoting the marker in the middle of a comment does not make it mlgate's.
    github.add_comment("> earlier: <!-- mlgate:report -->\nwhy did accuracy drop?", user="bob")
    post(github, "one\n")
    post(github, "two\n")
    assert github.bodies() == [
        "LGTM, ship it",
        "> earlier: <!-- mlgate:report -->\nwhy did accuracy drop?",
        "<!-- mlgate:report -->\ntwo\n",
    ]


def test_the_marker_is_found_on_the_second_page(github: FakeGitHub) -> None:
    for i in range(130):
        github.add_comment(f"comment {i}")
    github.comments[PR].insert(120, {**github.add_comment("x"), "body": "<!-- mlgate:report -->\n"})
    github.comments[PR].pop()  # the helper appended it too; keep it only at index 120
    ours = github.comments[PR][120]["id"]

    result = post(github, "new\n")

    assert result.action == "updated"
    assert result.id == ours
    assert len(github.comments[PR]) == 131
    assert github.comments[PR][120]["body"] == "<!-- mlgate:report -->\nnew\n"
    pages = [r.query.get("page", ["1"]) for r in github.requests if r.method == "GET"]
    assert pages == [["1"], ["2"]]
    assert [r.method for r in github.requests] == ["GET", "GET", "PATCH"]


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


def test_a_post_whose_answer_was_lost_is_not_posted_twice(github: FakeGitHub) -> None:
    github.fail(502, method="POST", commit=True)  # GitHub stores it, then the answer is lost
    result = post(github, "report\n")
    assert result.action == "created"
    assert github.bodies() == ["<!-- mlgate:report -->\nreport\n"]
    assert [r.method for r in github.requests] == ["GET", "POST", "GET", "PATCH"]


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


# --- the body: marker first, cut to GitHub's limit ---


def test_a_long_report_is_cut_to_the_limit_keeping_the_marker(github: FakeGitHub) -> None:
    report = "".join(f"| row {i} | {'x' * 60} |\n" for i in range(1500))
    result = post(github, report)
    assert result.truncated
    (body,) = github.bodies()
    assert len(body) <= MAX_COMMENT_CHARS
    assert body.startswith("<!-- mlgate:report -->\n| row 0 |")
    assert body.endswith(
        f"*Cut by mlgate: the report has {len(report):,} characters and a GitHub comment holds "
        "at most 65,536. The full report is in the file the workflow wrote.*\n"
    )
    assert "|\n\n---\n*Cut" in body  # cut at the end of a whole row
    again = post(github, report + "more\n")
    assert again.action == "updated"


def test_a_cut_inside_a_code_block_closes_it() -> None:
    body = comment_body("intro\n```text\n" + "line\n" * 20000, label="log")
    assert body.startswith("<!-- mlgate:log -->\nintro\n```text\n")
    assert len(body) <= MAX_COMMENT_CHARS
    assert "line\n```\n\n---\n*Cut by mlgate" in body


def test_a_short_report_is_kept_whole() -> None:
    assert comment_body("fine\n") == "<!-- mlgate:report -->\nfine\n"


@pytest.mark.parametrize("label", ["", "a b", "x-->", "a--b", "-a", "é", "x" * 65])
def test_a_label_that_would_break_the_marker_is_refused(label: str) -> None:
    with pytest.raises(ConfigError, match=r"^label: a comment label must be 1 to 64 letters"):
        comment_marker(label)


# --- settings from the GitHub Actions environment ---


def actions_env(tmp_path: Path, event: object | None = None, **extra: str) -> dict[str, str]:
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPOSITORY} | extra
    if event is not None:
        path = tmp_path / "event.json"
        path.write_text(json.dumps(event), encoding="utf-8")
        env["GITHUB_EVENT_PATH"] = str(path)
    return env


def test_the_context_comes_from_the_actions_environment(tmp_path: Path) -> None:
    found = github_context(actions_env(tmp_path, {"pull_request": {"number": 12}}))
    assert (found.repository, found.pr, found.api_url) == (REPOSITORY, 12, "https://api.github.com")
    assert found.token == TOKEN
    assert TOKEN not in repr(found)


def test_an_issue_comment_event_gives_the_issue_number(tmp_path: Path) -> None:
    env = actions_env(tmp_path, {"issue": {"number": 5, "pull_request": {}}})
    assert github_context(env).pr == 5


def test_pr_and_api_url_and_gh_token_override(tmp_path: Path) -> None:
    env = {"GH_TOKEN": "gho_x", "GITHUB_REPOSITORY": REPOSITORY}
    env["GITHUB_API_URL"] = "https://ghe.example.com/api/v3/"
    found = github_context(env, pr=3)
    assert (found.pr, found.token, found.api_url) == (3, "gho_x", "https://ghe.example.com/api/v3")


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        (
            "GITHUB_TOKEN",
            r"^neither GITHUB_TOKEN nor GH_TOKEN is set: there is no token to post with\. In "
            r"GitHub Actions give the step `env: GITHUB_TOKEN: .*pull-requests: write`",
        ),
        (
            "GITHUB_REPOSITORY",
            r"^GITHUB_REPOSITORY is not set: there is no repository to comment on\. GitHub "
            r"Actions sets it; elsewhere set GITHUB_REPOSITORY=owner/repo\.$",
        ),
    ],
)
def test_a_missing_variable_is_named_with_its_fix(tmp_path: Path, drop: str, message: str) -> None:
    env = actions_env(tmp_path, {"pull_request": {"number": 1}})
    del env[drop]
    with pytest.raises(ConfigError, match=message):
        github_context(env)


def test_a_repository_not_owner_slash_repo_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^GITHUB_REPOSITORY must be owner/repo\. Got 'churn'\."):
        github_context(actions_env(tmp_path, GITHUB_REPOSITORY="churn"), pr=1)


def test_no_pull_request_number_says_to_pass_pr(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"^no pull request number: --pr is not given and GITHUB_EVENT_PATH is not set\. "
        r"Pass --pr N, or run in a GitHub Actions job started by a pull_request event\.$",
    ):
        github_context(actions_env(tmp_path))


def test_a_push_event_has_no_pull_request(tmp_path: Path) -> None:
    env = actions_env(tmp_path, {"ref": "refs/heads/main"}, GITHUB_EVENT_NAME="push")
    with pytest.raises(
        ConfigError,
        match=r"event\.json: the push event has no pull_request\.number or issue\.number\. "
        r"Run on pull_request or issue_comment events, or pass --pr N\.$",
    ):
        github_context(env)


def test_an_unreadable_event_file_is_named(tmp_path: Path) -> None:
    env = actions_env(tmp_path, GITHUB_EVENT_PATH=str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match=r"missing\.json: cannot read the GitHub event file"):
        github_context(env)


# --- the report file ---


def test_comment_report_posts_the_file(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = tmp_path / "report.md"
    report.write_text("## Model comparison\n", encoding="utf-8")
    env = actions_env(tmp_path, {"pull_request": {"number": PR}}, GITHUB_API_URL=github.url)
    result = comment_report(report, env=env, retry=FAST)
    assert result.action == "created"
    assert github.bodies() == ["<!-- mlgate:report -->\n## Model comparison\n"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"report\.md: the report file does not exist\. Pass the file the report step"),
        ("  \n", r"report\.md: the report file is empty: there is nothing to post\. Check"),
    ],
)
def test_a_missing_or_empty_report_is_refused(
    tmp_path: Path, content: str | None, message: str
) -> None:
    report = tmp_path / "report.md"
    if content is not None:
        report.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        comment_report(report, env=actions_env(tmp_path), pr=1)
