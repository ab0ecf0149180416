"""This process's running tokens and cost per conversation, bounded, for the rollup gauges.

Every recorded model call adds its tokens and cost to its conversation (and agent). The
``agent.conversation.cost`` / ``agent.conversation.tokens`` gauges report the ``top``
most expensive of the conversations seen recently, per agent; summed across processes in
PromQL (``sum by (gen_ai_conversation_id)``) that is one conversation's total over every
agent and process it touched, without a trace query.

Memory is bounded twice: at most ``recent`` conversations are kept (the least recently
updated one makes room), each with at most ``agents_per_conversation`` agents (later ones are
folded into the last slot, agent id ``_other``); the gauges' cardinality is at most
``top * agents_per_conversation``.
"""

from __future__ import annotations

import heapq
import threading
from collections import OrderedDict
from collections.abc import Iterator

from otel_agents.genai._context import is_conversation_id

__all__ = ["OTHER_AGENT", "ConversationTotals"]

#: The agent id under which agents past ``agents_per_conversation`` are summed.
OTHER_AGENT = "_other"
#: The agent id of calls made outside any agent.
UNKNOWN_AGENT = ""


class ConversationTotals:
    """Tokens and cost per conversation and agent, for the most recent conversations."""

    __slots__ = ("__weakref__", "_agents", "_conversations", "_lock", "_recent", "top")

    def __init__(self, top: int = 20, recent: int = 1000, agents_per_conversation: int = 32):
        self.top = top
        self._recent = max(recent, top)
        self._agents = agents_per_conversation
        # conversation -> agent -> [cost, tokens]; ordered by last update.
        self._conversations: OrderedDict[str, dict[str, list[float]]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, conversation_id: str, agent_id: str | None, cost: float, tokens: int) -> None:
        """Add one call's ``cost`` (USD) and ``tokens`` to its conversation and agent.

        An unusable conversation id (empty, over 256 characters) is ignored: it would be a
        key held here and a gauge label exported (see ``_context.is_conversation_id``).
        """
        if not is_conversation_id(conversation_id):
            return
        agent = agent_id or UNKNOWN_AGENT
        with self._lock:
            agents = self._conversations.get(conversation_id)
            if agents is None:
                while len(self._conversations) >= self._recent:
                    self._conversations.popitem(last=False)
                agents = self._conversations[conversation_id] = {}
            else:
                self._conversations.move_to_end(conversation_id)
            totals = agents.get(agent)
            if totals is None:
                # The last slot is kept for the ones past the bound: at most `_agents` rows.
                if len(agents) >= self._agents - 1:
                    agent = OTHER_AGENT
                totals = agents.setdefault(agent, [0.0, 0.0])
            totals[0] += cost
            totals[1] += tokens

    def total(self, conversation_id: str) -> tuple[float, int]:
        """This process's (cost, tokens) so far for ``conversation_id``, over all agents."""
        with self._lock:
            agents = self._conversations.get(conversation_id)
            if not agents:
                return 0.0, 0
            return sum(t[0] for t in agents.values()), int(sum(t[1] for t in agents.values()))

    def top_entries(self) -> Iterator[tuple[str, str, float, int]]:
        """(conversation, agent, cost, tokens) of the ``top`` costliest conversations."""
        with self._lock:
            ranked = heapq.nlargest(
                self.top,
                self._conversations.items(),
                key=lambda item: (
                    sum(t[0] for t in item[1].values()),
                    sum(t[1] for t in item[1].values()),
                ),
            )
            rows = [
                (conversation, agent, totals[0], int(totals[1]))
                for conversation, agents in ranked
                for agent, totals in agents.items()
            ]
        return iter(rows)

    def __len__(self) -> int:
        return len(self._conversations)
