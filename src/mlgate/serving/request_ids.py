"""Request ids the gateway issues, and the headers a client may send about itself.

Every answer carries an id the gateway made (`RequestIds.new`): 40 hex digits,
a random part and a signature of it with a key the deployment's processes share
(`mlgate.state.keys`). `/feedback` takes labels only for ids that carry a valid
signature, so a label names a request some worker of this gateway answered, never
one a client made up, and never several requests at once. The random part ends with
the request's row count (signed with it), so a label for a row the request did not
have is refused without any shared memory of what was answered. A client's own
x-request-id is kept beside it in the prediction log, for tracing; it is never the
request's id. The routing key (x-mlgate-key) and the client's id are checked here:
at most `ID_CHARS` printable ASCII characters.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
from dataclasses import dataclass

from mlgate.errors import InputError
from mlgate.serving.limits import ID_CHARS

__all__ = ["MANY_ROWS", "Caller", "RequestIds", "client_request_id", "routing_key"]

#: Bytes of an id's random part and row count (72 random bits: ids never collide in
#: practice), and of its signature (64 bits: a forger has to try about 2**63 ids per
#: label that counts).
_NONCE, _TAG = 12, 8
#: Bytes of the row count at the end of the random part; its largest value stands for
#: "too many to say" (a batch run's millions of rows).
_ROWS = 3
_MANY = (1 << (8 * _ROWS)) - 1
#: The row count `RequestIds.rows` gives for an id that says "too many to say".
MANY_ROWS = 1 << 62


class _Nonces:
    """Unguessable random parts without a system call per id.

    os.urandom is a system call, and a slow one in sandboxed containers (hundreds
    of microseconds under gVisor): a keyed BLAKE2b of a counter is as unguessable
    without the key, which comes from os.urandom once per process.
    """

    def __init__(self) -> None:
        self.rekey()

    def rekey(self) -> None:
        self._key = os.urandom(32)
        self._count = itertools.count()

    def __call__(self) -> bytes:
        return hashlib.blake2b(
            next(self._count).to_bytes(8, "big"), key=self._key, digest_size=_NONCE
        ).digest()


_nonce = _Nonces()
os.register_at_fork(after_in_child=_nonce.rekey)  # a forked worker: its own random parts


class RequestIds:
    """Issues request ids signed with `key`, and tells them from any other."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def new(self, rows: int | None = None) -> str:
        """A new request id for a request of `rows` rows (None: too many to say): 40
        lowercase hex digits."""
        count = _MANY if rows is None or not 0 <= rows < _MANY else rows
        nonce = _nonce()[: _NONCE - _ROWS] + count.to_bytes(_ROWS, "big")
        return (nonce + self._sign(nonce)).hex()

    def issued(self, request_id: str) -> bool:
        """Whether `request_id` is one this gateway (any of its processes) issued."""
        return self.rows(request_id) is not None

    def rows(self, request_id: str) -> int | None:
        """The row count of the request `request_id` names (a very large number when the
        id does not say), or None when this gateway never issued it."""
        if len(request_id) != 2 * (_NONCE + _TAG) or not request_id.isascii():
            return None
        try:
            raw = bytes.fromhex(request_id)
        except ValueError:
            return None
        if raw.hex() != request_id:  # fromhex also reads spaces and capitals
            return None
        if not hmac.compare_digest(raw[_NONCE:], self._sign(raw[:_NONCE])):
            return None
        count = int.from_bytes(raw[_NONCE - _ROWS : _NONCE], "big")
        return count if count != _MANY else MANY_ROWS

    def _sign(self, nonce: bytes) -> bytes:
        return hashlib.blake2b(nonce, key=self._key, digest_size=_TAG).digest()


@dataclass(frozen=True, slots=True)
class Caller:
    """What a prediction request says beside its body: its routing key and the client's
    own request id (both checked, see `request_ids`), and its body's size in bytes."""

    key: str | None = None
    client_id: str | None = None
    size: int = 0


def routing_key(given: str | None) -> str | None:
    """The request's routing key (x-mlgate-key), checked; None when it has none."""
    return _checked("x-mlgate-key", given, "a user or session id")


def client_request_id(given: str | None) -> str | None:
    """The client's own request id (x-request-id), checked; None when it sent none."""
    return _checked("x-request-id", given, "your own id for this request")


def _checked(header: str, given: str | None, what: str) -> str | None:
    """`given` when it is fit to route by, log and show back: printable ASCII (HTTP headers
    carry bytes, and others would come back as different text), at most ID_CHARS long."""
    if not given:
        return None
    if len(given) <= ID_CHARS and given.isascii() and given.isprintable():
        return given
    shown = ascii(given[:40]) + ("..." if len(given) > 40 else "")  # a header's bytes
    raise InputError(
        f"the {header} header must be {what}, 1 to {ID_CHARS} printable ASCII characters; "
        f"got {len(given)} bytes: {shown}",
        status=400,
        code="bad_header",
    )
