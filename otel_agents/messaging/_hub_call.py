"""One call from an agent to its hub, bounded in total time and in the size of its answer.

The hub is network input to an agent like any other (``hub_url`` may point anywhere, and
a proxy may sit in between). httpx's ``timeout`` bounds each network operation, not the
call, so a hub that answers ``202`` and then one byte a second would hold the call, and the
agent's outbox with every send queued behind it, for as long as it likes; and
``response.json()`` reads an answer of any size. So, as for the hub's own calls to inboxes
(:mod:`otel_agents.messaging._inbox_call`), the whole call runs under one deadline and the
answer is read raw (``accept-encoding: identity``) and refused past
:data:`MAX_HUB_ANSWER` bytes. Each bound failing is a :class:`DeliveryError`:
``hub_timeout``, ``answer_too_large``, or ``hub_unreachable`` for an HTTP error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import httpx

from otel_agents._bounded_read import IDENTITY, TooLarge, aread_capped
from otel_agents._errors import invalid_type, invalid_value, printable
from otel_agents._numbers import is_real
from otel_agents.messaging._errors import DeliveryError
from otel_agents.messaging._wire import MAX_DETAIL, from_wire

__all__ = ["MAX_HUB_ANSWER", "call_hub", "check_timeout"]

#: The most bytes of a hub's answer an agent reads: ample for a list of tens of thousands
#: of agents (a few hundred bytes each); the hub's other answers are a few hundred bytes.
MAX_HUB_ANSWER = 16 * 1024 * 1024


async def call_hub(
    client: httpx.AsyncClient,
    method: str,
    hub_url: str,
    path: str,
    *,
    hub_shown: str,
    timeout: float,
    headers: dict[str, str],
    body: bytes | None = None,
    params: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> Any:
    """``method path`` on the hub within ``timeout`` seconds in all; its JSON answer
    (``None`` if it is not JSON). A refusal raises the error its code stands for
    (:func:`~otel_agents.messaging._wire.from_wire`), its message showing the answer's
    ``detail`` cut to :data:`MAX_DETAIL` characters, control characters escaped;
    ``hub_shown`` names the hub in errors (never its credentials). ``auth`` is the
    ``(user, password)`` of ``hub_url``'s userinfo, taken out of the URL (see
    :func:`~otel_agents._export.split_userinfo`) so that httpx's log lines cannot show it."""
    basic = httpx.BasicAuth(*auth) if auth is not None else httpx.USE_CLIENT_DEFAULT
    try:
        async with asyncio.timeout(timeout):
            async with client.stream(
                method, hub_url + path, content=body, headers={**headers, **IDENTITY},
                params=params, auth=basic,
            ) as response:  # fmt: skip
                status = response.status_code
                content = await aread_capped(response, MAX_HUB_ANSWER)
    except TimeoutError as exc:
        raise DeliveryError(
            f"the hub at {hub_shown} did not answer {method} {path} in full within "
            f"timeout={timeout:g} s: check that it is responsive, or raise the agent's timeout",
            reason="hub_timeout",
        ) from exc
    except TooLarge as exc:
        raise DeliveryError(
            f"the hub at {hub_shown} answered {method} {path} with more than "
            f"{MAX_HUB_ANSWER} bytes: check that hub_url points at an otel-agents hub",
            reason="answer_too_large",
        ) from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(
            f"the hub at {hub_shown} is unreachable ({type(exc).__name__}): check that "
            "`otel-agents hub` is running there",
            reason="hub_unreachable",
        ) from exc
    data: Any = None
    with contextlib.suppress(ValueError, RecursionError):
        data = json.loads(content)
    if status >= 400:
        error = data.get("error") if isinstance(data, dict) else None
        detail: Any = data.get("detail") if isinstance(data, dict) else None
        if not isinstance(detail, str):
            detail = content[: 4 * MAX_DETAIL].decode("utf-8", "replace")
        # The answer may be 16 MiB of terminal escapes and forged log lines: this message is
        # printed by `otel-agents send` and logged by a running agent every second.
        message = f"the hub refused {method} {path} (HTTP {status}): "
        message += printable(detail, MAX_DETAIL)
        raise from_wire(error, message, status)
    return data


def check_timeout(timeout: Any) -> float:
    """``timeout`` as seconds, or the error naming it."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise invalid_type("timeout", timeout, "a number of seconds")
    if not is_real(timeout) or timeout <= 0:
        raise invalid_value("timeout", timeout, "a positive, finite number of seconds")
    return float(timeout)
