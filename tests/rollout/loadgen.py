"""A load generator for the rollout scenarios, run as its own process.

    python loadgen.py URL ROWS.json OUT.json --stop STOPFILE [--max-requests N]
        [--max-seconds S] [--pause SECONDS]

Sends single-row keyed requests (`x-mlgate-key: user-N`, one key per request)
to URL/predict on one kept-alive connection until STOPFILE exists or a bound is
reached, then writes what users saw to OUT.json: counts per status, transport
errors, and for every 200 its request id, the version that answered and when the
answer came (seconds since the first request was sent). Only
127.0.0.1 is accepted.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import httpx


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("rows", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--stop", type=Path, required=True)
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--pause", type=float, default=0.004)
    args = parser.parse_args()
    if urlsplit(args.url).hostname != "127.0.0.1":
        parser.error("the load generator talks to 127.0.0.1 only")
    rows = json.loads(args.rows.read_text(encoding="utf-8"))
    statuses: Counter[int] = Counter()
    transport: Counter[str] = Counter()
    answered: list[tuple[str, str]] = []
    answered_at: list[float] = []
    failures: list[str] = []
    sent = 0
    began = time.monotonic()
    deadline = began + args.max_seconds
    with httpx.Client(base_url=args.url, timeout=10) as client:
        while sent < args.max_requests and time.monotonic() < deadline:
            if sent % 20 == 0 and args.stop.exists():
                break
            row = rows[sent % len(rows)]
            try:
                response = client.post(
                    "/predict", json={"instances": [row]}, headers={"x-mlgate-key": f"user-{sent}"}
                )
            except httpx.TransportError as e:
                transport[type(e).__name__] += 1
            else:
                statuses[response.status_code] += 1
                if response.status_code == 200:
                    body = response.json()
                    answered.append((body["request_id"], body["version"]))
                    answered_at.append(round(time.monotonic() - began, 4))
                elif len(failures) < 20:
                    failures.append(f"{response.status_code}: {response.text[:300]}")
            sent += 1
            time.sleep(args.pause)
    report = {
        "sent": sent,
        "statuses": {str(k): v for k, v in statuses.items()},
        "transport_errors": dict(transport),
        "failures": failures,
        "answered": answered,
        "answered_at": answered_at,
    }
    args.out.write_text(json.dumps(report), encoding="utf-8")


if __name__ == "__main__":
    main()
