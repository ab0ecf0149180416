"""Encrypted exports: JSON files only the holder of ``OTEL_AGENTS_EXPORT_KEY`` can read.

Optional (``pip install 'otel-agents[crypto]'``): every ``export_*`` method takes
``encrypt=True``, and the file then holds a Fernet token (AES-128-CBC with an
HMAC-SHA256, from the maintained ``cryptography`` library) of the JSON it would have
written, encrypted as it is written (:mod:`otel_agents._fernet_stream`: the same token
``Fernet.encrypt`` makes, without holding the export in memory). The key comes from the
environment only, never from an argument that could end up in a log or a shell history, and
is never logged or written anywhere::

    export OTEL_AGENTS_EXPORT_KEY=$(python -c \
        "from otel_agents import generate_export_key; print(generate_export_key())")
    otel-agents demo --export out --encrypt
    python -c "from otel_agents import decrypt_export as d; \
        print(d('out/metrics.json'))"
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any, BinaryIO

from otel_agents._errors import ConfigurationError, ExportError
from otel_agents._extras import missing
from otel_agents._server_params import EXPORT_KEY

__all__ = [
    "EXPORT_KEY_ENV",
    "decrypt_export",
    "encrypt_bytes",
    "export_fernet",
    "export_writer",
    "generate_export_key",
]

#: The environment variable holding the Fernet key (32 bytes, URL-safe base64).
EXPORT_KEY_ENV = EXPORT_KEY.variable


def export_fernet(needed_by: str = "encrypt=True") -> Any:
    """The ``Fernet`` of the key in ``OTEL_AGENTS_EXPORT_KEY``; errors name ``needed_by``.

    Raises:
        MissingDependencyError: the ``crypto`` extra is not installed.
        ConfigurationError: the variable is unset or not a key.
    """
    try:
        from cryptography.fernet import Fernet
    except ImportError as exc:  # an ImportError like every missing extra, not a bad setting
        raise missing("crypto", needed_by, exc) from exc
    key = os.environ.get(EXPORT_KEY_ENV, "").strip()
    if not key:
        raise ConfigurationError(
            f"{needed_by} needs a key in {EXPORT_KEY_ENV}: set it to the output of "
            "python -c 'from otel_agents import generate_export_key; print(generate_export_key())'"
        )
    try:
        return Fernet(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        # Never echo the value: it is (meant to be) a secret.
        raise ConfigurationError(
            f"{EXPORT_KEY_ENV} is not a Fernet key (32 bytes, URL-safe base64, 44 characters):"
            " make one with otel_agents.generate_export_key()"
        ) from None


def generate_export_key() -> str:
    """A new random key for ``OTEL_AGENTS_EXPORT_KEY``.

    Raises:
        MissingDependencyError: the ``crypto`` extra is not installed.
    """
    try:
        from cryptography.fernet import Fernet
    except ImportError as exc:
        raise missing("crypto", "generate_export_key()", exc) from exc
    return Fernet.generate_key().decode("ascii")


def encrypt_bytes(data: bytes) -> bytes:
    """``data`` encrypted with the key in ``OTEL_AGENTS_EXPORT_KEY``.

    Raises:
        MissingDependencyError: the ``crypto`` extra is not installed.
        ConfigurationError: the variable is unset or not a key.
    """
    token: bytes = export_fernet().encrypt(data)
    return token


def export_writer(handle: BinaryIO) -> Any:
    """A :class:`~otel_agents._fernet_stream.FernetWriter` into ``handle`` with the key in
    ``OTEL_AGENTS_EXPORT_KEY``: the export is encrypted as it is written, never held whole.

    Raises:
        MissingDependencyError: the ``crypto`` extra is not installed.
        ConfigurationError: the variable is unset or not a key.
    """
    export_fernet()  # the checks, and their messages
    from otel_agents._fernet_stream import FernetWriter  # needs the crypto extra

    key = base64.urlsafe_b64decode(os.environ[EXPORT_KEY_ENV].strip())
    return FernetWriter(handle, key)


def decrypt_export(filepath: str | os.PathLike[str]) -> Any:
    """Read an export written with ``encrypt=True`` back as JSON data.

    Raises:
        MissingDependencyError: the ``crypto`` extra is not installed.
        ConfigurationError: no usable key in ``OTEL_AGENTS_EXPORT_KEY``.
        ExportError: the file cannot be read, or the key does not open it (another key,
            or the file was changed).
    """
    fernet = export_fernet("decrypt_export()")  # the library's absence is a hint, not a trace
    from cryptography.fernet import InvalidToken

    path = Path(filepath)
    try:
        token = path.read_bytes()
    except OSError as exc:
        raise ExportError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc
    try:
        return json.loads(fernet.decrypt(token))
    except InvalidToken:
        raise ExportError(
            f"{str(path)!r} does not open with the key in {EXPORT_KEY_ENV}: another key "
            "encrypted it, or the file was changed"
        ) from None
