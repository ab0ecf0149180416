"""The agent registry on a JetStream key-value bucket: discovery and liveness with no hub.

Each agent is one key (its escaped id) whose value is its registry entry as JSON. Its
heartbeats put the entry again; the bucket's TTL (``heartbeat_interval`` times
``heartbeat_miss_limit``) drops an agent that stopped beating, so a process that starts
later does not see it. Every process watches the bucket and mirrors it into its own
:class:`~otel_agents.messaging._registry.AgentRegistry`: a put registers or refreshes the
agent (its heartbeat time is when the put was seen here), a delete unregisters it. The
registry's own heartbeat check then marks silent agents offline, as in process.

A value from the bucket is input from the network: it is parsed strictly and bounded in size,
and a bad one is skipped and counted, never trusted. Any client may write any number of bad
keys, so none is remembered, and at most ``BAD_BURST`` warnings a minute say so.

The transport watches through :class:`Mirror`: the entries of the agents this process runs
are decided by this process, whoever deletes them or puts something else under their keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections import deque
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from otel_agents._errors import MessagingError
from otel_agents._logs import redacting_logger
from otel_agents.messaging._errors import InvalidMessageError
from otel_agents.messaging._message import AgentStatus
from otel_agents.messaging._nats_io import agent_token
from otel_agents.messaging._registry import AgentInfo, AgentRegistry

if TYPE_CHECKING:
    from nats.js.kv import KeyValue

    from otel_agents.messaging._nats import NatsTransport

__all__ = ["KvRegistry", "Mirror", "checked_entry", "entry_of"]

_logger = redacting_logger("otel_agents.messaging")

#: The largest registry entry accepted from the bucket.
MAX_ENTRY = 64 * 1024
#: Warnings about bad bucket entries logged per ``BAD_PERIOD`` seconds at most.
BAD_BURST = 5
BAD_PERIOD = 60.0
#: Seconds between two put-backs of one own agent's entry, at least: two processes that
#: both run an agent (a rolling restart, replicas) each take the other's entry for a
#: forgery, and unbounded put-backs would answer each other for ever.
PUT_BACK_INTERVAL = 1.0


def entry_of(info: AgentInfo) -> bytes:
    """The bucket value of an agent (what :meth:`KvRegistry.apply` reads back)."""
    data = info.to_dict()
    data["status"] = info.status.value
    return json.dumps(data, separators=(",", ":")).encode()


def checked_entry(info: AgentInfo) -> bytes:
    """The bucket value of an agent about to register; raises when it is over ``MAX_ENTRY``,
    which every other process would skip (the agent would be found nowhere else)."""
    value = entry_of(info)
    if len(value) > MAX_ENTRY:
        metadata = len(json.dumps(info.metadata, separators=(",", ":")).encode())
        raise InvalidMessageError(
            f"the registry entry of agent {info.agent_id!r} is {len(value)} bytes as JSON, "
            f"over the {MAX_ENTRY}-byte limit of the NATS agents bucket: register fewer or "
            f"shorter capabilities ({len(info.capabilities)} given) or less metadata "
            f"({metadata} bytes)"
        )
    return value


class KvRegistry:
    """Mirrors the agents bucket into ``registry``; a task on the transport's loop."""

    def __init__(self, kv: KeyValue, registry: AgentRegistry) -> None:
        self.kv = kv
        self.registry = registry
        self._task: asyncio.Task[None] | None = None
        #: Bad entries skipped since the watch began (any client may put them).
        self.ignored = 0
        self._warned_at = -math.inf
        self._warned = 0
        self._unlogged = 0
        self._watcher: Any = None
        #: Set once the entries present when the watch began are mirrored.
        self.ready = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        """Watch the bucket for ever; a broken watch (a server restart) is started again."""
        while True:
            try:
                self._watcher = watcher = await self.kv.watchall()
                async for entry in watcher:
                    if entry is None:
                        self.ready.set()  # the end of the initial values
                        continue
                    self._apply(entry.key, entry.value, entry.operation)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _logger.debug("agents bucket watch ended (%s); watching again", exc)
            await asyncio.sleep(0.2)

    def _apply(self, key: str, value: bytes | None, operation: Any) -> None:
        if operation in ("DEL", "PURGE") or value is None:
            self._gone(key)
            return
        try:
            self.apply(value, key)
        except (ValueError, TypeError, RecursionError, MessagingError) as exc:
            self._ignore(key, exc)

    def _ignore(self, key: str, exc: Exception) -> None:
        """Count a bad entry; warn about it unless ``BAD_BURST`` warnings were logged in the
        last minute (the next warning says how many went unlogged meanwhile)."""
        self.ignored += 1
        now = time.monotonic()
        if now - self._warned_at >= BAD_PERIOD:
            self._warned_at, self._warned = now, 0
        if self._warned >= BAD_BURST:
            self._unlogged += 1
            return
        self._warned += 1
        unlogged, self._unlogged = self._unlogged, 0
        _logger.warning(
            "ignoring the agents bucket entry %r: %s (%d more ignored without a warning "
            "before it; at most %d such warnings a minute)",
            key[:140],
            str(exc)[:300],
            unlogged,
            BAD_BURST,
        )

    def apply(self, value: bytes, key: str | None = None) -> AgentInfo:
        """Register or refresh the agent ``value`` describes; raises for a bad entry, and for
        one stored under another agent's key (it must not rewrite that agent)."""
        if len(value) > MAX_ENTRY:
            raise ValueError(f"the entry is {len(value)} bytes, over {MAX_ENTRY}")
        data = json.loads(value)
        if not isinstance(data, dict):
            raise ValueError("the entry is not a JSON object")
        agent_id = data.get("agent_id")
        if key is not None and (not isinstance(agent_id, str) or agent_token(agent_id) != key):
            raise ValueError(f"the entry describes agent {str(agent_id)[:140]!r}, not its key's")
        status = AgentStatus(data.get("status", AgentStatus.ONLINE.value))
        registry = self.registry
        known = registry.lookup(agent_id) if isinstance(agent_id, str) else None
        fields = (data.get("name"), data.get("capabilities"), data.get("endpoint"))
        if known is None or (known.name, list(known.capabilities), known.endpoint) != fields:
            if known is not None and known.endpoint != data.get("endpoint"):
                registry.unregister(known.agent_id)
            registry.register(
                agent_id,  # type: ignore[arg-type]  # checked by register()
                data.get("name"),  # type: ignore[arg-type]
                data.get("capabilities") or [],
                data.get("endpoint"),  # type: ignore[arg-type]
                data.get("metadata"),
            )
        return registry.heartbeat(agent_id, status)  # type: ignore[arg-type]

    def _gone(self, key: str) -> None:
        for info in self.registry.agents():
            if agent_token(info.agent_id) == key:
                with contextlib.suppress(MessagingError):
                    self.registry.unregister(info.agent_id)
                return

    async def renew(self) -> None:
        """End the current watch; the watching task starts a fresh one (all entries again)."""
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await self._watcher.stop()

    async def close(self) -> None:
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await self._watcher.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            self._task = None


