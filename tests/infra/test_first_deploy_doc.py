"""docs/first-deploy.md cannot drift from the code: every `orchestrator`, `python -m deploy` and `make`
command it names (in code blocks and inline code) exists, with the options it is given."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from deploy.cli import parse_args
from ops.cli import cli

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "first-deploy.md"
BLOCK = re.compile(r"^```[a-z]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`([^`\n]+)`")
PROGRAMS = ("orchestrator ", "python -m deploy ", "make ")


def commands() -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    lines = [line for block in BLOCK.findall(text) for line in block.replace("\\\n", " ").splitlines()]
    lines += INLINE.findall(BLOCK.sub("", text))
    found = []
    for line in lines:
        line = line.strip()
        if line.startswith(PROGRAMS):
            found.append(shlex.split(line, comments=True))
    return found


def test_the_doc_names_the_commands_of_a_first_deploy() -> None:
    names = {" ".join(words[:2]) for words in commands()}

    assert {
        "make deploy",
        "orchestrator register-webhook",
        "orchestrator doctor",
        "orchestrator start-run",
        "orchestrator show",
        "orchestrator runs",
    } <= names | {" ".join(words[:3]) for words in commands()}


@pytest.mark.parametrize("words", [w for w in commands() if w[0] == "orchestrator"], ids=" ".join)
def test_each_orchestrator_command_and_option_exists(words: list[str]) -> None:
    command = cli.commands.get(words[1])
    assert command is not None, f"orchestrator has no command {words[1]}"
    options = {opt for param in command.params if isinstance(param, click.Option) for opt in param.opts}
    given = {word for word in words[2:] if word.startswith("--")}

    assert given <= options, f"{words[1]} has no {given - options}"


@pytest.mark.parametrize(
    "words", [w for w in commands() if w[:3] == ["python", "-m", "deploy"]], ids=" ".join
)
def test_each_python_m_deploy_command_parses(words: list[str]) -> None:
    parse_args(words[3:])


@pytest.mark.parametrize("words", [w for w in commands() if w[0] == "make"], ids=" ".join)
def test_each_make_target_exists(words: list[str]) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")

    assert re.search(rf"^{re.escape(words[1])}:", makefile, re.MULTILINE)


def test_the_readme_links_the_first_deploy() -> None:
    assert "docs/first-deploy.md" in (ROOT / "README.md").read_text(encoding="utf-8")
