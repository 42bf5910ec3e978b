"""A fake GitHub on 127.0.0.1 for the pull-request comment tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from github_server import FakeGitHub


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    """GitHub's comment endpoints for acme/churn#7, stopped after the test."""
    server = FakeGitHub().start()
    try:
        yield server
    finally:
        server.stop()
