"""The request and response objects that hooks and ``route_request`` callers see."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GatewayRequest", "GatewayResponse"]


@dataclass
class GatewayRequest:
    """A routed request as request hooks see it (headers with lower-case names)."""

    method: str
    path: str
    route: str
    service_id: str
    headers: dict[str, str]
    query_params: dict[str, str]
    client_ip: str


@dataclass
class GatewayResponse:
    """A complete response: what ``route_request`` returns and what hooks may return.

    ``body`` is ``None`` when a hook sees a response that is still streaming.
    """

    status_code: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = b""

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
        """A JSON-safe dict: status code, headers and the body as text."""
        return {"status_code": self.status_code, "headers": dict(self.headers), "body": self.text}

    @classmethod
    def json_response(
        cls, status_code: int, content: Any, headers: Mapping[str, str] | None = None
    ) -> GatewayResponse:
        """A JSON response, e.g. for a hook that answers without the upstream."""
        all_headers = {"content-type": "application/json", **(headers or {})}
        return cls(status_code, all_headers, json.dumps(content).encode())

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        body = self.body or b""
        out = [
            (k.lower().encode("latin-1"), str(v).encode("latin-1"))
            for k, v in self.headers.items()
            if k.lower() != "content-length"
        ]
        out.append((b"content-length", b"%d" % len(body)))
        return out
