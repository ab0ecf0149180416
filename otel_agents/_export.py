"""Writing JSON exports atomically, and keeping secrets out of them.

An export is written to a temporary file in the target's folder, flushed to disk and renamed
over the target, so a reader sees the old file or the new one, never half of one. A failed
write raises :class:`~otel_agents._errors.ExportError` and leaves the old file as it was.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import re
import tempfile
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from otel_agents._errors import ExportError, InvalidValueError, invalid_type
from otel_agents._runtime import BoundedCache
from otel_agents._version import __version__

__all__ = [
    "HIDDEN",
    "MASKABLE_IN_URL",
    "REDACTED",
    "checked_http_url",
    "export_envelope",
    "is_secret_key",
    "redact",
    "redact_string",
    "redact_url",
    "redact_value",
    "split_userinfo",
    "write_json_atomic",
]

REDACTED = "[REDACTED]"
#: How a configuration error shows the value of a secret setting.
HIDDEN = "<hidden>"

#: Keys whose values are treated as secrets wherever user mappings are stored or exported
#: (tracker and profiler attributes, exports, the gateway's history, headers and queries).
#: Short names (``otp``, ``pin``, ``ssn``) count only as a whole word (``pin``, ``user_pin``,
#: ``x-otp``, ``userPin``), so that ``shipping`` or ``footprint`` stay readable.
SECRET_KEY_PATTERN = re.compile(
    r"(pass(word|wd)?|pwd|secret|token|api[-_]?key|auth(orization)?|cookie|credential"
    r"|session|private[-_]?key|signature|bearer|jwt"
    r"|signing[-_]?key|export[-_]?key|verification[-_]?keys?|encryption[-_]?key"
    r"|(?<![a-z0-9])(otp|pin|ssn)(?![a-z0-9])"
    r"|(?-i:(?<=[a-z0-9])(Otp|OTP|Pin|PIN|Ssn|SSN)(?![a-z])))",
    re.IGNORECASE,
)


_secret_keys: BoundedCache[object, bool] = BoundedCache(4096)  # keys are few in practice


def is_secret_key(key: object) -> bool:
    """Whether values under ``key`` are treated as secrets (the answer is cached)."""
    found = _secret_keys.get(key)
    if found is None:
        found = isinstance(key, str) and SECRET_KEY_PATTERN.search(key) is not None
        _secret_keys.put(key, found)
    return found


def redact(mapping: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A copy of ``mapping`` with the values of secret-looking keys replaced, recursively
    (through nested mappings, lists, tuples and objects, as :func:`redact_value` does)."""
    if mapping is None:
        return None
    return _redact_mapping(mapping, 0)


def redact_value(value: Any) -> Any:
    """``value`` in a plain JSON form with secrets redacted, at any depth.

    Mappings, lists and tuples keep their shape with the values of secret-looking keys
    replaced; a string that looks like a URL has its credentials and token-like parameters
    masked (``postgres://REDACTED:REDACTED@db/prod``, ``https://h/cb?token=REDACTED``);
    other strings, numbers, booleans and None are returned as is, except NaN and the
    infinities, which become None (JSON has no such numbers, and one of them would make
    every later export fail; the exports' time ranges write None the same way). Any other
    object is
    stored as a plain value, because history and exports keep what they are given and a
    dataclass or a request object can hold a credential: an object with ``to_dict()``
    becomes what that returns, a dataclass the mapping of its fields, a set a list, a date
    its ISO text, and anything else its ``str()`` through
    :func:`~otel_agents._exception_events.redact_text` (``password=...``, ``Bearer ...``
    masked). An object whose ``to_dict()`` or ``str()`` raises is :data:`REDACTED`.
    Nesting deeper than :data:`MAX_DEPTH` is replaced by :data:`REDACTED`: what cannot be
    looked through is not passed on.
    """
    return _redact(value, 0)


#: Levels of nested mappings and sequences :func:`redact_value` looks through.
MAX_DEPTH = 32


