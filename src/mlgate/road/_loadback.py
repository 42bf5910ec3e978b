"""A saved model's answers from a fresh process that loads it as the gateway does.

The process starts with nothing of this one: not the classes a run imported, not
the folder it ran in (`-P`, and a scratch working directory), so a model that
loads only thanks to them is caught before it is registered as passing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from mlgate.errors import ArtifactError

__all__ = ["ERROR", "LABELS", "ONNX_LABELS", "answers_of"]

#: What the fresh process (mlgate.serving.loadcheck) writes: its answers, or why not.
LABELS, ONNX_LABELS, ERROR = "labels.npy", "onnx.npy", "error.txt"

#: Seconds the fresh process may take to load the model and answer its test rows.
TIMEOUT = 600.0


def answers_of(bundle: Path, *, timeout: float = TIMEOUT) -> tuple[Any, Any | None]:
    """The labels the bundle's model gives its test rows as the gateway serves it, and
    its ONNX export's (None without one). Raises ArtifactError saying why it could not."""
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="mlgate-loadback-") as scratch:
        out = Path(scratch)
        # Absolute: the process runs in the scratch folder, and `mlgate run -o candidate`
        # names its bundle relative to this one's.
        where = str(bundle.resolve())
        command = [sys.executable, "-P", "-m", "mlgate.serving.loadcheck", where, scratch]
        try:
            done = subprocess.run(
                command,
                cwd=scratch,
                env=_environment(),
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as e:
            raise ArtifactError(
                f"loading it and answering its test rows took over {timeout:g} s", path=bundle
            ) from e
        if (out / ERROR).is_file():
            raise ArtifactError((out / ERROR).read_text(encoding="utf-8"), path=bundle)
        if done.returncode != 0 or not (out / LABELS).is_file():
            last = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise ArtifactError(f"the loading process failed: {last[0][:300]}", path=bundle)
        labels = np.load(out / LABELS, allow_pickle=False)
        onnx = out / ONNX_LABELS
        return labels, np.load(onnx, allow_pickle=False) if onnx.is_file() else None


def _environment() -> dict[str, str]:
    """This process's environment, a relative PYTHONPATH made absolute: the gateway is
    started from the project's folder, the fresh process from a scratch one."""
    environment = dict(os.environ)
    entries = environment.get("PYTHONPATH", "")
    if entries:
        environment["PYTHONPATH"] = os.pathsep.join(
            os.path.abspath(entry) for entry in entries.split(os.pathsep) if entry
        )
    return environment
