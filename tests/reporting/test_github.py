"""Pull-request comments against a fake GitHub on 127.0.0.1: one per label, edited in place."""

from __future__ import annotations

from pathlib import Path

import pytest
from github_server import PR, REPOSITORY, FakeGitHub
from github_support import FAST, actions_env, post

from mlgate.errors import ConfigError
from mlgate.reporting import comment_body, comment_marker, comment_report
from mlgate.reporting.github import MAX_COMMENT_CHARS

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


def test_a_post_whose_answer_was_lost_is_not_posted_twice(github: FakeGitHub) -> None:
    github.fail(502, method="POST", commit=True)  # GitHub stores it, then the answer is lost
    result = post(github, "report\n")
    assert result.action == "created"
    assert github.bodies() == ["<!-- mlgate:report -->\nreport\n"]
    assert [r.method for r in github.requests] == ["GET", "POST", "GET", "PATCH"]


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
