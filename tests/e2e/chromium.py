"""Headless Chromium for the browser tests: Debian's package (``make browser``), driven by Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("RM_CHROMIUM") or (
    "/usr/bin/chromium"
    if Path("/usr/bin/chromium").exists()
    else shutil.which("chromium") or "/usr/bin/chromium"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# Screenshots the browser tests save (gitignored).
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
TIMEOUT_MS = 60_000


@contextmanager
def launched() -> Iterator[Any]:
    """A headless Chromium browser for the duration of the block."""
    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} is missing: `make browser` installs Debian's chromium package"
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
