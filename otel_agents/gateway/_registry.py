"""The service registry: services, their versions, path prefixes and upstream instances.

A service is registered under an id with a version (``v1``), a path prefix (``/users``; the
default ``""`` takes every path of that version no other service claims) and one or more
upstream instances. Only ``http`` and ``https`` upstreams are accepted. Credentials written
into a base URL (``http://user:pass@host``) are kept apart from the URL, sent to the upstream
as Basic authorization and never shown: :meth:`Instance.display_url` redacts them.
"""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from otel_agents._hostnames import HOST_NAME_RULE, resolvable_host
from otel_agents._url_redaction import redact_target
from otel_agents.gateway._errors import InvalidServiceError

__all__ = ["Instance", "Service", "health_url_for", "parse_upstream_url"]

_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
_SERVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*$")


@dataclass(frozen=True)
class UpstreamURL:
    """A parsed upstream URL, credentials held apart from it."""

    scheme: str
    host: str
    port: int
    path: str
    authorization: bytes | None = field(default=None, repr=False)

    @property
    def host_header(self) -> bytes:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return (host if self.port == default else f"{host}:{self.port}").encode()

    def display(self) -> str:
        """The URL with any credentials replaced by ``REDACTED:REDACTED``."""
        userinfo = "REDACTED:REDACTED@" if self.authorization else ""
        return f"{self.scheme}://{userinfo}{self.host_header.decode()}{self.path}"


def parse_upstream_url(parameter: str, value: Any) -> UpstreamURL:
    """Validate an upstream URL: ``http``/``https`` with a host; reject everything else."""
    if not isinstance(value, str):
        raise InvalidServiceError.build(parameter, "<not a string>", "an http(s) URL string")
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        raise InvalidServiceError.build(
            parameter, _safe(value), "a valid http(s) URL such as http://127.0.0.1:8001"
        ) from None
    if parts.scheme not in ("http", "https"):
        raise InvalidServiceError.build(
            parameter, _safe(value), "an http or https URL; other schemes are not proxied"
        )
    if not parts.hostname:
        raise InvalidServiceError.build(parameter, _safe(value), "a URL with a host name")
    if parts.query or parts.fragment:
        raise InvalidServiceError.build(parameter, _safe(value), "a URL without query or fragment")
    if not resolvable_host(parts.hostname):
        raise InvalidServiceError.build(
            parameter,
            _safe(value),
            f"a URL whose host name can be looked up; {parts.hostname[:80]!r} is {HOST_NAME_RULE}",
        )
    authorization = None
    if parts.username is not None or parts.password is not None:
        raw = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        authorization = b"Basic " + base64.b64encode(raw.encode())
    return UpstreamURL(
        parts.scheme,
        parts.hostname,
        port or (443 if parts.scheme == "https" else 80),
        parts.path.rstrip("/"),
        authorization,
    )


def _safe(value: Any) -> Any:
    """A URL fit for an error message: credentials (``user:pass@``) and token-like
    parameters of its query, path and fragment masked, as in the request history (the
    package's one URL redaction, :func:`~otel_agents._url_redaction.redact_target`)."""
    if not isinstance(value, str):
        return value
    if "://" not in value and "@" in value:
        return "<redacted>"  # 'user:pw@host/health' without a scheme: no netloc to mask
    try:
        return redact_target(value)
    except ValueError:
        return "<unparseable URL>"


def health_url_for(base_url: str, health_check_url: Any, count: int) -> UpstreamURL | None:
    """An instance's health URL: a path (``/health``) joins its base URL; a full URL is
    allowed only for a single instance."""
    if health_check_url is None:
        return None
    if isinstance(health_check_url, str) and health_check_url.startswith("/"):
        return parse_upstream_url("base_url", base_url.rstrip("/") + health_check_url)
    if isinstance(health_check_url, str) and "://" not in health_check_url:
        # 'health': meant as a path, not as a URL without a scheme.
        path = "/" + health_check_url.strip().lstrip("/")
        raise InvalidServiceError.build(
            "health_check_url",
            _safe(health_check_url),
            f"a path starting with '/' such as {_safe(path)[:64]!r}, or a full http(s) URL",
        )
    if count > 1:
        raise InvalidServiceError.build(
            "health_check_url",
            _safe(health_check_url),
            "a path such as '/health' for several instances",
        )
    return parse_upstream_url("health_check_url", health_check_url)


def moved_health_url(url: UpstreamURL, base_url: str, health_check_url: Any) -> UpstreamURL | None:
    """The health URL of an instance that joins a registered service later
    (:meth:`Service.replace_instances`). A path joins its base URL, as at registration. A
    full URL was written for the instance registered with it: it applies as it is only to
    an instance with the same scheme, host and port; any other instance is checked at that
    URL's path on its own host (never at another host's health, which would decide this
    instance's rotation by someone else's state)."""
    if health_check_url is None:
        return None
    if isinstance(health_check_url, str) and health_check_url.startswith("/"):
        return parse_upstream_url("base_url", base_url.rstrip("/") + health_check_url)
    health = parse_upstream_url("health_check_url", health_check_url)
    if (health.scheme, health.host, health.port) == (url.scheme, url.host, url.port):
        return health
    return UpstreamURL(url.scheme, url.host, url.port, health.path, url.authorization)


