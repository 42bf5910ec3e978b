"""Every command of the README's tutorial runs, in order, in a fresh folder."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _tutorial() -> str:
    text = README.read_text(encoding="utf-8")
    block = re.search(
        r"<!-- tutorial:start -->\s*```bash\n(.*?)```\s*<!-- tutorial:end -->", text, re.S
    )
    assert block, "the README lost its tutorial markers"
    return block.group(1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_tutorial_runs(tmp_path: Path) -> None:
    port = str(_free_port())
    commands = _tutorial().replace("8181", port)
    script = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + commands
    bin_dir = str(Path(sys.executable).parent)
    env = os.environ | {"PATH": f"{bin_dir}:{os.environ['PATH']}", "MLGATE_ACTOR": "readme"}
    env.pop("MLGATE_ADMIN_TOKEN", None)
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=900, env=env
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "registered models:/credit-risk/1 as champion" in done.stdout
    assert "6 passed" in done.stdout
    assert "registered models:/credit-risk/2 as challenger" in done.stdout
    assert '"predictions":[' in done.stdout
    assert "canary rollout started at 10%" in done.stdout
    assert '"strategy":"canary"' in done.stdout.replace(" ", "")
    assert "blue-green rollout started at 0%" in done.stdout
    assert "(the pre-switch analysis)" in " ".join(done.stdout.split())
    assert '"points":[' in done.stdout  # the dashboard's figures
    assert "dataset drift" in done.stdout
    assert "# Model card: credit-risk version 2" in done.stdout
    assert "## Permutation importance" in done.stdout
    # Each version the tutorial registers keeps the card written at its registration.
    stored = list(tmp_path.glob("credit-demo/.mlgate/artifacts/*/artifacts/model/model_card.md"))
    assert len(stored) == 2
    for card in stored:
        assert card.read_text(encoding="utf-8").startswith("# Model card: credit-risk, run ")
