"""The host: its resource attributes, and which one of its processes reports ``system.*``.

``system.*`` metrics describe the machine, not the process: when every process of a host
reported them, host panels drew one identical line per process and host alerts fired once
per process. With ``OTEL_AGENTS_HOST_METRICS=auto`` (the default) the processes of a host
elect one reporter with an exclusive lock on a file:

* the file is ``<temp dir>/otel-agents-<uid>/host-metrics-<host name>.lock``; the directory
  is created private (0700) and must be a real directory owned by this user, and the file is
  opened without following symbolic links, so another user cannot redirect or pre-empt it;
* a process takes the lock (``flock``, non-blocking) the first time it collects, and keeps the
  file open for its lifetime; the kernel releases the lock when the process exits, however it
  exits (even ``SIGKILL``), or when :meth:`HostElection.release` runs at ``shutdown()``;
* every other process tries again at each collection, so when the reporter goes away the
  next process to collect takes over: a gap of at most one export interval, never two
  reporters at once (the kernel grants the lock to one process only);
* a forked child closes the descriptor it inherited (the lock stays the parent's) and stands
  for election itself.

The election is per user and per temporary directory: processes of different users, or in
containers with their own ``/tmp``, each elect their own reporter. Where the lock cannot be
used (no ``fcntl``, an unusable temp dir) the process reports, as with ``on``: duplicates
rather than a gap. ``process.*`` metrics are always reported by every process.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import socket
import stat
import tempfile
import threading
from typing import Any

from opentelemetry.sdk.resources import Resource

from otel_agents import _plugins as plugins
from otel_agents._logs import redacting_logger

__all__ = ["HostElection", "host_resource"]

_logger = redacting_logger("otel_agents")

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: every process reports
    fcntl = None  # type: ignore[assignment]

#: The SDK's resource detectors (entry points) that describe the host and its OS.
_DETECTORS = ("host", "os")
_DETECTORS_VARIABLE = "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS"


def host_resource() -> Resource:
    """``host.name``, ``host.arch``, ``host.id``, ``os.type``, ``os.version`` of this host.

    From the SDK's ``host`` and ``os`` resource detectors. Nothing when the user set
    ``OTEL_EXPERIMENTAL_RESOURCE_DETECTORS``: then the SDK runs exactly the detectors named
    there. The caller merges ``OTEL_RESOURCE_ATTRIBUTES`` over this, so the user's values win.
    """
    if os.environ.get(_DETECTORS_VARIABLE, "").strip():
        return Resource.get_empty()
    resource = Resource.get_empty()
    for name in _DETECTORS:
        detector = plugins.find("opentelemetry_resource_detector", name)
        try:
            found = detector.load()().detect() if detector is not None else _own(name)
        except Exception:  # a detector must never break configure()
            _logger.warning("the %s resource detector failed", name, exc_info=True)
            continue
        resource = resource.merge(found)
    return resource


def _own(name: str) -> Resource:
    """What an SDK too old to have the ``host``/``os`` detectors is missing."""
    from opentelemetry.semconv._incubating.attributes import host_attributes, os_attributes

    if name == "host":
        return Resource(
            {
                host_attributes.HOST_NAME: socket.gethostname(),
                host_attributes.HOST_ARCH: platform.machine().lower(),
            }
        )
    return Resource({os_attributes.OS_TYPE: platform.system().lower()})


class HostElection:
    """Whether this process is the one of its host that reports ``system.*`` metrics.

    Args:
        directory: where the lock file lives; a private ``otel-agents-<uid>`` directory in
            the temporary directory (``TMPDIR``) by default.
    """

    def __init__(self, directory: str | None = None) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0
        self._held = False
        self._failed = False

    @property
    def path(self) -> str:
        """The lock file."""
        directory = self._directory or os.path.join(tempfile.gettempdir(), f"otel-agents-{_user()}")
        host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname())[:64] or "host"
        return os.path.join(directory, f"host-metrics-{host}.lock")

    def holds(self) -> bool:
        """Whether this process reports now; stands for election if it does not yet."""
        with self._lock:
            if self._pid != os.getpid():
                self._forget()  # forked: what we inherited is the parent's lock
            if self._held:
                return True
            if self._failed:
                return True  # no usable lock: report, duplicates rather than a gap
            if self._fd is None:
                try:
                    self._fd = self._open()
                except OSError as exc:
                    self._failed = True
                    _logger.warning(
                        "the host metrics election cannot use %s (%s); this process reports "
                        "system.* metrics itself (OTEL_AGENTS_HOST_METRICS=on behaviour)",
                        self.path,
                        exc,
                    )
                    return True
                self._pid = os.getpid()
            self._held = _try_lock(self._fd)
            return self._held

    def release(self) -> None:
        """Give the lock up (another process takes over at its next collection)."""
        with self._lock:
            if self._pid == os.getpid():
                self._close()
            else:
                self._forget()
            self._failed = False

    def _open(self) -> int:
        if fcntl is None:
            raise OSError("file locks (fcntl) are not available on this platform")
        path = self.path
        directory = os.path.dirname(path)
        if self._directory is None:
            with contextlib.suppress(FileExistsError):
                os.mkdir(directory, 0o700)
            info = os.lstat(directory)
            if not stat.S_ISDIR(info.st_mode) or (
                hasattr(os, "getuid") and info.st_uid != os.getuid()
            ):
                raise OSError(f"{directory} is not a directory owned by this user")
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        return os.open(path, flags, 0o600)

    def _close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # releases the flock lock of this open file
        self._fd, self._held = None, False

    def _forget(self) -> None:
        # Closing a forked child's copy does not release the lock (the parent still holds
        # the open file); unlocking it would, so never call LOCK_UN here.
        self._close()
        self._pid = os.getpid()


def _try_lock(fd: int) -> bool:
    assert fcntl is not None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        _logger.debug("the host metrics lock failed", exc_info=True)
        return False
    return True


def _user() -> Any:
    getuid = getattr(os, "getuid", None)
    if getuid is not None:
        return getuid()
    return re.sub(r"[^A-Za-z0-9_.-]", "_", os.environ.get("USERNAME", "user"))
