"""One decoded, normalised request path for routing, auth and the upstream alike.

The gateway routes (and so authenticates) on the *decoded* path, but forwards the client's
*encoded* one, so that an upstream decodes it exactly once, as it would without a gateway.
Both must describe the same segments, or a request routed to one service reaches another
service's path upstream: ``/v1%2Fpublic/private/secret`` decodes to
``/v1/public/private/secret`` (service ``public``, no key) while its encoded form, cut after
its first ``/``, is ``/private/secret`` upstream.

So the path is split into segments on the encoded ``/`` only, each segment is decoded on
its own, and a request is refused (``400``) when a decoded segment could be read as more
than one segment, or as a step out of its prefix, by any upstream:

* an encoded ``/`` (``%2F``) or a ``\\`` (raw or ``%5C``: some servers treat it as ``/``);
* a ``.`` or ``..`` segment, encoded or not, also with ``;parameters`` (``..;``);
* a control character (``%00`` ends a path for some servers).

Empty segments (``//``) are dropped, except a trailing one (``/users/`` stays), since many
servers merge slashes. Routing uses the decoded segments; the upstream gets the same
segments as the client encoded them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

__all__ = ["RequestPath", "normalise_path"]

_REFUSED = re.compile(r"[/\\\x00-\x1f\x7f]")
_SAFE = "/%:@!$&'()*+,;=-._~"


@dataclass(frozen=True, slots=True)
class RequestPath:
    """A request path as segments: decoded (for routing) and as encoded by the client."""

    decoded: tuple[str, ...]
    encoded: tuple[str, ...]

    @property
    def routed(self) -> str:
        """The decoded path the router sees, ``/`` joined."""
        return "/" + "/".join(self.decoded)

    def upstream(self, skip: int = 1) -> str:
        """The encoded path after the first ``skip`` segments (the version): what the
        upstream receives after its base path."""
        return "/" + "/".join(self.encoded[skip:])


def normalise_path(raw_path: bytes | None, path: str) -> RequestPath | None:
    """Normalise a request path; ``None`` when it must be refused.

    ``raw_path`` is the ASGI ``raw_path`` (the client's encoding); ``path`` the decoded
    ``path``, used (re-encoded) only when the server gave no ``raw_path``.
    """
    raw = raw_path.decode("latin-1") if raw_path else quote(path, safe=_SAFE)
    if not raw.startswith("/"):
        return None
    parts = raw[1:].split("/")
    decoded: list[str] = []
    encoded: list[str] = []
    last = len(parts) - 1
    for index, part in enumerate(parts):
        if not part and index != last:
            continue  # "//": merged, as many upstream servers would
        text = unquote(part) if "%" in part else part
        if _REFUSED.search(text) or text.partition(";")[0] in (".", ".."):
            return None
        decoded.append(text)
        encoded.append(part)
    return RequestPath(tuple(decoded), tuple(encoded))
