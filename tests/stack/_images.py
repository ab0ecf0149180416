"""What ``docker-compose.yml`` says, and how each of its images runs here without Docker.

The compose file is read as it is (:func:`load_compose`, :func:`interpolate` for its
``${VAR:-default}``); :data:`IMAGES` says which binary built here stands for each image and
what the image's own defaults imply (arguments, variables, scratch folders, health URL), and
:func:`map_flags` / :func:`split_port_tokens` bring an image's host and port flags into the
one ``host:port`` form that :class:`_topology.Ports` maps to the loopback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"


@dataclass(frozen=True)
class ImageRuntime:
    """How one compose image runs here."""

    binary: str  # a key of the binaries mapping given to Topology
    #: Arguments the image's defaults imply (Prometheus listens on :9090 unless told).
    implicit_args: tuple[str, ...] = ()
    #: Container paths the image writes to that no volume mounts (mapped to empty folders).
    scratch: tuple[str, ...] = ()
    #: Variables the image's program reads with a default that names the container itself
    #: (``localhost``): made explicit, so that they are mapped like the compose ones.
    implicit_env: tuple[tuple[str, str], ...] = ()
    #: A health URL for images that have no shell for a compose healthcheck.
    ready_url: str | None = None
    #: Flags whose value is a bind host (mapped to 127.0.0.1) or a listening port (mapped to a
    #: free one), as the image's program spells them.
    host_flags: tuple[str, ...] = ("--host",)
    port_flags: tuple[str, ...] = ("--port",)


IMAGES: dict[str, ImageRuntime | None] = {
    "otel/opentelemetry-collector-contrib": ImageRuntime(
        "otelcol", ready_url="http://0.0.0.0:13133/"
    ),
    # Jaeger traces its own queries to the OTLP default, localhost:4317: in its container,
    # its own receiver (here, a Jaeger that stops would wait for a port nothing listens on).
    "jaegertracing/jaeger": ImageRuntime(
        "jaeger", implicit_env=(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4317"),)
    ),
    "prom/prometheus": ImageRuntime(
        "prometheus",
        implicit_args=("--web.listen-address=0.0.0.0:9090",),
        scratch=("/prometheus", "/usr/share/prometheus"),
    ),
    "victoriametrics/victoria-logs": ImageRuntime("victorialogs", scratch=("/victoria-logs-data",)),
    "prom/alertmanager": ImageRuntime("alertmanager", scratch=("/alertmanager",)),
    "otel-agents:local": ImageRuntime("otel-agents"),
    # nats-server binds every interface unless told: the implicit --addr makes that explicit,
    # so that it is mapped to the loopback (the monitoring port binds the same host).
    "nats": ImageRuntime(
        "nats",
        implicit_args=("--addr", "0.0.0.0"),
        host_flags=("-a", "--addr", "--net"),
        port_flags=("-p", "--port", "-m", "--http_port"),
    ),
    "grafana/grafana": None,  # AGPL: not run here
}


def image_name(service: Mapping[str, Any]) -> str:
    """The image's repository without its tag (``otel-agents:local`` for ``build: .``)."""
    image = str(service.get("image", ""))
    if "build" in service:
        return image
    return image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image


def image_tag(service: Mapping[str, Any]) -> str:
    return str(service["image"]).rsplit(":", 1)[1]


def load_compose() -> dict[str, Any]:
    """``docker-compose.yml`` with its anchors and merge keys resolved."""
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def interpolate(value: str, environ: Mapping[str, str]) -> str:
    """Compose's ``${VAR}`` / ``${VAR:-default}`` with ``environ`` as the shell."""
    return _INTERPOLATION.sub(lambda m: environ.get(m[1]) or (m[2] or ""), value)


def map_flags(argv: list[str], runtime: ImageRuntime) -> list[str]:
    """``--host 0.0.0.0 --port N`` (the otel-agents commands; nats-server's ``--addr``,
    ``--port`` and ``--http_port``: :attr:`ImageRuntime.host_flags` and ``port_flags``) to
    ``0.0.0.0:N`` tokens.

    The port becomes a ``0.0.0.0:N`` token first so that the one mapping rule rewrites it; the
    caller's mapping turns it into ``127.0.0.1:<port>`` and this splits it back.
    """
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg in runtime.port_flags:
            out += [arg, f"0.0.0.0:{next(it)}"]
        elif arg in runtime.host_flags:
            next(it)
            out += [arg, "127.0.0.1"]
        else:
            out.append(arg)
    return out


def split_port_tokens(argv: list[str], runtime: ImageRuntime) -> list[str]:
    """Undo :func:`map_flags`' token: ``--port 127.0.0.1:N`` becomes ``--port N``."""
    return [
        a.rsplit(":", 1)[1] if i and argv[i - 1] in runtime.port_flags else a
        for i, a in enumerate(argv)
    ]
