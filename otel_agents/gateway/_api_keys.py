"""The one check of API keys, global (``api_keys``) and per service.

Why strict: a key list is the switch of authentication. An empty global list answers every
request without credentials, so an entry that is not a usable key must never be dropped or
coerced quietly: ``[""]`` (a template that filled in an unset secret), a variable that is
only commas, or ``[null]`` (which ``str()`` made the key ``"None"``) all raise, naming the
setting and the position of the bad entry, never a key (keys are secrets).

An explicit empty list, ``[]``, stays "no keys" (a documented choice, not an accident).
Keys are stripped: a presented credential is stripped too, so surrounding blanks could never
match anyway. Light on purpose: :mod:`otel_agents.gateway._params` imports it.
"""

from __future__ import annotations

from typing import Any

from otel_agents._config_params import InvalidSetting

__all__ = ["EXPECTED_KEYS", "api_key_list", "global_api_keys"]

#: What a key list must be, for messages.
EXPECTED_KEYS = "a list of non-empty key strings, e.g. ['k1', 'k2']"


def api_key_list(value: Any, *, text: bool = False) -> tuple[str, ...]:
    """The keys of ``value``, a list or tuple of non-empty strings (stripped).

    Args:
        value: the keys as given.
        text: comma-separated text is accepted too (the ``OTEL_AGENTS_GATEWAY_API_KEYS``
            variable, the global setting).

    Raises:
        InvalidSetting: ``value`` is not a list (or text, with ``text``), or one of its
            entries is not a string or is empty or blank; the message says which entry,
            never its value.
    """
    expected = EXPECTED_KEYS + (" (comma-separated in the variable)" if text else "")
    entries = value.split(",") if text and isinstance(value, str) else value
    if not isinstance(entries, list | tuple):
        raise InvalidSetting(f"expected {expected}")
    keys: list[str] = []
    for position, entry in enumerate(entries, 1):
        if not isinstance(entry, str):
            raise InvalidSetting(
                f"expected {expected}; key {position} is not a string but {type(entry).__name__}"
            )
        key = entry.strip()
        if not key:
            raise InvalidSetting(
                f"expected {expected}; key {position} is empty or blank (an unset secret?)"
            )
        keys.append(key)
    return tuple(keys)


def global_api_keys(value: Any) -> tuple[str, ...]:
    """The gateway's ``api_keys`` setting: a list, or comma-separated text (a variable)."""
    return api_key_list(value, text=True)
