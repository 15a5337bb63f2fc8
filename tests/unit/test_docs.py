"""The docs a newcomer reads: a short README that links every guide, links that lead somewhere, and one
default for ``MaxConcurrency`` everywhere it is stated, the template's."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from infra.template import load_template

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE_BLOCK = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def tracked_markdown() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    return [ROOT / name for name in listed if (ROOT / name).exists()]


def anchors(doc: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped but `-` and `_`, spaces as `-`."""
    headings = re.findall(r"^#+ (.+)$", CODE_BLOCK.sub("", doc.read_text(encoding="utf-8")), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_the_readme_is_read_in_ten_minutes() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()

    assert len(lines) <= 250


def test_the_readme_names_the_test_command_and_the_quick_start() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")

    assert "make test" in ci
    assert "make test    #" in readme and "make demo    #" in readme and "make check   #" in readme


def test_the_readme_links_every_guide_in_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = {target.split("#", 1)[0] for target in LINK.findall(readme)}
    guides = {f"docs/{doc.name}" for doc in (ROOT / "docs").glob("*.md")}

    assert sorted(guides - linked) == []


@pytest.mark.parametrize("doc", tracked_markdown(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(doc: Path) -> None:
    broken = []
    for target in LINK.findall(CODE_BLOCK.sub("", doc.read_text(encoding="utf-8"))):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        linked = (doc.parent / path).resolve() if path else doc
        missing_heading = anchor and linked.suffix == ".md" and anchor not in anchors(linked)
        if not linked.exists() or missing_heading:
            broken.append(target)

    assert broken == []


def stated_defaults(text: str) -> list[int]:
    """Each default of ``MaxConcurrency`` a doc states: a table row, "default N", "N, the default"."""
    found = []
    for match in re.finditer(r"MaxConcurrency`?", text):
        after = " ".join(text[match.end() : match.end() + 80].split())
        stated = re.match(r"(?:\| (\d+) \|)|(?:(\d+), the default)", after) or re.search(
            r"default (\d+)", after
        )
        if stated:
            found.append(int(next(group for group in stated.groups() if group is not None)))
    return found


def test_max_concurrency_has_one_default_everywhere_and_it_is_the_templates() -> None:
    default = int(load_template()["Parameters"]["MaxConcurrency"]["Default"])
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    docs += [ROOT / "infra" / "README.md", ROOT / "local" / "README.md", ROOT / "statemachine" / "README.md"]
    stated = {str(doc.relative_to(ROOT)): stated_defaults(doc.read_text(encoding="utf-8")) for doc in docs}

    assert {doc: values for doc, values in stated.items() if any(v != default for v in values)} == {}
    assert {"infra/README.md", "docs/operate.md", "docs/design.md"} <= {d for d, v in stated.items() if v}


def test_every_phony_target_of_the_makefile_exists() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    variables = dict(re.findall(r"^(\w+) :?= (.*)$", makefile, re.MULTILINE))
    declared = []
    for line in re.findall(r"^\.PHONY: (.*)$", makefile, re.MULTILINE):
        for word in line.split():
            variable = re.fullmatch(r"\$\((\w+)\)", word)
            declared += variables[variable.group(1)].split() if variable else [word]

    assert [t for t in declared if not re.search(rf"^{re.escape(t)}:", makefile, re.MULTILINE)] == []
