"""The client host's load: keyed single-row requests through the load balancer.

    python fleet_client.py URL ROWS.json OUT.jsonl --stop STOPFILE [--threads N]
        [--pause SECONDS] [--max-seconds S]

Each thread sends `POST URL/predict` with `x-mlgate-key: user-K` (K drawn from 500
keys, so keys repeat across replicas and steps) on a kept-alive connection, and
appends one JSON line per request to OUT: when it was sent, the key, the status
(0 for a transport error), and for a 200 the request id and the version that
answered. It stops when STOPFILE exists or after S seconds: the load is bounded.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from pathlib import Path

import httpx


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("rows", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--stop", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=3)
    parser.add_argument("--pause", type=float, default=0.02)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    args = parser.parse_args()
    rows = json.loads(args.rows.read_text(encoding="utf-8"))
    deadline = time.monotonic() + args.max_seconds
    writing = threading.Lock()

    def send(seed: int) -> None:
        chooser = random.Random(seed)
        with (
            httpx.Client(base_url=args.url, timeout=20) as client,
            args.out.open("a", encoding="utf-8") as out,
        ):
            while time.monotonic() < deadline and not args.stop.exists():
                key = f"user-{chooser.randrange(500)}"
                record: dict[str, object] = {"at": time.time(), "key": key}
                try:
                    response = client.post(
                        "/predict",
                        json={"instances": [rows[chooser.randrange(len(rows))]]},
                        headers={"x-mlgate-key": key},
                    )
                except httpx.TransportError as e:
                    record |= {"status": 0, "error": type(e).__name__}
                else:
                    record["status"] = response.status_code
                    if response.status_code == 200:
                        body = response.json()
                        record |= {"id": body["request_id"], "version": body["version"]}
                    else:
                        record["error"] = response.text[:300]
                with writing:
                    out.write(json.dumps(record) + "\n")
                    out.flush()
                time.sleep(args.pause)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
