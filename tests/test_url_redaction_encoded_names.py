"""Secret parameter names are recognised percent- and plus-decoded.

A server decodes ``%74oken`` to ``token`` and ``+key`` to `` key`` before it reads the
parameter, so a client can send a credential under an encoded name; the redaction must see
the name the server sees, or the secret reaches spans, history and exports.
"""

from __future__ import annotations

import pytest

from otel_agents._url_redaction import redact_query, redact_target

SECRET = "s3cr3t"

#: Encoded spellings of secret names (token, api_key, key, sig, password).
ENCODED_NAMES = ["%74oken", "api%5Fkey", "%6Bey", "%73ig", "+key", "pass+word", "%70assword"]


@pytest.mark.parametrize("name", ENCODED_NAMES)
def test_an_encoded_secret_name_is_masked_in_a_query(name: str) -> None:
    assert redact_query(f"{name}={SECRET}&x=1") == f"{name}=REDACTED&x=1"


@pytest.mark.parametrize("name", ENCODED_NAMES)
def test_an_encoded_secret_name_is_masked_in_a_request_target(name: str) -> None:
    assert redact_target(f"/p?{name}={SECRET}") == f"/p?{name}=REDACTED"


@pytest.mark.parametrize("name", ENCODED_NAMES)
def test_an_encoded_secret_name_is_masked_in_an_absolute_url(name: str) -> None:
    shown = redact_target(f"https://api.example/p?a=1&{name}={SECRET}#{name}={SECRET}")
    assert SECRET not in shown
    assert shown.startswith("https://api.example/p?a=1&")


def test_an_encoded_name_that_is_not_a_secret_is_kept() -> None:
    """Decoding reveals secrets; it does not mask ordinary parameters."""
    assert redact_query(f"%70age=2&q={SECRET}") == f"%70age=2&q={SECRET}"
