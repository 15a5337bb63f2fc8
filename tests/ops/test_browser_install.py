"""Installing chromium for the browser checks: workers side by side install it once, the others wait for
that install and use it (two apt-get at once: the second fails on dpkg's lock, and its test was skipped)."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.ops import browser


def test_workers_side_by_side_install_chromium_once_and_every_one_gets_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    installed = threading.Event()
    calls: list[tuple[str, ...]] = []

    def apt(*args: str) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        if args[0] == "install":
            time.sleep(0.5)  # long enough for every other worker to arrive while it runs
            installed.set()
        return subprocess.CompletedProcess(["apt-get", *args], 0, "", "")

    monkeypatch.setattr(browser, "_apt", apt)

    def which(name: str) -> str | None:
        return f"/usr/bin/{name}" if name == "apt-get" or installed.is_set() else None

    monkeypatch.setattr(browser.shutil, "which", which)
    monkeypatch.setattr(browser.os, "geteuid", lambda: 0)
    monkeypatch.setattr(browser, "INSTALL_LOCK", tmp_path / "install.lock")
    found: list[str] = []
    workers = [threading.Thread(target=lambda: found.append(browser.ensure_chromium())) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert found == ["/usr/bin/chromium"] * 4
    assert calls == [("update",), ("install", "-y", "chromium")]
