"""The request and response objects that hooks and ``route_request`` callers see.

Headers are multi-valued end to end: a response with two ``Set-Cookie`` lines reaches the
client with two, whatever hooks ran. :class:`Headers` reads like a dict (a name's values
joined by ``", "``, as RFC 9110 §5.3 combines them) and keeps every line underneath
(``getlist``, ``add``, ``multi_items``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GatewayRequest", "GatewayResponse", "Headers", "HeadersInput"]


class Headers(MutableMapping[str, str]):
    """Case-insensitive, multi-valued HTTP headers (names kept lower case).

    ``headers[name]`` joins a name's values with ``", "``; ``headers[name] = value``
    replaces all of them; ``add`` appends one more line; ``getlist`` and ``multi_items``
    give every line (use them for ``Set-Cookie``, which must never be joined).
    """

    __slots__ = ("_items",)

    def __init__(self, headers: HeadersInput | None = None) -> None:
        self._items: list[tuple[str, str]] = []
        if headers is None:
            return
        pairs = headers.multi_items() if isinstance(headers, Headers) else None
        if pairs is None:
            pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        self._items = [(str(n).lower(), str(v)) for n, v in pairs]

    @classmethod
    def from_raw(cls, raw: Iterable[tuple[bytes, bytes]]) -> Headers:
        """From ASGI (latin-1 bytes) header pairs."""
        made = cls()
        made._items = [(n.decode("latin-1").lower(), v.decode("latin-1")) for n, v in raw]
        return made

    def raw(self) -> list[tuple[bytes, bytes]]:
        """Every line as ASGI (latin-1 bytes) header pairs."""
        return [(n.encode("latin-1"), v.encode("latin-1")) for n, v in self._items]

    def __getitem__(self, name: str) -> str:
        key = name.lower()
        values = [v for n, v in self._items if n == key]
        if not values:
            raise KeyError(name)
        return values[0] if len(values) == 1 else ", ".join(values)

    def __setitem__(self, name: str, value: str) -> None:
        key = name.lower()
        self._items = [(n, v) for n, v in self._items if n != key]
        self._items.append((key, str(value)))

    def __delitem__(self, name: str) -> None:
        key = name.lower()
        kept = [(n, v) for n, v in self._items if n != key]
        if len(kept) == len(self._items):
            raise KeyError(name)
        self._items = kept

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(n == name.lower() for n, _ in self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(n for n, _ in self._items))

    def __len__(self) -> int:
        return len({n for n, _ in self._items})

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"

    def add(self, name: str, value: str) -> None:
        """Append one more line for ``name`` (keeping those already there)."""
        self._items.append((name.lower(), str(value)))

    def getlist(self, name: str) -> list[str]:
        """Every value of ``name``, one per line, in order."""
        key = name.lower()
        return [v for n, v in self._items if n == key]

    def multi_items(self) -> list[tuple[str, str]]:
        """Every (name, value) line, in order, duplicates included."""
        return list(self._items)


#: What a headers argument may be: a mapping, (name, value) pairs, or :class:`Headers`.
HeadersInput = Mapping[str, str] | Iterable[tuple[str, str]]


@dataclass
class GatewayRequest:
    """A routed request as request hooks see it (headers with lower-case names)."""

    method: str
    path: str
    route: str
    service_id: str
    headers: Headers
    query_params: dict[str, str]
    client_ip: str


@dataclass(init=False)
class GatewayResponse:
    """A complete response: what ``route_request`` returns and what hooks may return.

    ``headers`` may be given as a dict or as (name, value) pairs; it is kept as
    :class:`Headers`, so repeated lines survive. ``body`` is ``None`` when a hook sees a
    response that is still streaming.
    """

    status_code: int
    headers: Headers = field(default_factory=Headers)
    body: bytes | None = b""

    def __init__(
        self, status_code: int, headers: HeadersInput | None = None, body: bytes | None = b""
    ) -> None:
        self.status_code = status_code
        self.headers = Headers(headers)
        self.body = body

    @property
    def text(self) -> str:
        return (self.body or b"").decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body or b"null")

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 400

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: status code, headers and the body as text.

        A header with several lines is a list of them (never joined: ``Set-Cookie``)."""
        headers: dict[str, Any] = {}
        for name in self.headers:
            values = self.headers.getlist(name)
            headers[name] = values[0] if len(values) == 1 else values
        return {"status_code": self.status_code, "headers": headers, "body": self.text}

    @classmethod
    def json_response(
        cls, status_code: int, content: Any, headers: HeadersInput | None = None
    ) -> GatewayResponse:
        """A JSON response, e.g. for a hook that answers without the upstream."""
        all_headers = Headers(headers)
        if "content-type" not in all_headers:
            all_headers["content-type"] = "application/json"
        return cls(status_code, all_headers, json.dumps(content).encode())

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        body = self.body or b""
        out = [(n, v) for n, v in self.headers.raw() if n != b"content-length"]
        out.append((b"content-length", b"%d" % len(body)))
        return out
