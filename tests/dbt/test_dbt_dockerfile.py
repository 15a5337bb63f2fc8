"""The dbt image's rules, checked by reading the Dockerfile (no Docker engine here to build it): a pinned slim
base, pinned requirements, no build tools in the final stage, a non-root user, the entrypoint."""

from __future__ import annotations

import re
import shlex

from tests.dbt.support import REPO

DOCKER_DIR = REPO / "dbt_container"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, comments dropped and continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DOCKER_DIR / "Dockerfile").read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            found.append([])
        if found:
            found[-1].append((keyword, rest))
    return found


def resolved_bases() -> list[str]:
    args = {}
    for keyword, rest in instructions():
        if keyword == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args[name] = value
    bases = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            image = rest.split()[0]
            bases.append(re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], image))
    return bases


def test_every_stage_starts_from_a_slim_python_pinned_to_an_exact_version() -> None:
    bases = resolved_bases()
    assert bases
    # One stage holds only files (the dbt project, replaced by `--build-context dbt_project=PATH`).
    assert [rest for keyword, rest in instructions() if keyword == "FROM" and rest.startswith("scratch")] == [
        "scratch AS dbt_project"
    ]
    for image in bases:
        if image == "scratch":
            continue
        assert "latest" not in image
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", image), image


def test_final_stage_runs_as_a_non_root_user() -> None:
    users = [rest for keyword, rest in stages()[-1] if keyword == "USER"]
    assert users, "the final stage has no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")


def test_entrypoint_runs_the_entrypoint_script() -> None:
    (entrypoint,) = [rest for keyword, rest in stages()[-1] if keyword == "ENTRYPOINT"]
    assert entrypoint.startswith("[")  # exec form: python is PID 1 and receives ECS's SIGTERM
    assert entrypoint.endswith('"/app/entrypoint.py"]')
    copies = [rest for keyword, rest in stages()[-1] if keyword == "COPY"]
    assert "entrypoint.py /app/entrypoint.py" in copies
    assert "--from=build /opt/project /app/project" in copies  # the staged project (below)


def test_the_project_is_staged_in_the_build_stage_with_its_packages() -> None:
    build = dict.fromkeys(("COPY", "RUN"), "")
    for keyword, rest in stages()[1]:
        if keyword in build:
            build[keyword] += " ".join(rest.split()) + "\n"
    assert "--from=dbt_project / /tmp/stage/source/" in build["COPY"]
    assert (
        "stage_project.py --profile-template /tmp/stage/profiles.yml /tmp/stage/source /opt/project"
        in (build["RUN"])
    )


def test_requirements_are_installed_from_the_pinned_file_without_a_cache() -> None:
    build = [(k, r) for stage in stages() for k, r in stage]
    assert any(k == "COPY" and r.startswith("requirements-${DBT_ADAPTER}.lock ") for k, r in build)
    installs = [shlex.split(r) for k, r in build if k == "RUN" and "pip install" in r]
    assert len(installs) == 1
    (words,) = installs
    assert "--no-cache-dir" in words
    assert words[words.index("-r") + 1].endswith("requirements.lock")  # tests/dbt/test_dbt_lock.py
    for path in DOCKER_DIR.glob("requirements*.txt"):
        for line in path.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][A-Za-z0-9.]*", line.strip()), (path, line)


def test_final_stage_installs_no_build_tools() -> None:
    runs = " ".join(rest for keyword, rest in stages()[-1] if keyword == "RUN")
    for tool in ("gcc", "build-essential", "pip install", "apt-get install", "make "):
        assert tool not in runs
    assert any(k == "COPY" and r.startswith("--from=") for k, r in stages()[-1])


def test_the_adapter_build_argument_defaults_to_snowflake_and_sets_the_target() -> None:
    arguments = [rest for keyword, rest in instructions() if keyword == "ARG"]
    envs = " ".join(rest for keyword, rest in stages()[-1] if keyword == "ENV")
    assert "DBT_ADAPTER=snowflake" in arguments
    assert "DBT_ADAPTER" in [rest for keyword, rest in stages()[-1] if keyword == "ARG"]
    assert "DBT_TARGET=${DBT_ADAPTER}" in envs


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    ignored = (DOCKER_DIR / ".dockerignore").read_text().splitlines()
    for pattern in ("project/target", "project/dbt_packages", "project/logs", "*.duckdb"):
        assert pattern in ignored
