"""``python -m local serve``: the state file it writes while it runs, and its clean stop on SIGTERM."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from contracts.state_file import LocalState
from tests.ops.support import ROOT, SCENARIOS, serve_environment, start_serve, stop_serve_process


def test_serve_writes_its_state_file_refuses_a_second_runtime_and_removes_the_file_on_sigterm(
    tmp_path: Path,
) -> None:
    served = start_serve(SCENARIOS / "ops.yaml", tmp_path)
    try:
        written = json.loads(served.state_file.read_text())
        assert set(written) == set(LocalState.__dataclass_fields__)
        assert written["pid"] == served.process.pid
        assert written["group_id"] == "ops_group"
        assert written["webhook_url"].endswith("/webhooks/fivetran")
        assert written["aws_endpoint_url"].startswith("http://127.0.0.1:")
        assert stat.S_IMODE(served.state_file.stat().st_mode) == 0o600
        assert "orchestrator start-run --local --group ops_group --wait" in served.output()

        second = subprocess.run(
            [sys.executable, "-m", "local", "serve", "--state-file", str(served.state_file)],
            cwd=ROOT,
            env=serve_environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert f"a local runtime is already running (pid {served.process.pid}" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        code = stop_serve_process(served.process)

    assert code == 0, served.output()
    assert not served.state_file.exists()
    assert served.output().rstrip().endswith("stopped")
