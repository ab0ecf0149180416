"""What ``route_request`` accepts as its path, headers, user agent and client address.

Each argument ends up on the wire to an upstream (the request target, header lines,
``User-Agent``, ``X-Forwarded-For``), so each is checked here, before anything runs, and a
bad one is an :class:`~otel_agents._errors.InvalidTypeError` or
:class:`~otel_agents._errors.InvalidValueError` naming the argument, the bad value (a
header's value is never shown, a path's token-like parameters are masked) and what to
pass, never a bare
``UnicodeEncodeError`` or ``AttributeError`` from deep inside, nor a silent substitute:

* ``path``: a string, without CR, LF or NUL (``urlsplit`` would silently drop CR and LF);
  a full URL must be ``http(s)`` with an ASCII host. Its query is percent-encoded the way a
  browser does it: non-ASCII text as UTF-8 (``?name=李`` is sent as ``?name=%E6%9D%8E``),
  and a space, ``"``, ``<``, ``>`` and control characters too; what is already
  percent-encoded stays as it is.
* ``headers``: names are HTTP tokens; values have no CR, LF or NUL and are latin-1 text (the
  only text a header carries; encode other text yourself, e.g. percent-encoding).
* ``user_agent`` and ``client_ip``: strings, with the same rules as a header value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit

from otel_agents._errors import invalid_type, invalid_value
from otel_agents.gateway._history import redact_target
from otel_agents.gateway._models import Headers, HeadersInput

__all__ = ["browser_query", "header_lines", "line_text", "split_path"]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BREAKS = re.compile(r"[\r\n\0]")
#: Printable ASCII a browser leaves as is in a query (all but space, ``"``, ``<``, ``>``;
#: ``#`` cannot occur there, ``%`` keeps what is already encoded).
_QUERY_SAFE = "!$%&'()*+,-./:;=?@[\\]^_`{|}~"


def split_path(path: Any) -> SplitResult:
    """``path`` (a path, or an http(s) URL) split, once checked."""
    if not isinstance(path, str) or not path:
        raise invalid_type("path", path, "a path such as '/v1/users'")
    if _BREAKS.search(path):
        raise invalid_value("path", _shown(path), "a path without CR, LF or NUL characters")
    parts = urlsplit(path)
    if parts.scheme and parts.scheme not in ("http", "https"):
        raise invalid_value("path", "<redacted>", "a path or an http(s) URL")
    if not parts.netloc.isascii():
        raise invalid_value(
            "path", _shown(path), "an http(s) URL whose host is ASCII (IDNA-encode it), or a path"
        )
    return parts


def _shown(path: str) -> str:
    """``path`` as an error may show it: token-like parameters and credentials masked, as
    in the request history (a query may carry a token)."""
    return redact_target(_BREAKS.sub(" ", path))


def browser_query(query: str) -> str:
    """``query`` percent-encoded as a browser sends it (see the module docstring)."""
    if query.isascii() and query.isprintable() and not any(c in query for c in ' "<>'):
        return query  # the usual case: nothing to encode
    return quote(query, safe=_QUERY_SAFE)


def header_lines(headers: HeadersInput | None) -> list[tuple[bytes, bytes]]:
    """``headers`` as raw (lower-case name, value) lines, each checked."""
    if not headers:
        return []
    if isinstance(headers, Headers):
        pairs = headers.multi_items()
    elif isinstance(headers, Mapping):
        pairs = list(headers.items())
    elif isinstance(headers, list | tuple) and all(
        isinstance(p, tuple) and len(p) == 2 for p in headers
    ):
        pairs = list(headers)  # (name, value) lines: a header may repeat
    else:
        raise invalid_type(
            "headers", headers, "a mapping of header names to values, or (name, value) pairs"
        )
    lines: list[tuple[bytes, bytes]] = []
    for name, value in pairs:
        if not isinstance(name, str):
            raise invalid_type("headers", name, "header names as strings, such as 'X-Request-Id'")
        if not _TOKEN.fullmatch(name):
            raise invalid_value(
                "headers", name, "header names that are HTTP tokens (letters, digits, '-' ...)"
            )
        text = value if isinstance(value, str) else str(value)
        lines.append((name.lower().encode("ascii"), _encoded(f"headers[{name!r}]", text, None)))
    return lines


def line_text(parameter: str, value: Any, expected: str) -> bytes:
    """``user_agent`` or ``client_ip`` as the latin-1 bytes of a header value."""
    if not isinstance(value, str):
        raise invalid_type(parameter, value, expected)
    return _encoded(parameter, value, expected)


def _encoded(parameter: str, text: str, expected: str | None) -> bytes:
    """``text`` as a header value: no CR, LF or NUL (it would end the line and start another
    header, or a second request that bypassed routing, auth and rate limits), latin-1.
    ``expected`` ``None``: a header's value, never shown."""
    shown: Any = text if expected is not None else "<redacted>"
    what = expected if expected is not None else "header values"
    bad = _BREAKS.search(text)
    if bad is not None:
        raise invalid_value(parameter, shown, f"{what}, without CR, LF or NUL characters")
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise invalid_value(
            parameter,
            shown,
            f"{what}, in latin-1 characters (the first other one is {text[exc.start]!r} at "
            f"index {exc.start}); percent-encode other text",
        ) from None
