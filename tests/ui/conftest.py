"""Fixtures of the UI tests: the real server binary (DEV_MODE, or as the environment says), a
headless Chromium from the system (CHROMIUM, default /usr/bin/chromium), and pages that fail the
test on any console error or warning."""

import os
import re
import socket
import subprocess
import time
import urllib.request

import pytest
from playwright.sync_api import sync_playwright


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(base: str, process: subprocess.Popen | None, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{base} did not become healthy")


class Server:
    def __init__(self, extra_env: dict[str, str]):
        binary = os.environ.get("EVERRUNS_UI_SERVER_BIN") or os.environ["EVERRUNS_SERVER_BIN"]
        port = free_port()
        env = {
            **os.environ,
            "DEV_MODE": "true",
            "HTTP_ADDR": f"127.0.0.1:{port}",
            "RATE_LIMIT_API_REQUESTS_PER_MINUTE": "0",
            **{k: os.environ.get(k, "0") for k in ("LLMSIM_TTFT_MS", "LLMSIM_TOKEN_MS")},  # instant simulator
            "RUST_LOG": "warn",
            **extra_env,
        }
        self.base = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL)
        wait_healthy(self.base, self.process)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="session")
def base_url():
    """The UI's origin: EVERRUNS_UI_BASE_URL (e.g. the local split's router), or a DEV_MODE server."""
    given = os.environ.get("EVERRUNS_UI_BASE_URL")
    if given:
        wait_healthy(given.rstrip("/"), None)
        yield given.rstrip("/")
        return
    server = Server({})
    yield server.base
    server.stop()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            args=["--no-sandbox", "--disable-gpu"],
        )
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser):
    """Opens pages (a viewport and colour scheme per page); at the end, no console error or warning."""
    contexts, problems = [], []

    def open_(url: str, width: int = 1280, height: int = 860, scheme: str = "light", allowed: str | None = None):
        context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
        contexts.append(context)
        page = context.new_page()

        def console(message):
            if message.type in ("error", "warning") and not (allowed and re.search(allowed, message.text)):
                problems.append(f"{message.type}: {message.text}")

        page.on("console", console)
        page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
        page.goto(url)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert problems == [], f"console errors or warnings: {problems}"
