"""The demo's model calls: its agents ask a local fake model, run tools and pay for tokens.

:class:`DemoModels` starts the scripted OpenAI-compatible server of
:mod:`otel_agents._model_server` on 127.0.0.1 (no network, no API key) and gives each demo
agent a model: the planner ``gpt-4o-mini``, the researcher ``gpt-4o`` (both priced by the
default price table of ``otel_agents.genai``) and the monitor :data:`UNPRICED_MODEL`, a local
model no price table lists, so the AI usage board's unpriced panels have data. Each question is
an ``invoke_agent`` span around a ``chat`` model call (``genai.model_call``), made with httpx as
a real client would; a tool call in the answer runs under ``genai.execute_tool``, and every
:data:`TOOL_ERROR_EVERY`-th tool run fails on purpose, as every 6th call of each model does
(a scripted 503), so the error panels have something to show.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from otel_agents import genai
from otel_agents._model_script import Answer
from otel_agents._model_server import ModelServer

__all__ = [
    "DEMO_SCRIPT",
    "MODELS",
    "PROVIDER",
    "TOOL_ERROR_EVERY",
    "UNPRICED_MODEL",
    "DemoModels",
    "ToolFailed",
]

#: The API the fake server speaks (and the provider the calls are attributed to).
PROVIDER = "openai"
UNPRICED_MODEL = "llama-3.1-8b-local"
#: The model each demo agent asks.
MODELS = {"planner": "gpt-4o-mini", "researcher": "gpt-4o", "monitor": UNPRICED_MODEL}
#: One tool run in this many fails (a simulated error, like the agents' failing steps).
TOOL_ERROR_EVERY = 3
#: What every model answers, in turn: plain answers, a tool call, an answer cut short by the
#: token limit, and a provider outage (503). Short delays give the latency panels a spread.
DEMO_SCRIPT: tuple[Answer, ...] = (
    Answer("Three steps: search, compare, summarise.", 42, delay_s=0.004),
    Answer("", 12, "tool_calls", tool="web_search", delay_s=0.002),
    Answer("The sources agree on the main point.", 120, delay_s=0.012),
    Answer("A summary that runs past the token limit and", 256, "length", delay_s=0.02),
    Answer("Done.", 8, delay_s=0.001),
    Answer(status=503),
)
#: Each agent's instructions: sent with every question, as agents do (input tokens).
SYSTEM_PROMPTS = {
    "planner": "You are a task planner. Split the task into research steps and say which.",
    "researcher": "You are a web researcher. Search, compare the sources, answer briefly.",
    "monitor": "You watch a swarm of agents. Summarise their status in one sentence.",
}
_TIMEOUT = httpx.Timeout(10.0)


class ToolFailed(RuntimeError):
    """A simulated failure of a demo tool."""


@dataclass
class AgentUsage:
    """What one agent's model calls used, as the demo's report shows it."""

    model: str
    calls: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    priced: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "calls": self.calls,
            "failed": self.failed,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": round(self.cost, 6),
            "priced": self.priced,
        }


class DemoModels:
    """The fake model server and the demo agents' questions to it (a context manager).

    ``tool`` runs the demo's ``web_search`` tool (the swarm passes its gateway search).
    """

    def __init__(self, tool: Callable[[str], object] | None = None) -> None:
        self.server = ModelServer(DEMO_SCRIPT)
        self._tool = tool
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        self._usage = {agent: AgentUsage(model) for agent, model in MODELS.items()}
        self._tool_runs = 0
        self._tool_errors = 0

    def __enter__(self) -> DemoModels:
        self.server.start()
        self._client = httpx.Client(timeout=_TIMEOUT)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self.server.stop()

    def ask(
        self, agent_id: str, agent_name: str, prompt: str, conversation_id: str | None = None
    ) -> str:
        """One invocation of the agent: a model call and the tools its answer asks for.

        Returns the answer's text ("" when the call failed: the demo carries on).
        """
        with genai.invoke_agent(agent_name, agent_id=agent_id, conversation_id=conversation_id):
            try:
                answer = self._chat(agent_id, prompt)
            except httpx.HTTPError:
                return ""
            for call in answer.get("tool_calls") or []:
                self._run_tool(call["function"]["name"], call["id"], prompt)
            return str(answer.get("content") or "")

    def _chat(self, agent_id: str, prompt: str) -> dict[str, Any]:
        if self._client is None:
            raise RuntimeError("DemoModels is not started: use it as a context manager")
        model = MODELS[agent_id]
        usage = self._usage[agent_id]
        messages = [
            {"role": "system", "content": SYSTEM_PROMPTS[agent_id]},
            {"role": "user", "content": prompt},
        ]
        request = {"model": model, "messages": messages}
        with genai.model_call(
            model, provider=PROVIDER, server_address="127.0.0.1", server_port=self.server.port
        ) as call:
            try:
                response = self._client.post(self.server.url, json=request)
                response.raise_for_status()
            except httpx.HTTPError:
                with self._lock:
                    usage.calls += 1
                    usage.failed += 1
                raise
            body = response.json()
            tokens = body["usage"]
            (choice,) = body["choices"]
            call.set_usage(tokens["prompt_tokens"], tokens["completion_tokens"])
            call.set_response(
                model=body["model"],
                finish_reasons=[choice["finish_reason"]],
                response_id=body["id"],
            )
        price = genai.get_price_table().price(model)
        with self._lock:
            usage.calls += 1
            usage.input_tokens += tokens["prompt_tokens"]
            usage.output_tokens += tokens["completion_tokens"]
            usage.priced = price is not None
            if price is not None:
                usage.cost += price.cost(tokens["prompt_tokens"], tokens["completion_tokens"])
        message: dict[str, Any] = choice["message"]
        return message

    def _run_tool(self, name: str, call_id: str, argument: str) -> None:
        with self._lock:
            self._tool_runs += 1
            fails = self._tool_runs % TOOL_ERROR_EVERY == 0
        try:
            with genai.execute_tool(name, call_id=call_id):
                if fails:
                    raise ToolFailed(f"{name} failed on purpose (one run in {TOOL_ERROR_EVERY})")
                if self._tool is not None:
                    self._tool(argument)
        except ToolFailed:
            with self._lock:
                self._tool_errors += 1

    def report(self) -> dict[str, Any]:
        """Per agent: model, calls, tokens and cost; the tool runs and their failures."""
        with self._lock:
            return {
                "agents": {agent: usage.as_dict() for agent, usage in self._usage.items()},
                "tool_calls": self._tool_runs,
                "tool_errors": self._tool_errors,
                "cost_usd": round(sum(u.cost for u in self._usage.values()), 6),
            }


def print_report(report: dict[str, Any]) -> None:
    """The demo report's AI usage section."""
    print(f"\nAI usage (a local fake model server; {PROVIDER}-compatible API):")
    print(
        f"{'agent':<12}{'model':<22}{'calls':>7}{'failed':>8}{'in tok':>9}{'out tok':>9}"
        f"{'cost USD':>11}"
    )
    for agent_id, usage in report["agents"].items():
        cost = f"{usage['cost_usd']:.4f}" if usage["priced"] else "unpriced"
        print(
            f"{agent_id:<12}{usage['model']:<22}{usage['calls']:>7}{usage['failed']:>8}"
            f"{usage['input_tokens']:>9}{usage['output_tokens']:>9}{cost:>11}"
        )
    print(
        f"total cost: {report['cost_usd']:.4f} USD (default price table; {UNPRICED_MODEL} "
        "has no price and counts as unpriced)"
    )
    print(
        f"tool calls: {report['tool_calls']}, failed on purpose: {report['tool_errors']} "
        f"(one in {TOOL_ERROR_EVERY}); one call in 6 of each model is a scripted 503"
    )