class Mirror(KvRegistry):
    """The bucket watch, except for the agents this process registered and still runs: their
    entries are decided here, not by whoever writes to the bucket.

    * An entry deleted by another process (an operator's ``unregister_agent``, an old
      instance) stays in this process's registry: its next heartbeat puts the entry back,
      so the agent is found again rather than lost for good while it still serves.
    * An entry put by another process (a forgery: another name, endpoint, capabilities or
      ``offline``) is not applied here, and this process's own entry is put back at once,
      so the other processes see the real one again.
    """

    def __init__(self, kv: Any, registry: AgentRegistry, transport: NatsTransport) -> None:
        super().__init__(kv, registry)
        self.transport = transport
        self._said: set[str] = set()
        self._forged: set[str] = set()
        #: The last values this process put per agent: their echoes are not forgeries.
        self._ours: dict[str, deque[bytes]] = {}
        self._putting: set[asyncio.Future[Any]] = set()
        #: When each own agent's entry was last put back, and those with one scheduled.
        self._put_back_at: dict[str, float] = {}
        self._put_back_later: dict[str, asyncio.TimerHandle] = {}

    def put(self, info: AgentInfo) -> Coroutine[Any, Any, Any]:
        """The put of ``info``'s entry, remembered so that the watch knows its echo."""
        value = entry_of(info)
        if info.agent_id in self._ours or len(self._ours) < _SAID:
            self._ours.setdefault(info.agent_id, deque(maxlen=_ECHOES)).append(value)
        return self.kv.put(self.transport.names.group(info.agent_id), value)

    def _local(self, key: str) -> str | None:
        """The agent this process runs whose key ``key`` is, if any."""
        group = self.transport.names.group
        return next((agent for agent in list(self.transport.local) if group(agent) == key), None)

    def _apply(self, key: str, value: bytes | None, operation: Any) -> None:
        agent_id = self._local(key)
        if agent_id is None:
            super()._apply(key, value, operation)
        elif operation in ("DEL", "PURGE") or value is None:
            self._gone(key)
        else:
            self._own(agent_id, value)

    def _own(self, agent_id: str, value: bytes) -> None:
        """A put under the key of an agent this process runs: anything but its own entry is
        overwritten with it (a stale echo of an earlier put of ours, silently)."""
        info = self.registry.lookup(agent_id)
        ours = self._ours.get(agent_id, ())
        if info is None or (ours and value == ours[-1]):
            # Being unregistered; or the newest put of ours, which may be ahead of the
            # registry (a registration is put before the registry stores it).
            return
        if value == entry_of(info):
            return
        if value not in ours and _first(self._forged, agent_id):
            _logger.warning(
                "another process put an entry for %r (run by this process) into the agents "
                "bucket: ignored here, and this process's entry is put back (logged once)",
                agent_id,
            )
        self._put_back(agent_id)

    def _put_back(self, agent_id: str) -> None:
        """Put ``agent_id``'s own entry back now, or once ``PUT_BACK_INTERVAL`` has passed
        since the last put-back (one scheduled at most): another process running the same
        agent puts its own back too, and the two must not answer each other without end."""
        waited = time.monotonic() - self._put_back_at.get(agent_id, -math.inf)
        if waited < PUT_BACK_INTERVAL:
            if agent_id not in self._put_back_later:
                self._put_back_later[agent_id] = asyncio.get_running_loop().call_later(
                    PUT_BACK_INTERVAL - waited, self._put_back_scheduled, agent_id
                )
            return
        info = self.registry.lookup(agent_id)
        if info is None or agent_id not in self.transport.local:
            return  # unregistered meanwhile
        self._put_back_at[agent_id] = time.monotonic()
        putting = asyncio.ensure_future(self.put(info))
        self._putting.add(putting)
        putting.add_done_callback(self._put_done)

    def _put_back_scheduled(self, agent_id: str) -> None:
        self._put_back_later.pop(agent_id, None)
        self._put_back(agent_id)

    async def close(self) -> None:
        for handle in self._put_back_later.values():
            handle.cancel()
        self._put_back_later.clear()
        await super().close()

    def _put_done(self, putting: asyncio.Future[Any]) -> None:
        self._putting.discard(putting)
        if not putting.cancelled() and putting.exception() is not None:
            _logger.debug("putting an agent's entry back failed: %r", putting.exception())

    def forget(self, agent_id: str) -> None:
        """``agent_id`` is no longer run here."""
        self._ours.pop(agent_id, None)
        self._put_back_at.pop(agent_id, None)

    def _gone(self, key: str) -> None:
        agent_id = self._local(key)
        if agent_id is None:
            super()._gone(key)
        elif _first(self._said, agent_id):
            _logger.warning(
                "the registry entry of %r (run by this process) was deleted by another "
                "process: it is put back at the agent's next heartbeat",
                agent_id,
            )


#: Values remembered per agent (puts of this process whose echo may still be on its way).
_ECHOES = 8
#: Agents each "logged once" set remembers; past it, nothing more is logged.
_SAID = 1024


def _first(said: set[str], agent_id: str) -> bool:
    """Whether ``agent_id`` is seen for the first time (remembered while the set has room)."""
    if agent_id in said or len(said) >= _SAID:
        return False
    said.add(agent_id)
    return True
