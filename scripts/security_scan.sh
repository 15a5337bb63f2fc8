#!/usr/bin/env bash
# Security scanners, run by `make test` (tools from .venv-tools, installed by `make install`):
#
#   bandit     app.py chalicelib contracts deploy infra local dbt_container ops scripts: no medium or high finding
#              (a justified false positive carries an inline `# nosec BXXX` after its reason)
#   pip-audit  the pins of requirements.txt, requirements-dev.txt and dbt_container/requirements.lock
#              (--no-deps: exactly the pinned versions; the lock holds every package of the dbt image),
#              against PyPI's vulnerability data
#   checkov    dbt_container/Dockerfile (the template is checked by `make lint`)
#
# pip-audit needs PyPI's JSON API. When it can't be reached (an offline CI, a mirror that serves
# only the package index) pip-audit itself reports "No known vulnerabilities found" with every pin
# skipped; this script reads its JSON instead and prints
#     pip-audit: NOT AUDITED: <reason>
# and fails, unless ALLOW_UNAUDITED=1, which keeps that line and goes on. A known vulnerability
# always fails. Every step runs; the exit code is non-zero if any step failed.
#
# Environment: TOOLS (default .venv-tools/bin), ALLOW_UNAUDITED (default 0).
set -euo pipefail

cd "$(dirname "$0")/.."
TOOLS="${TOOLS:-.venv-tools/bin}"
ALLOW_UNAUDITED="${ALLOW_UNAUDITED:-0}"
# One pip-audit per environment: the app's (its requirements with the dev ones) and the dbt image's (its
# lock). pip-audit refuses two pins of one package in one audit, and the two environments may pin the
# same package at different versions (filelock, for one).
AUDITED_ENVIRONMENTS=("requirements.txt requirements-dev.txt" "dbt_container/requirements.lock")
BANDIT_PATHS=(app.py chalicelib contracts deploy infra local dbt_container ops scripts)
failed=()

for tool in bandit pip-audit checkov python; do
    if [[ ! -x "$TOOLS/$tool" ]]; then
        echo "security scan: $TOOLS/$tool not found: run \`make install\` (or set TOOLS)" >&2
        exit 2
    fi
done

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

echo "== bandit: ${BANDIT_PATHS[*]} (medium and high severity)"
if "$TOOLS/bandit" --quiet --recursive --severity-level medium \
    --exclude dbt_container/project/target,dbt_container/project/dbt_packages \
    "${BANDIT_PATHS[@]}"; then
    echo "bandit: OK: no medium or high severity finding"
else
    echo "bandit: FAILED (each finding above needs a fix or an inline '# <reason>  # nosec BXXX')"
    failed+=(bandit)
fi

echo "== pip-audit: ${AUDITED_ENVIRONMENTS[*]}"
audits=()
audit=0
for set in "${AUDITED_ENVIRONMENTS[@]}"; do
    audit=$((audit + 1))
    audit_args=()
    for file in $set; do
        if [[ "$file" == *.lock ]]; then
            # pip-audit wants hashes on every file once one has them: audit the lock's pins without them.
            unhashed="$workdir/$(basename "$file").txt"
            "$TOOLS/python" -c 'import re, sys; print(re.sub(r"\\\n\s*--hash=\S+", "", open(sys.argv[1]).read()).replace(" \\\n", "\n"))' \
                "$file" >"$unhashed"
            file="$unhashed"
        fi
        audit_args+=(--requirement "$file")
    done
    audit_rc=0
    "$TOOLS/pip-audit" --no-deps --disable-pip --progress-spinner off --timeout 20 \
        --format json --output "$workdir/audit-$audit.json" "${audit_args[@]}" \
        >"$workdir/audit-$audit.out" 2>"$workdir/audit-$audit.err" || audit_rc=$?
    audits+=("$set" "$workdir/audit-$audit.json" "$workdir/audit-$audit.err" "$audit_rc")
done
verdict=0
"$TOOLS/python" - "${audits[@]}" <<'PY' || verdict=$?
import json
import sys
from pathlib import Path

# (requirement files, report, stderr, exit code) for each environment's audit
runs = [sys.argv[i : i + 4] for i in range(1, len(sys.argv), 4)]
dependencies = []
for files, report_path, err_path, rc in runs:
    stderr = [line for line in Path(err_path).read_text(errors="replace").splitlines() if line.strip()]
    try:
        found = json.loads(Path(report_path).read_text())["dependencies"]
    except (OSError, ValueError, KeyError, TypeError):
        reason = stderr[-1] if stderr else f"pip-audit exited {rc} without a report"
        print(f"pip-audit: NOT AUDITED ({files}): {reason}")
        sys.exit(3)
    if int(rc) != 0 and not any(d.get("vulns") for d in found):
        print(f"pip-audit: NOT AUDITED ({files}): pip-audit exited {rc}: {stderr[-1] if stderr else 'no detail'}")
        sys.exit(3)
    dependencies.extend(found)
vulnerable = [d for d in dependencies if d.get("vulns")]
skipped = [d for d in dependencies if "skip_reason" in d]
for dep in vulnerable:
    for vuln in dep["vulns"]:
        fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version"
        print(f"pip-audit: VULNERABLE: {dep['name']}=={dep.get('version')} {vuln['id']} (fixed in: {fixes})")
if vulnerable:
    sys.exit(1)
audited = len(dependencies) - len(skipped)
if skipped:
    names = ", ".join(d["name"] for d in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
    print(
        f"pip-audit: NOT AUDITED: {len(skipped)} of {len(dependencies)} pins could not be checked "
        f"({names}): {skipped[0]['skip_reason']}"
    )
    if audited:
        print(f"pip-audit: {audited} pins audited, no known vulnerability among them")
    sys.exit(3)
print(f"pip-audit: OK: {audited} pins audited, no known vulnerabilities")
PY
case "$verdict" in
    0) ;;
    3)
        if [[ "$ALLOW_UNAUDITED" == "1" ]]; then
            echo "pip-audit: continuing because ALLOW_UNAUDITED=1: the pins above were NOT audited"
        else
            echo "pip-audit: FAILED: set ALLOW_UNAUDITED=1 to go on without the audit"
            failed+=(pip-audit)
        fi
        ;;
    *) failed+=(pip-audit) ;;
esac

echo "== checkov: dbt_container/Dockerfile"
if "$TOOLS/checkov" --file dbt_container/Dockerfile --framework dockerfile --quiet --compact \
    --skip-download; then
    echo "checkov: OK: dbt_container/Dockerfile"
else
    failed+=(checkov)
fi

if ((${#failed[@]})); then
    echo "security scan: FAILED: ${failed[*]}"
    exit 1
fi
echo "security scan: OK"
