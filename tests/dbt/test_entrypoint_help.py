"""`entrypoint.py --help` names every setting the dbt image's README documents."""

from __future__ import annotations

import re
import subprocess

from tests.dbt.support import ENTRYPOINT, REPO, dbt_python_path


def readme_variables() -> set[str]:
    readme = (REPO / "dbt_container" / "README.md").read_text(encoding="utf-8")
    names = set()
    for row in readme.splitlines():
        if row.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1]))
    return names


def test_help_lists_every_documented_variable() -> None:
    done = subprocess.run(
        [str(dbt_python_path()), str(ENTRYPOINT), "--help"], capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr
    documented = readme_variables()
    assert {"DBT_THREADS", "DBT_TOLERATE_MISSING_SOURCES", "FIVETRAN_DATABASE"} <= documented
    assert sorted(name for name in documented if name not in done.stdout) == []
