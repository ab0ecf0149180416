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
* ``headers``: a mapping or (name, value) tuples (a wrong shape is refused by its type and
  the position of the wrong entry, never its values); names are HTTP tokens (a bad one is
  shown only up to its first character that is not a token's); values are strings, or
  numbers sent as their
  ``str()`` (``"X-Count": 5``); ``bytes``, ``None``, a bool or any other object is refused
  (``str(b"k1")`` would send ``b'k1'`` and ``None`` the word ``None``). A value has no CR,
  LF or NUL and is latin-1 text (the only text a header carries; encode other text
  yourself, e.g. percent-encoding).
* ``query_params``: names are strings; a value is a string, an int, a float or a bool (sent
  as its ``str()``), or a list or tuple of those (one ``name=value`` per item, as
  ``urlencode(..., doseq=True)``); anything else (``None``, bytes, a mapping) is refused
  naming the parameter, never sent as ``None`` or ``[1, 2]``.
* ``user_agent`` and ``client_ip``: strings, with the same rules as a header value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit

from otel_agents._errors import InvalidTypeError, invalid_type, invalid_value
from otel_agents.gateway._history import redact_target
from otel_agents.gateway._models import Headers, HeadersInput

__all__ = ["browser_query", "header_lines", "line_text", "query_pairs", "split_path"]

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


def _shape(value: Any) -> str:
    """What an error says of a ``headers``/``query_params`` of the wrong shape: its type and
    its first wrong entry, by position and type, never a value (they carry credentials)."""
    if isinstance(value, list | tuple):
        for index, entry in enumerate(value):
            if not (isinstance(entry, tuple) and len(entry) == 2):
                count = len(entry) if isinstance(entry, list | tuple) else None
                size = "" if count is None else f" of {count} item{'s' * (count != 1)}"
                return (
                    f"got a {type(value).__name__} whose entry {index} is a "
                    f"{type(entry).__name__}{size}, not a (name, value) tuple"
                )
    return f"got type {type(value).__name__}"


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
        raise InvalidTypeError(
            "headers=<redacted> is not valid: expected a mapping of header names to values, "
            f"or a list of (name, value) tuples ({_shape(headers)})"
        )
    lines: list[tuple[bytes, bytes]] = []
    for name, value in pairs:
        if not isinstance(name, str):
            raise invalid_type("headers", name, "header names as strings, such as 'X-Request-Id'")
        if not _TOKEN.fullmatch(name):
            # Shown up to its first character that is not a token's: past it may be a whole
            # header line given as a name ("Authorization: Bearer ...").
            shown = _TOKEN.match(name)
            raise invalid_value(
                "headers",
                (shown.group() if shown else "") + "<redacted>",
                "header names that are HTTP tokens (letters, digits, '-' ...)",
            )
        if type(value) is not str:
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                # Never str(value): b"k1" would be sent as "b'k1'", None as "None". The
                # type only: the value may be a credential.
                raise InvalidTypeError(
                    f"headers[{name!r}]=<redacted> is not valid: expected a string (or a "
                    "number); decode bytes yourself (value.decode('latin-1')) or leave the "
                    f"header out (got type {type(value).__name__})"
                )
            value = str(value)
        lines.append((name.lower().encode("ascii"), _encoded(f"headers[{name!r}]", value, None)))
    return lines


#: Query parameter values sent as their ``str()``.
_QUERY_SCALARS = (str, int, float)  # bool is an int


def query_pairs(query_params: Any) -> list[tuple[str, str]]:
    """``query_params`` as ``(name, value)`` pairs: scalars as text, a list or tuple as one
    pair per item (``doseq``); anything else refused naming the parameter."""
    if not isinstance(query_params, Mapping):
        raise InvalidTypeError(
            "query_params=<redacted> is not valid: expected a mapping of names to values "
            f"(dict(pairs) for a list of pairs) ({_shape(query_params)})"
        )
    pairs: list[tuple[str, str]] = []
    for name, value in query_params.items():
        if not isinstance(name, str):
            raise invalid_type("query_params", name, "parameter names as strings")
        items = value if isinstance(value, list | tuple) else (value,)
        for item in items:
            if not isinstance(item, _QUERY_SCALARS):
                raise InvalidTypeError(
                    f"query_params[{name!r}]=<redacted> is not valid: expected a string, a "
                    "number or a bool, or a list of those (one name=value each); leave the "
                    f"parameter out rather than pass None (got type {type(item).__name__})"
                )
            pairs.append((name, str(item)))
    return pairs


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
