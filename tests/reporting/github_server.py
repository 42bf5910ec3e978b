"""A stand-in for GitHub's issue-comment API on 127.0.0.1, answering like the real endpoints.

It keeps comments in memory, paginates with Link headers, checks the bearer
token and the API headers, refuses bodies over 65 536 characters with 422,
and can be told to answer the next requests with any status.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "ghs_S3cr3tT0kenThatMustNeverLeak0123456789"
REPOSITORY = "acme/churn"
PR = 7
BOT = {"login": "github-actions[bot]", "type": "Bot"}

_LIST = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
_ONE = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")


@dataclass
class Failure:
    """An answer to give instead of the real one; `commit` still does the request first."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "Server Error"
    commit: bool = False
    method: str | None = None  # only a request with this method gets it


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class FakeGitHub:
    """GitHub's comment endpoints for one repository, on a free port of 127.0.0.1."""

    def __init__(
        self, *, token: str = TOKEN, repository: str = REPOSITORY, prs: tuple[int, ...] = (PR,)
    ) -> None:
        self.token = token
        self.repository = repository
        self.comments: dict[int, list[dict[str, Any]]] = {pr: [] for pr in prs}
        self.failures: list[Failure] = []
        self.requests: list[Seen] = []
        self.link_base: str | None = None
        self._next_id = 1000
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))
        self._thread.daemon = True

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeGitHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def add_comment(self, body: str, *, pr: int = PR, user: str = "alice") -> dict[str, Any]:
        """A comment someone else wrote."""
        return self._store(pr, body, {"login": user, "type": "User"})

    def fail(self, status: int, *, times: int = 1, **options: Any) -> None:
        """Answer the next `times` requests (of `method=`, if given) with `status`."""
        self.failures.extend(Failure(status, **options) for _ in range(times))

    def bodies(self, pr: int = PR) -> list[str]:
        return [c["body"] for c in self.comments[pr]]

    def _store(self, pr: int, body: str, user: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self._next_id += 1
            comment = {
                "id": self._next_id,
                "body": body,
                "user": dict(user),
                "html_url": f"https://github.com/{self.repository}/pull/{pr}"
                f"#issuecomment-{self._next_id}",
            }
            self.comments[pr].append(comment)
            return comment

    # --- the endpoints: each returns (status, payload, extra headers) ---

    def answer(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        listing, one = _LIST.match(path), _ONE.match(path)
        if listing and listing[1] == self.repository and int(listing[2]) in self.comments:
            pr = int(listing[2])
            if method == "GET":
                return self._page(path, pr, query)
            if method == "POST":
                problem = _invalid(body)
                if problem:
                    return 422, {"message": "Validation Failed", "errors": [problem]}, {}
                return 201, self._store(pr, body["body"], BOT), {}
        if one and one[1] == self.repository and method == "PATCH":
            for comment in (c for cs in self.comments.values() for c in cs):
                if comment["id"] == int(one[2]):
                    problem = _invalid(body)
                    if problem:
                        return 422, {"message": "Validation Failed", "errors": [problem]}, {}
                    comment["body"] = body["body"]
                    return 200, comment, {}
        return 404, {"message": "Not Found"}, {}

    def _page(
        self, path: str, pr: int, query: dict[str, list[str]]
    ) -> tuple[int, Any, dict[str, str]]:
        per_page = min(100, int(query.get("per_page", ["30"])[0]))
        page = max(1, int(query.get("page", ["1"])[0]))
        comments = self.comments[pr]
        last = max(1, -(-len(comments) // per_page))
        base = (self.link_base or self.url) + path
        links = []
        if page < last:
            links.append(f'<{base}?per_page={per_page}&page={page + 1}>; rel="next"')
            links.append(f'<{base}?per_page={per_page}&page={last}>; rel="last"')
        if page > 1:
            links.append(f'<{base}?per_page={per_page}&page={page - 1}>; rel="prev"')
            links.append(f'<{base}?per_page={per_page}&page=1>; rel="first"')
        shown = comments[(page - 1) * per_page : page * per_page]
        return 200, shown, {"Link": ", ".join(links)} if links else {}


def _invalid(body: Any) -> dict[str, str] | None:
    if not isinstance(body, dict) or not isinstance(body.get("body"), str):
        return {"resource": "IssueComment", "code": "missing_field", "field": "body"}
    if len(body["body"]) > 65536:
        return {"message": "Body is too long (maximum is 65536 characters)"}
    return None


def _handler(github: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 5  # a stuck client cannot hold a server thread for long
        disable_nagle_algorithm = True  # headers and body go out in two writes

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PATCH(self) -> None:
            self._serve()

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            github.requests.append(Seen(self.command, parts.path, query, headers))
            if self.headers.get("Authorization") != f"Bearer {github.token}":
                return self._send(401, {"message": "Bad credentials"}, {})
            if (
                self.headers.get("Accept") != "application/vnd.github+json"
                or self.headers.get("X-GitHub-Api-Version") != "2022-11-28"
                or not self.headers.get("User-Agent")
            ):
                return self._send(400, {"message": "missing API headers"}, {})
            body = json.loads(raw) if raw else None
            failure = next((f for f in github.failures if f.method in (None, self.command)), None)
            if failure is not None:
                github.failures.remove(failure)
                if failure.commit:
                    github.answer(self.command, parts.path, query, body)
                return self._send(failure.status, {"message": failure.message}, failure.headers)
            self._send(*github.answer(self.command, parts.path, query, body))

        def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler
