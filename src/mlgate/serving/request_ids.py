"""Request ids: a new one for every answer, or the client's own when it is fit to echo."""

from __future__ import annotations

import hashlib
import itertools
import os

__all__ = ["client_request_id", "new_request_id"]

# The version and variant bits of a UUID4 (RFC 9562), set on 128 random bits.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


class _RequestIds:
    """Request ids as `uuid.uuid4().hex` looks, without a system call per id.

    os.urandom is a system call, and a slow one in sandboxed containers (hundreds
    of microseconds under gVisor): a keyed BLAKE2b of a counter is as unguessable
    without the key, which comes from os.urandom once per process.
    """

    def __init__(self) -> None:
        self.rekey()

    def rekey(self) -> None:
        self._key = os.urandom(32)
        self._count = itertools.count()

    def __call__(self) -> str:
        digest = hashlib.blake2b(
            next(self._count).to_bytes(8, "big"), key=self._key, digest_size=16
        ).digest()
        return f"{int.from_bytes(digest) & _UUID4_CLEAR | _UUID4_SET:032x}"


#: A new request id: 32 hex digits of a random UUID4.
new_request_id = _RequestIds()
os.register_at_fork(after_in_child=new_request_id.rekey)  # a forked worker: its own ids


def client_request_id(given: str | None) -> str | None:
    """A client's x-request-id, when it is fit to log and echo back (printable ASCII: HTTP
    headers carry bytes, and others would come back as different text)."""
    if given and len(given) <= 128 and given.isascii() and given.isprintable():
        return given
    return None
