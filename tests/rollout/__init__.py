"""Rollout tests (a package: tests/gates has a test_decide.py of its own)."""