class Instance:
    """One upstream of a service, with its passive and active health state.

    ``checked``: it came through a path that refuses link-local and metadata upstreams
    (the admin API, hub discovery), so each connection to it resolves its name again and
    is refused if the name now resolves to such an address (``_connect_check``). Upstreams
    from the config file or Python are the operator's own: not checked.
    """

    __slots__ = (
        "checked",
        "failures",
        "health_url",
        "healthy",
        "retry_at",
        "successes",
        "trial",
        "url",
    )

    def __init__(
        self, url: UpstreamURL, health_url: UpstreamURL | None, *, checked: bool = False
    ) -> None:
        self.url = url
        self.health_url = health_url
        self.checked = checked
        self.healthy = True
        self.failures = 0
        self.successes = 0
        #: Out of rotation: when (monotonic) a half-open trial may go (see health.py).
        self.retry_at = 0.0
        #: A half-open trial request is in flight.
        self.trial = False

    def display_url(self) -> str:
        return self.url.display()


class Service:
    """A registered service: identity, version, prefix, metadata and its instances."""

    def __init__(
        self,
        service_id: str,
        name: str,
        version: str,
        prefix: str,
        instances: Sequence[Instance],
        metadata: Mapping[str, Any],
        *,
        strip_prefix: bool = False,
        health_check_url: str | None = None,
        api_keys: tuple[bytes, ...] = (),
    ) -> None:
        self.service_id = service_id
        #: SHA-256 digests of the service's own API keys. Part of the service object, so
        #: they go live with its route and leave with it, in one swap of the router's table.
        self.api_keys = api_keys
        self.name = name
        self.version = version
        self.prefix = prefix
        # True: the upstream sees the path after the prefix (``/v1/hub/healthz`` reaches the
        # hub as ``/healthz``); False (the seed's behaviour): the prefix is kept.
        self.strip_prefix = strip_prefix
        self.instances = list(instances)
        self.metadata = dict(metadata)
        #: As registered (a path joins each instance's URL): instances added later by
        #: :meth:`replace_instances` get their health URL from it too.
        self.health_check_url = health_check_url
        self.template = f"/{version}{prefix}/{{path}}"
        self._rotation = itertools.count()

    def replace_instances(self, base_urls: Sequence[str], *, checked: bool = False) -> None:
        """Make ``base_urls`` the instances: an instance whose URL stays is kept as it is
        (health state included, so one taken out of rotation stays out), new URLs join
        healthy, the others leave. Checks every URL before changing anything. A new
        instance's health URL: see :func:`moved_health_url`. ``checked``: the URLs came
        through a checked path (:class:`Instance`); a kept instance becomes checked too,
        never the other way round."""
        current = {i.url: i for i in self.instances}
        instances: dict[UpstreamURL, Instance] = {}
        for base_url in base_urls:
            url = parse_upstream_url("base_url", base_url)
            if url not in instances:
                instances[url] = current.get(url) or Instance(
                    url, moved_health_url(url, base_url, self.health_check_url), checked=checked
                )
        if checked:
            for instance in instances.values():
                instance.checked = True
        self.instances = list(instances.values())  # one assignment: readers see old or new

    def pick(self) -> Instance | None:
        """The next healthy instance, round robin; ``None`` when none is healthy."""
        instances = self.instances
        if len(instances) == 1:
            only = instances[0]
            return only if only.healthy else None
        healthy = [i for i in instances if i.healthy]
        if not healthy:
            return None
        return healthy[next(self._rotation) % len(healthy)]

    def healthy_count(self) -> int:
        return sum(1 for i in self.instances if i.healthy)

    def describe(self) -> dict[str, Any]:
        """A JSON-safe description: no credentials, no internals beyond the redacted URL."""
        return {
            "service_id": self.service_id,
            "name": self.name,
            "version": self.version,
            "path_prefix": self.prefix,
            "strip_prefix": self.strip_prefix,
            "route": self.template,
            "metadata": self.metadata,
            "instances": [
                {"base_url": i.display_url(), "healthy": i.healthy} for i in self.instances
            ],
            "healthy_instances": self.healthy_count(),
        }


def validate_identity(service_id: Any, name: Any, version: Any, prefix: Any) -> str:
    """Check the identity arguments of ``register_service``; return the normalised prefix."""
    if not isinstance(service_id, str) or not _SERVICE_ID.match(service_id):
        raise InvalidServiceError.build(
            "service_id", service_id, "letters, digits and ._:- (at most 128), e.g. 'users'"
        )
    if not isinstance(name, str) or not name.strip():
        raise InvalidServiceError.build("name", name, "a non-empty string")
    if not isinstance(version, str) or not _VERSION.match(version):
        raise InvalidServiceError.build(
            "version", version, "a path segment of letters, digits and ._- such as 'v1'"
        )
    if prefix is None:
        prefix = ""
    if not isinstance(prefix, str):
        raise InvalidServiceError.build("path_prefix", prefix, "a path such as '/users'")
    prefix = prefix.strip()
    if prefix and not prefix.startswith("/"):
        prefix = "/" + prefix
    prefix = prefix.rstrip("/")
    if not _PREFIX.match(prefix) or "{" in prefix:
        raise InvalidServiceError.build("path_prefix", prefix, "a path such as '/users'")
    return str(prefix)
