"""Variables read outside :func:`otel_agents.configure`: servers, exports, messaging keys.

Declared like every setting (:mod:`otel_agents._config_params`). The secrets are declared
with ``read_by``: the module named there reads them when it needs them, and no message ever
shows their value.
"""

from __future__ import annotations

from otel_agents._config_params import Component, Param, declared_in
from otel_agents._settings_parsers import parse_millis_as_seconds

__all__ = [
    "DRAIN_TIMEOUT",
    "EXPORT_KEY",
    "MESSAGING_SECRET",
    "MESSAGING_SIGNING_KEY",
    "MESSAGING_VERIFICATION_KEYS",
    "NATS_PASSWORD",
    "NATS_TOKEN",
    "NATS_USER",
    "SERVERS",
    "SERVER_PARAMS",
    "SHUTDOWN_TIMEOUT",
]

#: Read by the ``otel-agents`` servers, ``shutdown()`` and the exports; a bad value warns.
SERVERS = Component("otel-agents servers", label="{key}", environment_warns=True)
S = SERVERS
SHUTDOWN_TIMEOUT = Param(
    S,
    None,
    "OTEL_AGENTS_SHUTDOWN_TIMEOUT",
    5.0,
    (
        "milliseconds `shutdown()` (and exit) may take; what is not exported by then is dropped, "
        "counted and logged"
    ),
    parse=parse_millis_as_seconds,
    shown_default="`5000`",
)
# With SHUTDOWN_TIMEOUT, the longest stop of a CLI server: 8 s, within Docker's 10 s.
DRAIN_TIMEOUT = Param(
    S,
    None,
    "OTEL_AGENTS_DRAIN_TIMEOUT",
    3.0,
    (
        "milliseconds the `otel-agents` hub, agents and gateway let requests in flight finish "
        "after SIGTERM"
    ),
    parse=parse_millis_as_seconds,
    shown_default="`3000`",
)


def _secret(variable: str, description: str, read_by: str) -> Param[str | None]:
    """A secret variable: no default, never shown, read by ``read_by`` when it needs it."""
    return Param(
        S, None, variable, None, description, shown_default="none", secret=True, read_by=read_by
    )


EXPORT_KEY = _secret(
    "OTEL_AGENTS_EXPORT_KEY",
    (
        "Fernet key for `export_*(..., encrypt=True)` and `demo --encrypt` "
        "(`otel_agents.generate_export_key()`)"
    ),
    "otel_agents._encryption",
)
MESSAGING_SECRET = _secret(
    "OTEL_AGENTS_MESSAGING_SECRET",
    (
        "agent messaging over HTTP: bearer token (the hub refuses to start without it unless "
        "`--insecure`)"
    ),
    "otel_agents.messaging._security",
)
MESSAGING_SIGNING_KEY = _secret(
    "OTEL_AGENTS_MESSAGING_SIGNING_KEY",
    "agent messaging over HTTP: envelope signing key",
    "otel_agents.messaging._security",
)
MESSAGING_VERIFICATION_KEYS = _secret(
    "OTEL_AGENTS_MESSAGING_VERIFICATION_KEYS",
    "older signing keys still accepted during a rotation (comma list)",
    "otel_agents.messaging._security",
)
NATS_TOKEN = _secret(
    "OTEL_AGENTS_NATS_TOKEN",
    "agent messaging over NATS: the broker's token (keeps it out of URLs on command lines)",
    "otel_agents.messaging._nats",
)
NATS_USER = _secret(
    "OTEL_AGENTS_NATS_USER",
    "agent messaging over NATS: user name (with `OTEL_AGENTS_NATS_PASSWORD`)",
    "otel_agents.messaging._nats",
)
NATS_PASSWORD = _secret(
    "OTEL_AGENTS_NATS_PASSWORD",
    "agent messaging over NATS: password",
    "otel_agents.messaging._nats",
)

#: Every setting above, in order.
SERVER_PARAMS = declared_in(globals(), SERVERS)
