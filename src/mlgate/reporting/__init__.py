"""Reports on runs, comparisons and drift, and where they are sent.

Markdown and self-contained HTML renderers (`markdown`, `comparison`, `html`,
`drift`); pull-request comments that update in place (`github`); webhook
notifications that never block their caller (`notify`).
"""

from mlgate.reporting.comparison import comparison_markdown
from mlgate.reporting.drift import drift_html, drift_markdown
from mlgate.reporting.github import (
    MAX_COMMENT_CHARS,
    CommentResult,
    GitHubContext,
    RetryPolicy,
    comment_body,
    comment_marker,
    comment_report,
    github_context,
    upsert_comment,
)
from mlgate.reporting.html import comparison_html
from mlgate.reporting.markdown import run_summary
from mlgate.reporting.notify import Notifier

__all__ = [
    "MAX_COMMENT_CHARS",
    "CommentResult",
    "GitHubContext",
    "Notifier",
    "RetryPolicy",
    "comment_body",
    "comment_marker",
    "comment_report",
    "comparison_html",
    "comparison_markdown",
    "drift_html",
    "drift_markdown",
    "github_context",
    "run_summary",
    "upsert_comment",
]
