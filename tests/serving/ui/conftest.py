"""Fixtures of the dashboard tests: Debian's Chromium driven by Playwright.

`.ci/run` installs Chromium (`make browser`), so CI has it at /usr/bin/chromium;
with TEST_BROWSER=required (as `.ci/run` sets it) a missing browser fails
the tests, elsewhere it skips them, saying what to install.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
#: Whether a missing browser fails the tests (CI) rather than skipping them.
REQUIRED = os.environ.get("TEST_BROWSER") == "required"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium for the module's tests; no network but what a page asks for."""
    if not CHROMIUM.exists():
        reason = f"no browser at {CHROMIUM}: `apt-get install chromium` (or `make browser`)"
        if REQUIRED:
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            # root in CI needs --no-sandbox; a container's small /dev/shm, the last one
            args=["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
        )
        try:
            yield chromium
        finally:
            chromium.close()
