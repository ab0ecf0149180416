"""``FernetWriter`` writes exactly the token ``Fernet`` writes, whatever the pieces."""

from __future__ import annotations

import base64
import io
import os

import pytest
from cryptography.fernet import Fernet, InvalidToken

from otel_agents._fernet_stream import FernetWriter

KEY = Fernet.generate_key()
IV = bytes(range(16))
AT = 1_796_000_000


def _streamed(data: bytes, piece: int, *, iv: bytes | None = IV, at: int | None = AT) -> bytes:
    out = io.BytesIO()
    writer = FernetWriter(out, base64.urlsafe_b64decode(KEY), iv=iv, at_time=at)
    for start in range(0, len(data), piece):
        assert writer.write(data[start : start + piece]) == len(data[start : start + piece])
    writer.finish()
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, 2, 3, 15, 16, 17, 47, 48, 49, 100_003])
@pytest.mark.parametrize("piece", [1, 7, 16, 8192, 1 << 20])
def test_the_streamed_token_is_byte_for_byte_the_one_fernet_makes(size: int, piece: int) -> None:
    if size > 1000 and piece < 16:
        piece *= 1000  # the same splits at the block edges, in a test that stays quick
    data = os.urandom(size)

    token = _streamed(data, piece)

    assert token == Fernet(KEY)._encrypt_from_parts(data, AT, IV)
    assert Fernet(KEY).decrypt(token) == data


def test_each_token_has_its_own_iv_and_opens_only_with_its_key() -> None:
    data = b'{"metrics": []}' * 100

    first, second = _streamed(data, 64, iv=None, at=None), _streamed(data, 64, iv=None, at=None)

    assert first != second
    assert Fernet(KEY).decrypt(first) == Fernet(KEY).decrypt(second) == data
    with pytest.raises(InvalidToken):
        Fernet(Fernet.generate_key()).decrypt(first)


def test_a_token_cut_short_does_not_open() -> None:
    """Without finish() (an export interrupted mid-way) there is no MAC: it is refused."""
    out = io.BytesIO()
    writer = FernetWriter(out, base64.urlsafe_b64decode(KEY))
    writer.write(b"x" * 1000)
    with pytest.raises(InvalidToken):
        Fernet(KEY).decrypt(out.getvalue())
