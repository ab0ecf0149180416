"""What the propagators may see of a carrier from the network: W3C baggage checked first.

The SDK's ``W3CBaggagePropagator`` logs a warning for every list-member it refuses (malformed,
non-ASCII, too long) and one quoting the whole header when the header is over 8,192 bytes.
Handed a request or an envelope from the network, that is a log amplifier: one request with
179 malformed members wrote 179 WARNING lines (38 KB of the client's text) to the gateway's
log. So every carrier read from the network goes through :class:`GuardedGetter`, which hands
the propagator a ``baggage`` value it accepts silently:

* the header's field lines joined with ``,`` (W3C Baggage: several ``baggage`` headers are
  one list, RFC 9110 section 5.3; the propagator would read only the first);
* nothing at all when the joined value is over 8,192 bytes (what the propagator does, less
  the warning);
* only the list-members of the W3C grammar (``key = value *(; property)``, ASCII tokens and
  baggage octets), each at most 4,096 characters, at most 180 of them, as the propagator
  would keep them; the others are dropped, as the propagator drops them, without a word.

Every other key is passed through unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Generic, TypeVar

from opentelemetry.propagators.textmap import Getter

__all__ = ["BAGGAGE", "GuardedGetter", "clean_baggage"]

#: The header (and carrier key) of W3C Baggage.
BAGGAGE = "baggage"

_MAX_LENGTH = 8192
_MAX_MEMBER_LENGTH = 4096
_MAX_MEMBERS = 180
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_VALUE = r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*"
_OWS = r"[ \t]*"
_MEMBER = re.compile(
    rf"{_TOKEN}{_OWS}={_OWS}{_VALUE}(?:{_OWS};{_OWS}{_TOKEN}(?:{_OWS}={_OWS}{_VALUE})?)*{_OWS}"
)
_DELIMITER = re.compile(r"[ \t]*,[ \t]*")

CarrierT = TypeVar("CarrierT")


def clean_baggage(values: Iterable[str]) -> str | None:
    """The ``baggage`` field lines ``values`` as one value the W3C propagator accepts without
    a warning, or ``None`` when nothing of them is kept (see the module)."""
    joined = ",".join(values)
    if len(joined) > _MAX_LENGTH:
        return None
    kept: list[str] = []
    for member in _DELIMITER.split(joined.strip(" \t")):
        if member and len(member) <= _MAX_MEMBER_LENGTH and _MEMBER.fullmatch(member):
            kept.append(member)
            if len(kept) == _MAX_MEMBERS:
                break
    return ",".join(kept) or None


class GuardedGetter(Getter[CarrierT], Generic[CarrierT]):
    """``getter``, with the ``baggage`` it reads from a network carrier checked first."""

    def __init__(self, getter: Getter[CarrierT]) -> None:
        self._getter = getter

    def get(self, carrier: CarrierT, key: str) -> list[str] | None:
        found = self._getter.get(carrier, key)
        if found is None or key != BAGGAGE:
            return found
        cleaned = clean_baggage(found)
        return None if cleaned is None else [cleaned]

    def keys(self, carrier: CarrierT) -> list[str]:
        return self._getter.keys(carrier)
