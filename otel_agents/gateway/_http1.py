"""Strict HTTP/1.1 response framing (RFC 9112) for the upstream client.

The gateway reuses upstream connections, so a response whose length two parties could read
differently (``Content-Length: 1_0``, ``+5``, two different lengths, ``Transfer-Encoding``
together with ``Content-Length``, ``Transfer-Encoding: xchunked``) would desynchronise the
pooled connection: the next request on it would get the tail of this answer. Everything
here accepts exactly what RFC 9112 allows and raises :class:`UpstreamProtocolError`
(answered ``502``, the connection closed) for the rest:

* status line ``HTTP/1.0`` or ``HTTP/1.1``, a three-digit status (§4), never ``101``
  (the gateway strips ``Upgrade``, so a protocol switch was never requested);
* field names are tokens with no whitespace before the colon (§5.1); no obs-fold line
  continuations (§5.2); no CR, LF or NUL in a value (§5.5);
* ``Content-Length`` is ``1*DIGIT``; repeated values (in one field or several) must agree
  (§6.3, item 5);
* ``Transfer-Encoding`` with ``Content-Length`` is an error ("ought to be handled as an
  error", §6.3 item 3), as is ``Transfer-Encoding`` in an HTTP/1.0 response (§6.1); the
  only coding accepted is a single ``chunked`` (another one would have to be decoded, since
  ``Transfer-Encoding`` is hop-by-hop and stripped, and ``chunked`` twice is forbidden);
* a chunk size is ``1*HEXDIG`` (optionally ``;extensions``) and chunk data ends in CRLF
  (§7.1).

The other way, :func:`check_request_head` makes sure the gateway only ever writes a valid
request head upstream (the method a token, the target without whitespace or controls, each
field name a token, no CR, LF or NUL in a value), whatever path a header came in by: a CR/LF
in a value would end it and let the rest be read as more headers or a second request that
bypassed routing, auth and rate limits.
"""

from __future__ import annotations

import re

from otel_agents._runtime import BoundedCache
from otel_agents.gateway._errors import InvalidRequestHeadError, UpstreamProtocolError

__all__ = ["ResponseHead", "check_request_head", "parse_chunk_size", "parse_response_head"]

Headers = list[tuple[bytes, bytes]]

_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: [^\x00-\x08\x0a-\x1f\x7f]*)?")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_DIGITS = re.compile(rb"[0-9]+")
_BAD_VALUE = re.compile(rb"[\x00\r\n]")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?\r\n")
#: A request line as the gateway writes it (RFC 9112 §3): a token method, a target without
#: whitespace or control characters, HTTP/1.1.
_REQUEST_LINE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [^\x00-\x20\x7f]+ HTTP/1\.1\r\n")
#: Header names already found to be tokens: names repeat, so most checks are one lookup.
_GOOD_NAMES: BoundedCache[bytes, bool] = BoundedCache(4096)
#: Far more than any real body; longer digit strings are refused before int() sees them.
_MAX_LENGTH_DIGITS = 18


class ResponseHead:
    """A parsed response head and how its body is framed."""

    __slots__ = ("chunked", "headers", "keep_alive", "length", "status")

    def __init__(
        self,
        status: int,
        headers: Headers,
        length: int | None,
        chunked: bool,
        keep_alive: bool,
    ) -> None:
        self.status = status
        self.headers = headers
        #: ``None``: chunked, or read to the end of the connection.
        self.length = length
        self.chunked = chunked
        self.keep_alive = keep_alive


def _fail(what: str) -> UpstreamProtocolError:
    return UpstreamProtocolError(f"the upstream sent {what}")


def length_items(value: bytes) -> list[bytes] | None:
    """The lengths one ``Content-Length`` field value lists (``5`` or ``5, 5``), without
    leading zeros, or ``None`` when one is not 1 to 18 digits (RFC 9110 8.6)."""
    items = []
    for item in value.split(b","):
        item = item.strip(b" \t")
        if _DIGITS.fullmatch(item) is None or len(item) > _MAX_LENGTH_DIGITS:
            return None
        items.append(item.lstrip(b"0") or b"0")
    return items


