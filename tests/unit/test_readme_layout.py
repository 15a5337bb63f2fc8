"""README's "What is where" names every top-level folder of the repository and only folders that exist;
its ``tests/`` row names every test tier."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def table() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## What is where", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| (.*) \|$", section, re.MULTILINE)
    return dict(rows)


def tracked_top_level_folders() -> set[str]:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    return {f.split("/", 1)[0] + "/" for f in files if "/" in f}


def test_every_top_level_folder_is_in_the_table_and_every_row_exists() -> None:
    rows = table()
    folders = tracked_top_level_folders()

    assert sorted(folders - set(rows)) == []
    assert sorted(path for path in rows if not (ROOT / path).exists()) == []


def test_the_tests_row_names_every_test_tier() -> None:
    tiers = {p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and p.name != "__pycache__"}
    named = set(re.findall(r"`([a-z0-9_]+)/`", table()["tests/"]))

    assert sorted(tiers - named) == []
