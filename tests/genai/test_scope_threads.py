"""One scope object entered from two threads at once: the second entry is refused.

Check and claim must be one step: otherwise both threads enter, the second attach
overwrites the first token, the exits detach the wrong token, one span never ends and its
context stays current on its thread. The interleaving is forced: the first entry pauses
inside ``_start`` (after the check) while the other thread enters.
"""

from __future__ import annotations

import threading

from opentelemetry import trace
from opentelemetry.context import Context

from otel_agents.genai import GenAITelemetry, ScopeActiveError
from otel_agents.genai._agents import AgentInvocation
from otel_agents.testing import TelemetryCapture

_DEADLINE = 30.0  # generous bound on each wait; the test never waits for time to pass


class _PausingInvocation(AgentInvocation):
    """An invocation whose first start pauses until released: a hook, not a stand-in."""

    __slots__ = ("paused", "release", "starts")

    def __init__(self, telemetry: GenAITelemetry) -> None:
        super().__init__("planner", telemetry=telemetry)
        self.paused = threading.Event()
        self.release = threading.Event()
        self.starts = 0

    def _start(self) -> Context:
        self.starts += 1
        if self.starts == 1:
            self.paused.set()
            self.release.wait(_DEADLINE)
        return super()._start()


def test_a_second_thread_entering_an_entering_scope_is_refused(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    scope = _PausingInvocation(recorder)
    seen: dict[str, object] = {}

    def first() -> None:
        with scope:
            seen["inside"] = trace.get_current_span().is_recording()
        seen["after"] = trace.get_current_span().is_recording()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert scope.paused.wait(_DEADLINE), "the first entry never reached _start"
        try:
            scope.__enter__()
        except ScopeActiveError:
            outcome = "refused"
        else:
            outcome = "entered"
            scope.__exit__(None, None, None)
    finally:
        scope.release.set()
        thread.join(_DEADLINE)
    assert not thread.is_alive()
    assert outcome == "refused"
    assert scope.starts == 1
    assert seen == {"inside": True, "after": False}
    assert not trace.get_current_span().is_recording()
    (span,) = telemetry.spans("invoke_agent planner")
    assert span.end_time is not None
    with scope:  # once it ended it may be used again
        pass
    assert len(telemetry.spans("invoke_agent planner")) == 2


def test_a_start_interrupted_by_a_base_exception_leaves_the_scope_usable(
    telemetry: TelemetryCapture, recorder: GenAITelemetry
) -> None:
    """The claim is released when ``_start`` is interrupted (KeyboardInterrupt and the
    like), so the object is not refused forever afterwards."""

    class _Interrupted(AgentInvocation):
        __slots__ = ("interrupt",)

        def __init__(self) -> None:
            super().__init__("planner", telemetry=recorder)
            self.interrupt = True

        def _start(self) -> Context:
            if self.interrupt:
                self.interrupt = False
                raise KeyboardInterrupt
            return super()._start()

    scope = _Interrupted()
    try:
        with scope:
            raise AssertionError("the body must not run")  # pragma: no cover
    except KeyboardInterrupt:
        pass
    with scope:
        pass
    (span,) = telemetry.spans("invoke_agent planner")
    assert span.end_time is not None
