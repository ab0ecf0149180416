"""W3C Trace Context (https://www.w3.org/TR/trace-context/) as the gateway forwards it.

The gateway never passes a caller's trace headers through raw. With telemetry on, the
upstream gets the gateway's own CLIENT span context (``traceparent``, plus the caller's
``tracestate`` when the SDK accepted it). With telemetry off, the caller's headers are
forwarded only when valid: one well-formed ``traceparent`` (version not ``ff``, trace and
parent ids not all zeros, nothing after the flags for version ``00``), and ``tracestate``
only alongside such a ``traceparent`` and only when it is itself valid: at most 32
list-members of ``key=value`` in the spec's grammar, no key twice, at most 512 characters
in all (the length the spec asks vendors to propagate). Anything else is dropped: a
``tracestate`` without a valid ``traceparent`` means nothing to the upstream (the spec says
not to propagate it), and an over-long or malformed one must not reach it raw.
"""

from __future__ import annotations

import re

__all__ = ["MAX_TRACESTATE_LENGTH", "valid_traceparent", "valid_tracestate"]

#: The combined ``tracestate`` length the gateway forwards at most, in characters.
MAX_TRACESTATE_LENGTH = 512
_MAX_MEMBERS = 32

_TRACEPARENT = re.compile(
    rb"(?P<version>[0-9a-f]{2})-(?P<trace>[0-9a-f]{32})-(?P<parent>[0-9a-f]{16})"
    rb"-(?P<flags>[0-9a-f]{2})(?P<rest>-.*)?"
)
_KEY = rb"(?:[a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})"
_VALUE = rb"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
_MEMBER = re.compile(rb"(" + _KEY + rb")=" + _VALUE)


def valid_traceparent(value: bytes) -> bool:
    """Whether ``value`` is a ``traceparent`` the upstream may be given."""
    match = _TRACEPARENT.fullmatch(value.strip(b" \t"))
    if match is None:
        return False
    version = match["version"]
    if version == b"ff" or (version == b"00" and match["rest"] is not None):
        return False
    return match["trace"] != b"0" * 32 and match["parent"] != b"0" * 16


def valid_tracestate(value: bytes) -> bool:
    """Whether a combined ``tracestate`` (lines joined by ``,``) may be forwarded."""
    if len(value) > MAX_TRACESTATE_LENGTH:
        return False
    keys: set[bytes] = set()
    for member in value.split(b","):
        member = member.strip(b" \t")
        if not member:
            continue  # empty list-members are allowed
        match = _MEMBER.fullmatch(member)
        if match is None or match[1] in keys:
            return False
        keys.add(match[1])
    return len(keys) <= _MAX_MEMBERS
