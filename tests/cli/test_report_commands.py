"""`mlgate report comment` against a fake GitHub on 127.0.0.1, the way a workflow runs it."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from mlgate.cli import app
from mlgate.reporting import RetryPolicy
from mlgate.reporting import github as github_module


def _server_module() -> ModuleType:
    """tests/reporting/github_server.py, shared with the library's tests."""
    if "github_server" not in sys.modules:
        path = Path(__file__).parents[1] / "reporting" / "github_server.py"
        spec = importlib.util.spec_from_file_location("github_server", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["github_server"] = module
        spec.loader.exec_module(module)
    return sys.modules["github_server"]


fake = _server_module()
TOKEN: str = fake.TOKEN
VARIABLES = (
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GITHUB_REPOSITORY",
    "GITHUB_API_URL",
    "GITHUB_EVENT_PATH",
    "GITHUB_EVENT_NAME",
)


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The fake GitHub, with retries that wait milliseconds instead of seconds."""
    monkeypatch.setattr(
        github_module, "DEFAULT_RETRY", RetryPolicy(backoff=0.01, total=10.0, timeout=5.0)
    )
    server = fake.FakeGitHub().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "report.md"
    path.write_text(
        "## ✅ Model comparison\n\n| Metric | Baseline |\n|---|---|\n", encoding="utf-8"
    )
    return path


def actions_env(github: Any, tmp_path: Path, **changes: str | None) -> dict[str, str | None]:
    """What GitHub Actions sets on a pull_request run; every other GitHub variable unset."""
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": fake.PR}}), encoding="utf-8")
    env: dict[str, str | None] = dict.fromkeys(VARIABLES)
    env |= {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": fake.REPOSITORY,
        "GITHUB_API_URL": github.url,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_EVENT_NAME": "pull_request",
    }
    return env | changes


def invoke(runner: CliRunner, env: dict[str, str | None], *args: str) -> Result:
    result = runner.invoke(app, ["report", "comment", *args], env=env)
    # Whatever happened, the token is nowhere a person or a log could see it.
    assert TOKEN not in result.stdout
    assert TOKEN not in result.stderr
    assert TOKEN not in result.output
    if result.exception is not None:
        assert TOKEN not in repr(result.exception)
    return result


def test_the_first_run_creates_and_the_second_edits_in_place(
    runner: CliRunner, github: Any, report: Path, tmp_path: Path
) -> None:
    env = actions_env(github, tmp_path)
    first = invoke(runner, env, "--file", str(report))
    assert first.exit_code == 0, first.output
    (comment,) = github.comments[fake.PR]
    assert first.stdout == (
        f"created comment {comment['id']} on acme/churn#7: {comment['html_url']}\n"
    )

    report.write_text("## ❌ Model comparison, second push\n", encoding="utf-8")
    second = invoke(runner, env, "--file", str(report))
    assert second.exit_code == 0, second.output
    assert second.stdout.startswith(f"updated comment {comment['id']} on acme/churn#7: ")
    assert github.bodies() == ["<!-- mlgate:report -->\n## ❌ Model comparison, second push\n"]


def test_two_labels_keep_two_comments_beside_a_foreign_one(
    runner: CliRunner, github: Any, report: Path, tmp_path: Path
) -> None:
    github.add_comment("Could you also check recall?", user="carol")
    env = actions_env(github, tmp_path)
    for label in ("comparison", "drift", "comparison"):
        assert invoke(runner, env, "-f", str(report), "--label", label).exit_code == 0
    bodies = github.bodies()
    assert len(bodies) == 3
    assert bodies[0] == "Could you also check recall?"
    assert bodies[1].startswith("<!-- mlgate:comparison -->\n")
    assert bodies[2].startswith("<!-- mlgate:drift -->\n")


def test_json_output_and_pr_given_on_the_command_line(
    runner: CliRunner, github: Any, report: Path, tmp_path: Path
) -> None:
    env = actions_env(github, tmp_path, GITHUB_EVENT_PATH=None)
    result = invoke(runner, env, "-f", str(report), "--pr", "7", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["action"] == "created"
    assert payload["repository"] == "acme/churn"
    assert payload["pr"] == 7
    assert payload["label"] == "report"
    assert payload["truncated"] is False
    assert payload["id"] == github.comments[fake.PR][0]["id"]


def test_gh_token_works_like_github_token(
    runner: CliRunner, github: Any, report: Path, tmp_path: Path
) -> None:
    env = actions_env(github, tmp_path, GITHUB_TOKEN=None, GH_TOKEN=TOKEN)
    assert invoke(runner, env, "-f", str(report)).exit_code == 0


def test_a_500_then_200_succeeds_after_a_retry(
    runner: CliRunner, github: Any, report: Path, tmp_path: Path
) -> None:
    github.fail(500)
    result = invoke(runner, actions_env(github, tmp_path), "-f", str(report))
    assert result.exit_code == 0, result.output
    assert [r.method for r in github.requests] == ["GET", "GET", "POST"]


def test_a_long_report_is_cut_with_a_warning(
    runner: CliRunner, github: Any, tmp_path: Path
) -> None:
    long = tmp_path / "long.md"
    long.write_text("a line of the report\n" * 5000, encoding="utf-8")
    result = invoke(runner, actions_env(github, tmp_path), "-f", str(long))
    assert result.exit_code == 0, result.output
    assert "warning: the report is longer than the 65,536 characters" in result.stderr
    (body,) = github.bodies()
    assert len(body) <= 65536
    assert body.startswith("<!-- mlgate:report -->\n")


# --- every failure: exit 2, one clear line, no token ---


@pytest.mark.parametrize(
    ("status", "options", "expected"),
    [
        (401, {}, "the token was refused while listing its comments: it is missing, expired or"),
        (403, {"message": "Resource not accessible by integration"}, "lacks permission"),
        (429, {"headers": {"Retry-After": "30"}}, "rate limited while listing its comments;"),
        (
            403,
            {"headers": {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "0"}},
            "rate limited while listing its comments; retry in 0 s",
        ),
        (503, {"times": 3}, "gave up after 3 attempts (HTTP 503)"),
    ],
    ids=["401", "403", "429", "403-rate-limit", "503"],
)
def test_an_error_answer_exits_2_with_its_message(
    runner: CliRunner,
    github: Any,
    report: Path,
    tmp_path: Path,
    status: int,
    options: dict[str, Any],
    expected: str,
) -> None:
    if status == 401:
        github.token = "ghs_another"
    else:
        github.fail(status, **options)
    result = invoke(runner, actions_env(github, tmp_path), "-f", str(report))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: GitHub acme/churn#7: ")
    assert expected in result.stderr
    assert github.comments[fake.PR] == []


def test_a_401_says_how_to_give_a_token(
    runner: CliRunner, github: Any, report: Path, tmp_path: Path
) -> None:
    github.token = "ghs_another"
    result = invoke(runner, actions_env(github, tmp_path), "-f", str(report))
    assert result.exit_code == 2
    assert "`permissions: pull-requests: write`" in result.stderr
    assert "secrets.GITHUB_TOKEN" in result.stderr


def test_a_404_names_the_repository_and_the_pull_request(
    runner: CliRunner, github: Any, report: Path, tmp_path: Path
) -> None:
    env = actions_env(github, tmp_path, GITHUB_REPOSITORY="acme/gone")
    result = invoke(runner, env, "-f", str(report), "--pr", "12")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: GitHub acme/gone#12: not found while listing its comments: repository acme/gone "
        "or pull request #12 does not exist or this token cannot see it (HTTP 404)."
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"GITHUB_TOKEN": None}, "error: neither GITHUB_TOKEN nor GH_TOKEN is set"),
        ({"GITHUB_REPOSITORY": None}, "error: GITHUB_REPOSITORY is not set"),
        (
            {"GITHUB_EVENT_PATH": None},
            "error: no pull request number: --pr is not given and GITHUB_EVENT_PATH is not set. "
            "Pass --pr N",
        ),
    ],
    ids=["token", "repository", "pr"],
)
def test_a_missing_setting_exits_2_naming_the_variable(
    runner: CliRunner,
    github: Any,
    report: Path,
    tmp_path: Path,
    changes: dict[str, str | None],
    expected: str,
) -> None:
    result = invoke(runner, actions_env(github, tmp_path, **changes), "-f", str(report))
    assert result.exit_code == 2
    assert result.stderr.startswith(expected)
    assert github.requests == []


@pytest.mark.parametrize("content", [None, ""], ids=["missing", "empty"])
def test_a_missing_or_empty_report_exits_2(
    runner: CliRunner, github: Any, tmp_path: Path, content: str | None
) -> None:
    path = tmp_path / "report.md"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = invoke(runner, actions_env(github, tmp_path), "-f", str(path))
    assert result.exit_code == 2
    assert "report.md: the report file" in result.stderr
    assert github.requests == []


def test_a_bad_label_or_pr_exits_2(
    runner: CliRunner, github: Any, report: Path, tmp_path: Path
) -> None:
    env = actions_env(github, tmp_path)
    bad_label = invoke(runner, env, "-f", str(report), "--label", "a b")
    assert bad_label.exit_code == 2
    assert bad_label.stderr.startswith("error: label: a comment label must be")
    assert invoke(runner, env, "-f", str(report), "--pr", "0").exit_code == 2
    assert github.requests == []
