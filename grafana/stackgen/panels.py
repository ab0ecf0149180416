"""The bundled dashboards, in the order Grafana lists them."""

from __future__ import annotations

from .boards_agents import COMMUNICATION, PERFORMANCE
from .boards_ai import AI_USAGE
from .boards_pipeline import PIPELINE
from .boards_services import SERVICES
from .boards_stack import ALERTS, GATEWAY
from .boards_system import SYSTEM
from .model import Board

__all__ = ["BOARDS"]

BOARDS: tuple[Board, ...] = (
    SYSTEM,
    PERFORMANCE,
    COMMUNICATION,
    AI_USAGE,
    GATEWAY,
    SERVICES,
    ALERTS,
    PIPELINE,
)
