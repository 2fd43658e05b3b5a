"""Debian's chromium driven by Playwright's sync API, for the dashboard's end-to-end tests.

A missing ``/usr/bin/chromium`` is an error (install it with ``scripts/install-system-deps.sh``),
never a skip. Every page opened through :class:`Browser` records console errors and uncaught page
errors, so a test can assert that none happened.

Example::

    with Browser.launch(tmp_path / "profile") as browser:
        page = browser.new_page(live_server.url)
        page.goto(live_server.url + "/login")
        assert browser.console_errors == []
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Playwright, sync_playwright

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "SCREENSHOTS", "Browser"]

CHROMIUM = os.environ.get("TRADEREADY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


class Browser:
    """One headless chromium profile (a persistent context in a temporary user-data-dir)."""

    def __init__(self, playwright: Playwright, context: BrowserContext) -> None:
        self._playwright = playwright
        self.context = context
        self.console_errors: list[str] = []

    @classmethod
    def launch(
        cls, user_data_dir: Path, *, width: int = 1366, height: int = 900, executable: str = CHROMIUM
    ) -> Browser:
        if not (os.path.isfile(executable) and os.access(executable, os.X_OK)):
            raise RuntimeError(
                f"chromium not found at {executable!r}: the dashboard's browser tests need Debian's chromium; "
                "run scripts/install-system-deps.sh (apt-get install chromium)."
            )
        playwright = sync_playwright().start()
        try:
            context = playwright.chromium.launch_persistent_context(
                str(user_data_dir),
                executable_path=executable,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": width, "height": height},
            )
        except BaseException:
            playwright.stop()
            raise
        return cls(playwright, context)

    def new_page(self) -> Page:
        page = self.context.new_page()
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.console_errors.append(f"page error: {exc}"))
        return page

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.location.get('url', '?')}: {message.text}")

    def screenshot(self, page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        try:
            self.context.close()
        finally:
            self._playwright.stop()

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
