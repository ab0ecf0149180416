"""Relaying a streamed upstream answer to the client while watching both ends.

A streamed answer (``_upstream_body.ResponseStream``) holds one of the pool's connections
to its upstream until the body ends, so the relay must end as soon as nobody takes the
body any more, not when the upstream is done:

* **The client went away.** An ASGI server's ``send()`` does nothing once the client has
  disconnected (uvicorn returns at once), so a relay that only sent would pull the whole
  upstream body for nobody. A watcher task waits on ``receive()`` for
  ``http.disconnect`` and ends the relay at once.
* **The client stopped reading.** ``send()`` waits for the client to drain the server's
  buffers, with no limit of its own. Every ``send`` gets ``send_timeout`` seconds (the
  gateway's ``request_timeout``); a client that takes nothing for that long is cut off.
* **The upstream broke off** (the body was cut short, arrived too slowly, or broke HTTP):
  the error is returned to the caller, which records it, instead of being raised into the
  server (which would log a traceback per request: log spam a hostile upstream controls).

In each case the upstream connection is closed (its rest is unread, it cannot be reused)
and the response is *not* completed: no ``more_body=False`` is sent, so the server closes
the client's connection and a truncated body never looks complete (no last chunk, or fewer
bytes than the ``Content-Length``). A server that offers :data:`ABORT_RESPONSE` (the
gateway's uvicorn protocol does) drops the connection at once instead: uvicorn on its own
logs one error line per unfinished response, and its ``close()`` waits for a client that
reads nothing to take the buffered bytes first.

One timeout object, rescheduled, bounds every send and carries the watcher's "now": no
timer per piece.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from otel_agents import semconv
from otel_agents._logs import redacting_logger
from otel_agents.gateway._errors import UpstreamError
from otel_agents.gateway._exchange import RawHeaders, Receive, Scope, Send
from otel_agents.gateway._upstream_body import ResponseStream

__all__ = ["ABORT_RESPONSE", "Relayed", "relay", "server_abort"]

#: An ASGI scope extension the server running the gateway may offer:
#: ``scope["extensions"][ABORT_RESPONSE]["abort"]()`` drops the client's connection at once
#: (``_serving.BoundedHeadProtocol`` offers it). Without it an unfinished response is left
#: to the server, which closes the connection once the app returns.
ABORT_RESPONSE = "otel_agents.gateway.abort_response"


@dataclass(frozen=True, slots=True)
class Relayed:
    """How a relay ended: ``error_type`` is empty when the whole body reached the client;
    ``upstream`` is the upstream's failure, when it was the upstream that broke off."""

    error_type: str = ""
    upstream: UpstreamError | None = None


Abort = Callable[[], None]
_logger = redacting_logger("otel_agents.gateway")

#: Messages other than ``http.disconnect`` that the watcher takes before it stops watching
#: (the rest of a body the pipeline did not read: only a length-less HTTP/2 request has one).
_MAX_MESSAGES = 256

_COMPLETE = Relayed()
_CLIENT_GONE = Relayed(semconv.GATEWAY_ERROR_RESPONSE_ABORTED)
_CLIENT_STALLED = Relayed(semconv.GATEWAY_ERROR_RESPONSE_TIMEOUT)


class _Deadline:
    """The relay's one timeout: each send's deadline, or "now" once the client is gone
    (which no later send may push back)."""

    __slots__ = ("gone", "loop", "timeout")

    def __init__(self, timeout: asyncio.Timeout) -> None:
        self.timeout = timeout
        self.loop = asyncio.get_running_loop()
        self.gone = False

    def sending(self, seconds: float) -> None:
        if not self.gone:
            self.timeout.reschedule(self.loop.time() + seconds)

    def reading(self) -> None:
        if not self.gone:
            self.timeout.reschedule(None)  # the stream bounds its reads itself

    async def watch(self, receive: Receive) -> None:
        """Wait for the client's disconnect, then end the relay. Cancelled when the relay
        ends first. Each ``receive()`` waits for the server's next event: after the request
        body (already read whole) that is the disconnect (bounded in count all the same)."""
        try:
            for _ in range(_MAX_MESSAGES):
                if (await receive())["type"] == "http.disconnect":
                    break
                await asyncio.sleep(0)  # a receive() that never waits must not hog the loop
            else:
                return  # not a server that says when its client left: the deadlines hold
        except Exception:  # a server whose receive() fails: the send deadlines still hold
            return
        self.gone = True
        if not self.timeout.expired():
            self.timeout.reschedule(self.loop.time())


def server_abort(scope: Scope) -> Abort | None:
    """The server's way to drop the client's connection (:data:`ABORT_RESPONSE`), if any."""
    extensions = scope.get("extensions")
    offered = extensions.get(ABORT_RESPONSE) if extensions else None
    abort: Abort | None = offered.get("abort") if isinstance(offered, dict) else None
    return abort if callable(abort) else None


async def relay(
    send: Send,
    receive: Receive,
    status: int,
    headers: RawHeaders,
    stream: ResponseStream,
    send_timeout: float,
    abort: Abort | None = None,
) -> Relayed:
    """Send the head and every piece of ``stream`` to the client (see the module).

    On any ending but a complete one the stream is closed, ``abort`` (when given) is
    called, and the response is left unfinished; other exceptions (a cancellation)
    propagate with the stream closed.
    """
    try:
        async with asyncio.timeout(None) as timeout:
            deadline = _Deadline(timeout)
            deadline.sending(send_timeout)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            deadline.reading()
            # Watched from the head on: a receive() before it could make uvicorn write a
            # "100 Continue" (for an Expect the pipeline had no body to read for) first.
            watcher = asyncio.get_running_loop().create_task(deadline.watch(receive))
            try:
                async for chunk in stream:
                    deadline.sending(send_timeout)
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    deadline.reading()
                # The connection back to the pool before the last, empty piece.
                await stream.aclose()
                deadline.sending(send_timeout)
                await send({"type": "http.response.body", "body": b""})
            finally:
                watcher.cancel()
    except TimeoutError:
        ended = _CLIENT_GONE if deadline.gone else _CLIENT_STALLED
    except UpstreamError as exc:  # the stream closed its connection already
        ended = Relayed(exc.error_type, exc)
    else:
        return _COMPLETE
    finally:
        await stream.aclose()
    if abort is not None:
        try:
            abort()
        except Exception:  # the server's abort failed: it closes the connection itself
            _logger.debug("gateway: the server's abort_response failed", exc_info=True)
    return ended