def _redact(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind is str:
        return redact_string(value)
    if kind in _PLAIN:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return REDACTED if depth >= MAX_DEPTH else _redact_mapping(value, depth)
    if kind is list or kind is tuple:
        if depth >= MAX_DEPTH:
            return REDACTED
        return kind(_redact(item, depth + 1) for item in value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):  # a subclass (StrEnum, pydantic 1's AnyUrl) is a string too
        masked = redact_string(value)
        return value if masked == value else masked
    if isinstance(value, int):  # subclasses: IntEnum
        return value
    return REDACTED if depth >= MAX_DEPTH else _plain_form(value, depth)


def redact_string(text: str) -> str:
    """``text`` with every URL in it (``scheme://`` or ``//host``, anywhere in the text, as
    many as there are) masked, and a text that is a query or fragment with parameters
    masked as one: ``user:pass@`` and token-like parameters, as spans and the gateway's
    history mask them (:func:`~otel_agents._url_redaction.redact_urls`). A value is as
    secret as a key: a DSN (``retrying postgres://app:S3CRET@db/prod``) or a callback
    (``https://h/cb?token=...``) under an innocent key must not reach an export. A URL
    with nothing to mask is kept exactly as written; one that cannot be parsed is
    :data:`REDACTED` (what cannot be looked through is not passed on)."""
    if "//" not in text and not ("=" in text and ("?" in text or "#" in text)):
        return text  # the usual case, on the tracker's hot path: one scan or two
    if not MASKABLE_IN_URL.search(text) and text.isascii():
        # A URL without user info, parameters or brackets (a bracket may make it
        # unparsable): nothing to mask, and the record_metric of a context holding an
        # endpoint URL pays no parse (it cost 1.5x a call without one).
        return text
    from otel_agents._url_redaction import (  # it imports this module
        REDACTED as MASK,
        redact_target,
        redact_urls,
    )

    masked = redact_urls(text)
    if masked != text or "=" not in text or not ("?" in text or "#" in text):
        return masked
    try:  # no URL to mask: a path with a query (``/cb?token=...``)
        masked = redact_target(text)
    except ValueError:  # urlsplit: an unbalanced IPv6 bracket, a bad port
        return REDACTED
    return masked if masked.count(MASK) > text.count(MASK) else text


#: What a URL needs to have something to mask (user info, parameters) or to be unparsable
#: (an IPv6 bracket; a non-ASCII netloc may be too, hence the isascii() check with it).
MASKABLE_IN_URL = re.compile(r"[@=\[\]]")


def _plain_form(value: Any, depth: int) -> Any:
    """An object that is not a JSON type as a plain value, redacted (see redact_value)."""
    try:
        to_dict = getattr(value, "to_dict", None)
        if callable(to_dict):  # the object's own public form (a dataclass's too)
            return _redact(to_dict(), depth + 1)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            # Field by field, not dataclasses.asdict: that deep-copies every field value,
            # which can raise (locks, sockets) and does not stop at MAX_DEPTH.
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            return _redact_mapping(fields, depth)
        if isinstance(value, list | tuple | set | frozenset):  # their subclasses too
            return [_redact(item, depth + 1) for item in value]
        if isinstance(value, datetime | date):
            return value.isoformat()
        from otel_agents._exception_events import redact_text  # it imports this module

        return redact_text(str(value))
    except Exception:  # a user object's to_dict() or __str__ raised: keep nothing of it
        return REDACTED


def _redact_mapping(mapping: Mapping[str, Any], depth: int) -> dict[str, Any]:
    return {
        key: REDACTED if is_secret_key(key) else _redact(value, depth + 1)
        for key, value in mapping.items()
    }


#: Types stored as they are (a float is checked: NaN and infinities become None).
_PLAIN = frozenset({str, int, bool, type(None)})


def redact_url(url: str) -> str:
    """``url`` as ``scheme://host:port`` only (no user, password, path or query): what logs,
    errors and spans may show of a server's address."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparsable URL>"
    if ":" in host:  # an IPv6 address keeps its brackets
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}"


def split_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without its ``user:password@``, and that user and password (decoded).

    So an HTTP client is given a URL it may log (httpx logs every request's URL at INFO)
    and the credentials as Basic auth, exactly what it would have sent for the userinfo:
    ``(user, "")`` for ``user@``; ``None`` when the URL has no userinfo.
    """
    parts = urllib.parse.urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at:
        return url, None
    user, _, password = userinfo.partition(":")
    bare = urllib.parse.urlunsplit(parts._replace(netloc=hostport))
    return bare, (urllib.parse.unquote(user), urllib.parse.unquote(password))


def checked_http_url(name: str, url: Any, example: str) -> str:
    """``url`` without its trailing ``/`` if it is an ``http(s)`` URL with a host, else an
    :class:`InvalidValueError` naming ``name`` that does not repeat the value (it may hold
    credentials: ``user:password@``)."""
    try:
        parts = urllib.parse.urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except (TypeError, ValueError, AttributeError):
        valid = False
    if not valid or not isinstance(url, str):
        raise InvalidValueError(
            f"{name} is not valid: expected an http(s) URL such as {example} (its value is "
            "not shown: it may hold credentials)"
        )
    return url.rstrip("/")


def export_envelope(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Wrap exported data with the metadata every otel-agents export carries."""
    return {
        "kind": kind,
        "exported_at": datetime.now(UTC).isoformat(),
        "generator": f"otel-agents {__version__}",
        **payload,
    }


def write_json_atomic(
    filepath: str | os.PathLike[str], data: Any, *, encrypt: bool = False
) -> Path:
    """Write ``data`` as JSON (UTF-8) to ``filepath`` atomically; return the resolved path.

    ``encrypt=True`` writes the JSON encrypted with ``OTEL_AGENTS_EXPORT_KEY``
    (:mod:`otel_agents._encryption`); without the ``crypto`` extra it raises
    :class:`~otel_agents._errors.MissingDependencyError`, without a usable key
    :class:`~otel_agents._errors.ConfigurationError`, before anything is written.

    NaN and infinities are written as ``null`` and keys that JSON cannot hold (a tuple) as
    their ``str()``; other objects in their redacted plain form (:func:`redact_value`).

    Memory: the export is encoded piece by piece straight into the file (and, encrypted,
    encrypted piece by piece: :mod:`otel_agents._fernet_stream`), never held as one string;
    non-ASCII text is written as itself, not as ``\\u`` escapes six times its size.

    Raises:
        InvalidTypeError: ``filepath`` is not a path.
        ExportError: the folder does not exist, is not writable, or ``data`` cannot be
            encoded. The previous file, if any, is unchanged.
    """
    if not isinstance(filepath, str | os.PathLike):
        raise invalid_type("filepath", filepath, "a file path such as 'metrics.json'")
    path = Path(filepath)
    encrypting = None
    if encrypt:
        from otel_agents._encryption import export_fernet, export_writer

        export_fernet()  # no library or no key: an error before anything is written
        encrypting = export_writer
    folder = path.parent if str(path.parent) else Path(".")
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ExportError(
            f"cannot write the export to {str(path)!r}: {exc.strerror or exc}; "
            "check that the folder exists and is writable"
        ) from exc
    try:
        with os.fdopen(descriptor, "wb") as handle:
            _write_json(data, handle, path, encrypting)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException as exc:
        # Whatever stops the write (a full disk, data that cannot be encoded, Ctrl-C, no
        # memory), the temporary file, which holds the export's data, does not stay behind.
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, ExportError):
            raise ExportError(
                f"cannot write the export to {str(path)!r}: {exc.strerror or exc}; "
                "the previous file is unchanged"
            ) from exc
        raise
    return path.resolve()


def _write_json(
    data: Any, handle: BinaryIO, path: Path, encrypting: Callable[[BinaryIO], Any] | None
) -> None:
    """Encode ``data`` as indented JSON into ``handle`` piece by piece (``json.dump``),
    through ``encrypting(handle)`` (a writer whose ``finish()`` ends the token) if given.

    Strict JSON has no NaN and only scalar keys: rather than lose the whole export to one
    such value (what is recorded is never lost), the file is started over with it written
    as null / its ``str()``. Nesting too deep for the encoder gets the same depth-bounded
    second pass.
    """
    try:
        _dump(data, handle, encrypting, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        handle.seek(0)
        handle.truncate()
        try:
            _dump(_json_safe(data, 0), handle, encrypting)
        except (TypeError, ValueError, RecursionError) as exc:
            raise ExportError(f"cannot encode the export for {str(path)!r} as JSON: {exc}") from exc


def _dump(
    data: Any,
    handle: BinaryIO,
    encrypting: Callable[[BinaryIO], Any] | None,
    *,
    allow_nan: bool = True,
) -> None:
    """One ``json.dump`` of ``data`` into ``handle`` (UTF-8, non-ASCII characters as
    themselves; a lone surrogate, which UTF-8 cannot hold, as its ``\\ud800``-style escape
    ``ensure_ascii`` would have written, so the file reads back to the same string)."""
    writer = None if encrypting is None else encrypting(handle)
    stream = io.TextIOWrapper(
        handle if writer is None else writer,
        encoding="utf-8",
        errors="backslashreplace",
        newline="",
    )
    try:
        json.dump(data, stream, **_JSON_OPTIONS, default=_json_default, allow_nan=allow_nan)
        stream.flush()
        if writer is not None:
            writer.finish()
    finally:
        stream.detach()  # the caller owns (and closes) ``handle``


_JSON_OPTIONS: dict[str, Any] = {"indent": 2, "ensure_ascii": False}


def _json_default(value: Any) -> Any:
    # Whatever reaches the encoder unconverted gets the same redacted plain form as a
    # context value at record time: an export never writes an object's secrets.
    return redact_value(value)


#: Levels :func:`_json_safe` walks: an export's own nesting plus a redacted context's.
_MAX_EXPORT_DEPTH = 4 * MAX_DEPTH
_JSON_KEYS = (str, int, bool, type(None))


def _json_safe(value: Any, depth: int) -> Any:
    """``value`` with what strict JSON refuses replaced: non-finite floats by None, keys
    that are not scalars by their ``str()``, other objects by their redacted plain form."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str | int | type(None)):
        return value
    if depth >= _MAX_EXPORT_DEPTH:
        return REDACTED
    if isinstance(value, Mapping):
        return {
            key if isinstance(key, _JSON_KEYS) else str(key): _json_safe(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(item, depth + 1) for item in value]
    return _json_safe(redact_value(value), depth + 1)
