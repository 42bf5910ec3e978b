"""`mlgate smoke` against a real `mlgate serve` on 127.0.0.1: what a deploy job ends with."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pandas as pd
import yaml
from typer.testing import CliRunner

from mlgate.cli import app

from .support import Gateway, start_gateway


def smoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["smoke", *map(str, args)])
    return result.exit_code, " ".join(result.output.split())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_smoke_passes_on_a_serving_gateway_and_fails_on_what_it_refuses(
    project: Path, gateways: list[Gateway], tmp_path: Path
) -> None:
    gateway = start_gateway(project)
    gateways.append(gateway)
    code, said = smoke(gateway.url, "-c", project, "--rows", "12")
    assert code == 0, said
    assert said.startswith(f"{gateway.url}: ready; 12 of 12 row(s) answered (version 1: 12); p50 ")
    assert said.endswith("PASSED")
    code, as_json = smoke(gateway.url, "-c", project, "--rows", "3", "--json")
    assert code == 0
    assert json.loads(as_json) | {"p50_ms": None, "max_ms": None} == {
        "url": gateway.url,
        "ready": True,
        "rows": 3,
        "answered": 3,
        "versions": {"1": 3},
        "p50_ms": None,
        "max_ms": None,
        "failures": [],
        "passed": True,
    }

    # A project whose data no longer matches what is served: every row refused, said so.
    doc = yaml.safe_load(project.read_text(encoding="utf-8"))
    frame = pd.read_csv(project.parent / doc["data"]["train"])
    feature = next(c for c in frame.columns if c != doc["data"]["target"])
    frame.rename(columns={feature: "renamed"}).to_csv(tmp_path / "renamed.csv", index=False)
    doc["data"]["test"] = str(tmp_path / "renamed.csv")
    doc["data"].pop("split", None)
    project.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    code, said = smoke(gateway.url, "-c", project, "--rows", "2")
    assert code == 1, said
    assert f"{gateway.url}: ready; 0 of 2 row(s) answered" in said
    assert "✗ row 0: 4" in said
    assert "renamed" in said
    assert said.endswith("FAILED")


def test_smoke_fails_when_nothing_answers_and_refuses_a_non_http_url(project: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, said = smoke(url, "-c", project, "--timeout", "2")
    assert code == 1, said
    assert said.startswith(
        f"{url}: NOT ready; 0 of 20 row(s) answered ✗ the gateway did not answer: ConnectError"
    )
    code, said = smoke("ftp://127.0.0.1/x", "-c", project)
    assert code == 2
    assert said == (
        "error: 'ftp://127.0.0.1/x' is not an http(s) URL. Pass the gateway's address, e.g. "
        "https://models.example.com or http://127.0.0.1:8000."
    )
