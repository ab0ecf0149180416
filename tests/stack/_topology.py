"""The services of ``docker-compose.yml`` as local processes on 127.0.0.1, without Docker.

Each service runs with the command, environment and mounted config files the compose file
gives it, read from the file rather than retyped. Only what Docker would provide is mapped:

* host names and ports: ``otel-collector:4318``, ``0.0.0.0:4317``, ``localhost:9090`` and
  ``--host 0.0.0.0 --port 8101`` become ``127.0.0.1:<a free port>``, one per (service, port),
  in arguments, environment values and mounted config files alike; an image's defaults that
  name the container itself (nats-server's bind address, Jaeger's OTLP endpoint for its own
  traces) are made explicit first (:class:`_images.ImageRuntime`), then mapped the same way;
* mounted files: copied into the test's folder (with the mapping above applied), and their
  container paths in arguments and in other mounted files point at the copies; a named
  volume (``nats-data:/data``) is an empty folder of the test's;
* images: each one runs a binary built here (:data:`_images.IMAGES`); the ``otel-agents`` image runs
  this checkout's ``otel-agents`` command, or the service's ``entrypoint`` (``python``: this
  interpreter, for the example alert webhook receiver). Grafana is AGPL and not run: its
  dashboards are proven by their PromQL against the real Prometheus.

Readiness comes from the compose ``healthcheck`` URL (mapped), or from the image's health
endpoint for images without a shell. Every process is stopped by its pid.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _http
import httpx
from _images import (
    IMAGES,
    REPO,
    ImageRuntime,
    image_name,
    interpolate,
    load_compose,
    map_flags,
    split_port_tokens,
)
from _ports import free_port

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


@dataclass
class Ports:
    """One free loopback port per (service, container port), allocated on first use."""

    services: frozenset[str]
    mapped: dict[tuple[str, int], int] = field(default_factory=dict)

    def get(self, service: str, port: int) -> int:
        key = (service, port)
        if key not in self.mapped:
            self.mapped[key] = free_port()
        return self.mapped[key]

    def rewrite(self, text: str, own: str) -> str:
        """Map every ``host:port`` of a compose service (or of ``own``) in ``text``."""
        hosts = sorted(self.services, key=len, reverse=True)
        pattern = re.compile(
            r"(?<![\w.-])(0\.0\.0\.0|localhost|127\.0\.0\.1|"
            + "|".join(re.escape(h) for h in hosts)
            + r"):(\d+)(?!\d)"
        )

        def mapped(match: re.Match[str]) -> str:
            host = match[1] if match[1] in self.services else own
            return f"127.0.0.1:{self.get(host, int(match[2]))}"

        # YAML that gives the address as two keys (the Collector's own telemetry readers).
        split = re.compile(
            r"(?m)^(\s*)host: *\"?(0\.0\.0\.0|localhost|127\.0\.0\.1)\"?\n(\s*)port: *(\d+)$"
        )

        def mapped_split(match: re.Match[str]) -> str:
            port = self.get(own, int(match[4]))
            return f"{match[1]}host: 127.0.0.1\n{match[3]}port: {port}"

        return split.sub(mapped_split, pattern.sub(mapped, text))


@dataclass
class Process:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready_url: str | None
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.output().splitlines()[-lines:])


class Topology:
    """Plans, starts and stops the compose services as processes.

    Args:
        folder: where copies of mounted files, data and logs go.
        binaries: paths for the :data:`IMAGES` binary keys.
        environ: the shell compose would interpolate ``${VAR}`` from.
        transform: a hook ``(container path, text) -> text`` applied to mounted text files
            after mapping (the test drops alert hold times with it).
        environment: a hook ``(service, variables) -> variables`` applied to each service's
            environment after mapping (the test shortens export intervals with it).
        command: a hook ``(service, argv) -> argv`` applied to each service's arguments after
            mapping (the test shortens heartbeat intervals with it).
    """

    def __init__(
        self,
        folder: Path,
        binaries: Mapping[str, Path],
        environ: Mapping[str, str],
        transform: Callable[[str, str], str] | None = None,
        environment: Callable[[str, dict[str, str]], dict[str, str]] | None = None,
        command: Callable[[str, list[str]], list[str]] | None = None,
    ) -> None:
        self.compose = load_compose()
        self.services: dict[str, dict[str, Any]] = self.compose["services"]
        self.folder = folder
        self.binaries = binaries
        self.environ = environ
        self.transform = transform or (lambda _path, text: text)
        self.environment = environment or (lambda _name, env: env)
        self.command = command or (lambda _name, argv: argv)
        self.ports = Ports(frozenset(self.services))
        self.processes: dict[str, Process] = {}
        #: Services that did not exit within STOP_TIMEOUT of their signal and were killed.
        self.killed: set[str] = set()
        self.skipped = sorted(n for n, s in self.services.items() if IMAGES[image_name(s)] is None)

    # -- addresses ----------------------------------------------------------------------------
    def url(self, service: str, port: int, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports.get(service, port)}{path}"

    # -- planning -----------------------------------------------------------------------------
    def order(self) -> list[str]:
        """Services to run, each after what it ``depends_on``."""
        done: list[str] = []

        def visit(name: str) -> None:
            if name in done or name in self.skipped:
                return
            depends = self.services[name].get("depends_on") or {}
            for other in sorted(depends):
                visit(other)
            done.append(name)

        for name in self.services:
            visit(name)
        return done

    def needed(self, *names: str) -> list[str]:
        """``names`` and every service they depend on, in start order (a partial stack)."""
        wanted: set[str] = set()

        def visit(name: str) -> None:
            if name in wanted or name in self.skipped:
                return
            wanted.add(name)
            for other in self.services[name].get("depends_on") or {}:
                visit(other)

        for name in names:
            visit(name)
        return [name for name in self.order() if name in wanted]

    def plan(self, name: str) -> Process:
        service = self.services[name]
        runtime = IMAGES[image_name(service)]
        assert runtime is not None
        own = self.folder / name
        paths = self._mount(name, service, runtime, own)
        command = [str(a) for a in service.get("command") or []]
        # An `entrypoint` replaces the image's program: its first word names a binary here.
        entrypoint = [str(a) for a in service.get("entrypoint") or [runtime.binary]]
        program = [str(self.binaries[entrypoint[0]]), *entrypoint[1:]]
        argv = [*program, *command, *runtime.implicit_args]
        flagged = map_flags(argv, runtime)
        argv = split_port_tokens([self._map_text(a, name, paths) for a in flagged], runtime)
        argv = self.command(name, argv)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env["PYTHONUNBUFFERED"] = "1"
        # A container's own /tmp: the host-metrics election (a lock file in the temp dir) is
        # per container in compose, not shared with whatever else runs on this machine.
        (own / "tmp").mkdir(parents=True, exist_ok=True)
        env["TMPDIR"] = str(own / "tmp")
        for key, value in (*runtime.implicit_env, *(service.get("environment") or {}).items()):
            env[str(key)] = self.ports.rewrite(interpolate(str(value), self.environ), name)
        env = self.environment(name, env)
        ready = runtime.ready_url
        check = service.get("healthcheck", {}).get("test")
        if check:
            found = re.search(r"https?://[^\s'\"]+", " ".join(map(str, check)))
            ready = found[0] if found else None
        return Process(
            name,
            argv,
            env,
            self.ports.rewrite(ready, name) if ready else None,
            own / "output.log",
        )

    def _mount(
        self, name: str, service: Mapping[str, Any], runtime: ImageRuntime, own: Path
    ) -> dict[str, Path]:
        """Copy the service's volumes (mapped); return container path -> local path."""
        paths: dict[str, Path] = {}
        for volume in service.get("volumes") or []:
            source, target = str(volume).split(":")[:2]
            if not source.startswith((".", "/")):  # a named volume: starts empty
                paths[target] = own / "volumes" / source
                paths[target].mkdir(parents=True, exist_ok=True)
                continue
            local = own / "mounts" / target.lstrip("/")
            local.parent.mkdir(parents=True, exist_ok=True)
            origin = (REPO / source).resolve()
            if origin.is_dir():
                shutil.copytree(origin, local, dirs_exist_ok=True)
            else:
                shutil.copyfile(origin, local)
            paths[target] = local
        for scratch in runtime.scratch:
            local = own / "scratch" / scratch.lstrip("/")
            local.mkdir(parents=True, exist_ok=True)
            paths[scratch] = local
        for target, local in list(paths.items()):
            if local.is_relative_to(own / "volumes"):
                continue  # data the service writes, not config to map
            files = (
                [local] if local.is_file() else sorted(p for p in local.rglob("*") if p.is_file())
            )
            for file in files:
                text = file.read_text(encoding="utf-8")
                container = target + str(file)[len(str(local)) :]
                file.write_text(
                    self.transform(container, self._map_text(text, name, paths)), encoding="utf-8"
                )
        return paths

    def _map_text(self, text: str, name: str, paths: Mapping[str, Path]) -> str:
        text = self.ports.rewrite(interpolate(text, self.environ), name)
        for target in sorted(paths, key=len, reverse=True):
            text = re.sub(
                r"(?<![\w/.-])" + re.escape(target) + r"(?=$|[/\s\"':,])",
                lambda _m, t=target: str(paths[t]),
                text,
            )
        return text

    # -- running ------------------------------------------------------------------------------
    def start(self, names: Iterable[str] | None = None) -> None:
        """Start ``names`` (default: every service, in dependency order), each once ready."""
        for name in names if names is not None else self.order():
            process = self.plan(name)
            process.log.parent.mkdir(parents=True, exist_ok=True)
            with process.log.open("ab") as log:
                process.popen = subprocess.Popen(
                    process.argv,
                    env=process.env,
                    cwd=process.log.parent,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            self.processes[name] = process
            if process.ready_url:
                self.wait_ready(process)

    def wait_ready(self, process: Process, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        assert process.popen is not None
        assert process.ready_url is not None
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise RuntimeError(
                    f"{process.name} exited with {process.popen.returncode}:\n{process.tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if _http.get(process.ready_url, timeout=2.0).status_code == 200:
                    return
            time.sleep(0.05)  # a refused connection answers at once: poll often
        raise RuntimeError(f"{process.name} not ready at {process.ready_url}:\n{process.tail()}")

    def stop(self, *names: str, sig: signal.Signals = signal.SIGTERM) -> dict[str, float]:
        """Signal each named process (default: all); seconds each took to exit.

        As ``docker compose stop`` does: the services that depend on others first, those of
        one wave in parallel (each within STOP_TIMEOUT of its signal, else killed), so that
        a service still has what it depends on (its Collector) while it stops.
        """
        took: dict[str, float] = {}
        left = [n for n in (names or tuple(reversed(self.processes))) if self.running(n)]
        while left:
            wave = [n for n in left if not any(n in self._depends_on(o) for o in left)]
            started = {}
            for name in wave:
                popen = self.processes[name].popen
                assert popen is not None
                started[name] = time.monotonic()
                popen.send_signal(sig)
            for name in wave:
                popen = self.processes[name].popen
                assert popen is not None
                try:
                    popen.wait(max(0.0, started[name] + STOP_TIMEOUT - time.monotonic()))
                except subprocess.TimeoutExpired:
                    popen.kill()
                    popen.wait(STOP_TIMEOUT)
                    self.killed.add(name)
                took[name] = time.monotonic() - started[name]
            left = [n for n in left if n not in wave]
        return took

    def _depends_on(self, name: str) -> set[str]:
        """Every service ``name`` depends on, directly or not."""
        found: set[str] = set()
        todo = list(self.services[name].get("depends_on") or {})
        while todo:
            other = todo.pop()
            if other not in found:
                found.add(other)
                todo += list(self.services[other].get("depends_on") or {})
        return found

    def running(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.popen is not None and process.popen.poll() is None

    def report(self) -> str:
        """Each process's command and the tail of its output, for failure messages."""
        return "\n\n".join(
            f"== {p.name}: {' '.join(p.argv)}\n{p.tail(15)}" for p in self.processes.values()
        )
