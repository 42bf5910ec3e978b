"""Reports: Markdown summaries of runs, and pull-request comments that update in place."""

from mlgate.reporting.github import (
    CommentResult,
    GitHubContext,
    RetryPolicy,
    comment_body,
    comment_marker,
    comment_report,
    github_context,
    upsert_comment,
)
from mlgate.reporting.markdown import run_summary

__all__ = [
    "CommentResult",
    "GitHubContext",
    "RetryPolicy",
    "comment_body",
    "comment_marker",
    "comment_report",
    "github_context",
    "run_summary",
    "upsert_comment",
]
