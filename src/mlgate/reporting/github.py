"""Pull-request comments on GitHub that update in place instead of piling up.

A comment starts with a hidden marker, ``<!-- mlgate:LABEL -->``. Posting
again with the same label finds that comment and edits it, so a pull request
keeps one comment per label however often CI runs. Settings come from what
GitHub Actions provides (`github_context`); the requests and their retries are
in `mlgate.reporting._github_client`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from mlgate.errors import ConfigError
from mlgate.reporting._github_client import DEFAULT_RETRY, RetryPolicy, Session, with_retries
from mlgate.reporting._github_context import GitHubContext, github_context

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

#: GitHub refuses a comment body longer than this many characters.
MAX_COMMENT_CHARS = 65536

_LABEL = re.compile(r"^[A-Za-z0-9_.]+(?:-[A-Za-z0-9_.]+)*$")


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
    marker = comment_marker(label)
    body, truncated = _body(report, marker)
    posted = False  # an earlier attempt posted: the comment found now may be that post

    def step(session: Session) -> CommentResult:
        nonlocal posted
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

    return with_retries(context, retry or DEFAULT_RETRY, step)
