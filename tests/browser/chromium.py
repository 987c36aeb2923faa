"""Debian's Chromium driven by Playwright for Python (no browser download): one fresh profile
per test, the flags a CI box needs, and a DOM probe for what a page really holds."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import BrowserContext, async_playwright

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    """Debian's binary (scripts/bootstrap --system installs it); no skipping without it."""
    found = shutil.which("chromium") or CHROMIUM
    assert Path(found).is_file(), "chromium is missing: run scripts/bootstrap --system"
    return found


@asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[BrowserContext]:
    """A headless Chromium with a fresh ``--user-data-dir`` (``profile``), phone-ish width."""
    async with async_playwright() as driver:
        context = await driver.chromium.launch_persistent_context(
            str(profile), executable_path=chromium_path(), headless=True, args=FLAGS,
            viewport={"width": 1100, "height": 900}, java_script_enabled=True)
        try:
            yield context
        finally:
            await context.close()


def artifact(name: str) -> Path:
    """Where a screenshot goes (tests/artifacts/, ignored by git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
