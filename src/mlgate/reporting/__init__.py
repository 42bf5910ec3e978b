"""Reports: Markdown summaries of runs."""

from mlgate.reporting.markdown import run_summary

__all__ = ["run_summary"]
