"""A registration racing stop() leaves no heartbeat monitor running after stop().

register_agent() starts the monitor unless the protocol was stopped; the test holds a
registration between that check and the monitor's start until stop() has arrived, so it
fails every time on a protocol whose check and start are not ordered against stop().
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from _threads import ProbeLock

from otel_agents._runtime import PeriodicThread
from otel_agents.messaging import AgentCommunicationProtocol

DEADLINE = 30.0  # generous: the machine is shared; the tests assert behaviour, not speed
NAME = "test-held-heartbeats"
_logger = logging.getLogger("tests.monitor_lifecycle")


class _HeldMonitor(PeriodicThread):
    """A monitor whose first start() waits, once called, until stop() has arrived."""

    def __init__(self, comm: AgentCommunicationProtocol, stop_arrived: threading.Event) -> None:
        super().__init__(3600.0, comm.check_heartbeats, name=NAME, logger=_logger, weak=True)
        self.starting = threading.Event()
        self.stop_arrived = stop_arrived

    def start(self) -> None:
        if not self.starting.is_set():
            self.starting.set()
            self.stop_arrived.wait(DEADLINE)
        super().start()


def test_a_registration_racing_stop_leaves_no_monitor_running(make_comm: Any) -> None:
    comm: AgentCommunicationProtocol = make_comm({"heartbeat_interval": 3600})
    stop_arrived = threading.Event()
    monitor = _HeldMonitor(comm, stop_arrived)
    comm._monitor = monitor
    comm._lifecycle = ProbeLock(stop_arrived)  # type: ignore[assignment]

    def stop() -> None:
        comm.stop()
        stop_arrived.set()  # a stop() that never waits for the registration: let it go on

    register = threading.Thread(
        target=comm.register_agent, args=("worker", "W", ["x"], "http://127.0.0.1:9")
    )
    stopper = threading.Thread(target=stop)
    try:
        register.start()
        assert monitor.starting.wait(DEADLINE)
        stopper.start()
        register.join(DEADLINE)
        stopper.join(DEADLINE)
        assert not register.is_alive()
        assert not stopper.is_alive()
        assert not monitor.running
        assert [t for t in threading.enumerate() if t.name == NAME and t.is_alive()] == []
    finally:
        monitor.stop()
