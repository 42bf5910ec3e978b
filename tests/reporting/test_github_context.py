"""The pull request, API URL and token, read from the GitHub Actions environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from github_server import REPOSITORY, TOKEN
from github_support import actions_env

from mlgate.errors import ConfigError
from mlgate.reporting import github_context


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
