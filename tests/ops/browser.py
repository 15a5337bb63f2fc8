"""A real headless browser for the timeline page: Debian's ``chromium``, installed with apt when missing.

``ensure_chromium()`` returns the browser's path, installing the package (``apt-get update`` once,
then ``apt-get install -y chromium``) when it is missing and this process may; when it cannot be
installed the calling test is skipped with the reason. Test workers side by side install it once: the
others wait for that install (apt-get holds dpkg's lock, so a second one at the same time would fail).
``load(page)`` opens a file headless and returns the DOM after the scripts ran plus the console lines
Chromium logged.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

__all__ = ["Loaded", "ensure_chromium", "load", "screenshot"]

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
APT_TIMEOUT_S = 900
# One install at a time across the suite's processes (pytest-xdist's workers).
INSTALL_LOCK = Path(tempfile.gettempdir()) / "fivetran-orchestrator-chromium-install.lock"


@dataclass(frozen=True)
class Loaded:
    dom: str
    console: list[str]  # every line Chromium logged from the page's console (errors included)


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["apt-get", *args],
        capture_output=True,
        text=True,
        timeout=APT_TIMEOUT_S,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        check=False,
    )


def ensure_chromium() -> str:
    """The chromium executable; installs Debian's package if needed, else skips the test saying why."""
    found = shutil.which("chromium")
    if found:
        return found
    if shutil.which("apt-get") is None:
        pytest.skip("chromium is missing and this system has no apt-get to install it")
    if os.geteuid() != 0:
        pytest.skip("chromium is missing and installing it with apt-get needs root")
    with FileLock(INSTALL_LOCK, timeout=2 * APT_TIMEOUT_S):
        found = shutil.which("chromium")  # another worker may have installed it while this one waited
        if found:
            return found
        for args in (("update",), ("install", "-y", "chromium")):
            done = _apt(*args)
            if done.returncode != 0:
                pytest.skip(
                    f"chromium is missing and `apt-get {' '.join(args)}` failed: {done.stderr.strip()[-300:]}"
                )
    found = shutil.which("chromium")
    if not found:
        pytest.skip("apt-get installed chromium but no `chromium` executable is on the PATH")
    return found


def _run(chromium: str, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [chromium, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def load(chromium: str, page: Path) -> Loaded:
    """The DOM after the page's scripts ran, and its console lines (``--enable-logging=stderr --v=0``)."""
    done = _run(chromium, "--enable-logging=stderr", "--v=0", "--dump-dom", page.resolve().as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return Loaded(dom=done.stdout, console=console)


def screenshot(chromium: str, page: Path, png: Path, size: str = "1280,800") -> Path:
    done = _run(chromium, f"--window-size={size}", f"--screenshot={png}", page.resolve().as_uri())
    assert done.returncode == 0 and png.exists(), done.stderr[-2000:]
    return png
