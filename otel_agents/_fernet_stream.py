"""One Fernet token written piece by piece, so an encrypted export never sits in memory whole.

``Fernet.encrypt`` takes the whole plaintext and makes five copies of it (padded, encrypted,
joined with the header, joined with the MAC, base64): encrypting a 64 MiB gateway history
that way took ~650 MiB. :class:`FernetWriter` writes the very same token, as the Fernet
specification (https://github.com/fernet/spec/blob/master/Spec.md) defines it and
``Fernet.decrypt`` reads it, with the same primitives of the ``cryptography`` library::

    base64url(0x80 | timestamp (8 bytes, big endian) | IV (16) | AES-128-CBC ciphertext
              of the PKCS7-padded data | HMAC-SHA256 of everything before it)

The signing key is the first 16 bytes of the decoded key, the encryption key the last 16,
as in ``Fernet``. Only the header, the cipher's last block, the MAC and a base64 remainder
(under 3 bytes) are held; everything else goes to the file as it is encrypted. Nothing here
decrypts: ``Fernet.decrypt`` checks the MAC and the padding of what this writes.
"""

from __future__ import annotations

import base64
import io
import os
import time
from typing import Any, BinaryIO

from cryptography.hazmat.primitives import hashes, hmac, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["FernetWriter"]

_VERSION = b"\x80"


class FernetWriter(io.RawIOBase):
    """Writes one Fernet token of what is passed to :meth:`write` into ``handle``.

    A raw binary stream, so ``io.TextIOWrapper(writer)`` (what ``json.dump`` writes to)
    can sit on it; :meth:`finish` completes the token (closing does not: a token cut short
    must not look complete). ``handle`` stays open.

    ``key`` is the decoded 32-byte Fernet key. ``iv`` and ``at_time`` exist for the test
    that compares the bytes with ``Fernet``'s own; leave them unset (a fresh random IV per
    token, the current time) everywhere else.
    """

    def __init__(
        self, handle: BinaryIO, key: bytes, *, iv: bytes | None = None, at_time: int | None = None
    ) -> None:
        super().__init__()
        if len(key) != 32:
            raise ValueError("a Fernet key is 32 bytes once decoded")
        self._handle = handle
        self._signing_key = key[:16]
        self._encryption_key = key[16:]
        iv = os.urandom(16) if iv is None else iv
        now = int(time.time()) if at_time is None else at_time
        self._padder = padding.PKCS7(algorithms.AES.block_size).padder()
        self._encryptor = Cipher(algorithms.AES(self._encryption_key), modes.CBC(iv)).encryptor()
        self._mac = hmac.HMAC(self._signing_key, hashes.SHA256())
        self._pending = b""  # fewer than 3 bytes not yet base64-encoded
        self._emit(_VERSION + now.to_bytes(length=8, byteorder="big") + iv)

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        """Encrypt ``data`` (bytes-like) into the token; return its length, all written."""
        view = memoryview(data)
        self._emit(self._encryptor.update(self._padder.update(view)))
        return view.nbytes

    def finish(self) -> None:
        """Write the last block, the MAC and the base64 remainder: the token is complete."""
        self._emit(self._encryptor.update(self._padder.finalize()) + self._encryptor.finalize())
        tail = self._pending + self._mac.finalize()
        self._pending = b""
        self._handle.write(base64.urlsafe_b64encode(tail))

    def _emit(self, raw: bytes) -> None:
        """``raw`` into the MAC and, base64-encoded by whole 3-byte groups, into the file."""
        if not raw:
            return
        self._mac.update(raw)
        pending = self._pending + raw
        cut = len(pending) - len(pending) % 3
        self._handle.write(base64.urlsafe_b64encode(pending[:cut]))
        self._pending = pending[cut:]