def parse_response_head(raw: bytes) -> ResponseHead:
    """Parse ``raw`` (the status line and fields, ending with the blank line)."""
    lines = raw[:-4].split(b"\r\n")
    status_line = _STATUS_LINE.fullmatch(lines[0])
    if status_line is None:
        raise _fail("an invalid status line")
    http11 = status_line.group(1) == b"1"
    status = int(status_line.group(2))
    if status == 101:
        # The gateway strips Upgrade, so a switch was never asked for (RFC 9110 §15.2.2);
        # whatever follows on this connection is not HTTP/1.1 any more.
        raise _fail("101 Switching Protocols that was not asked for")
    headers: Headers = []
    lengths: set[bytes] = set()
    codings: list[bytes] = []
    has_te = False
    keep_alive = http11
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or _TOKEN.fullmatch(name) is None:
            raise _fail("an invalid header line")  # also obs-fold and "Name :" (§5.1-5.2)
        value = value.strip(b" \t")
        if _BAD_VALUE.search(value):
            raise _fail("a header value with CR, LF or NUL")
        name = name.lower()
        if name == b"content-length":
            items = length_items(value)
            if items is None:
                raise _fail("an invalid Content-Length")
            lengths.update(items)
        elif name == b"transfer-encoding":
            has_te = True
            for item in value.split(b","):
                item = item.strip(b" \t").lower()
                if item:
                    codings.append(item.split(b";", 1)[0].strip(b" \t"))
        elif name == b"connection":
            tokens = {t.strip(b" \t") for t in value.lower().split(b",")}
            if b"close" in tokens:
                keep_alive = False
            elif b"keep-alive" in tokens:
                keep_alive = True
        headers.append((name, value))
    if len(lengths) > 1:
        raise _fail("conflicting Content-Length values")
    length = int(next(iter(lengths))) if lengths else None
    if not has_te:
        return ResponseHead(status, headers, length, False, keep_alive)
    if lengths:
        raise _fail("both Transfer-Encoding and Content-Length")
    if not http11:
        raise _fail("Transfer-Encoding in an HTTP/1.0 response")
    if codings != [b"chunked"]:
        # RFC 9112 would read another coding to the end of the connection, but the gateway
        # strips Transfer-Encoding (hop-by-hop) and cannot decode it: refused instead.
        raise _fail("a Transfer-Encoding other than a single chunked")
    return ResponseHead(status, headers, None, True, keep_alive)


def parse_chunk_size(line: bytes) -> int:
    """The size of the chunk whose size line (ending in CRLF) is ``line``."""
    match = _CHUNK_SIZE.fullmatch(line)
    if match is None or len(match.group(1)) > 16:
        raise _fail("an invalid chunk size")
    return int(match.group(1), 16)


def check_request_head(head: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    """``head`` (request line, one line per header of ``headers``, blank line) if it is
    one valid HTTP/1.1 request head; raises :class:`InvalidRequestHeadError` otherwise
    (without showing it: a header may hold a credential).

    Every header name must be a token; a CR or LF anywhere but at the end of a line shows
    as one too many (``a\r\nX-Injected: 1`` as a value makes a well-formed head, one line
    longer than the headers written); a NUL is refused anywhere; the request line is a
    token method, a target without whitespace or control characters, and HTTP/1.1. Cheap
    on the hot path (measured against a join and scans, a regex over the head, and checks
    per value): two byte counts, one scan, one lookup per known name.
    """
    lines = len(headers) + 2
    for name, _ in headers:
        if name not in _GOOD_NAMES:
            if _TOKEN.fullmatch(name) is None:
                raise _refused()
            _GOOD_NAMES.put(name, True)
    if (
        head.count(b"\n") != lines
        or head.count(b"\r") != lines
        or b"\0" in head
        or _REQUEST_LINE.match(head) is None
    ):
        raise _refused()
    return head


def _refused() -> InvalidRequestHeadError:
    return InvalidRequestHeadError(
        "the request cannot be forwarded: a header name is not an HTTP token, or the "
        "method, target, a header name or value holds CR, LF, NUL or (method, target) "
        "whitespace; send header values without line breaks"
    )
