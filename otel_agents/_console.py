"""The terminal dashboard: each view rendered as text from ``get_dashboard_data()``.

``otel-agents dashboard`` runs the demo swarm in this process and redraws the chosen view
every refresh; ``--once`` prints one frame and exits. Plain ANSI escapes, no dependency: the
embedded default when no Grafana is running. :func:`render` works on any dashboard's data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from otel_agents._dashboard import DashboardView

__all__ = ["register", "render", "run"]

_RESET, _BOLD, _DIM = "\033[0m", "\033[1m", "\033[2m"
_GREEN, _YELLOW, _RED, _MAGENTA = "\033[32m", "\033[33m", "\033[31m", "\033[35m"
_LEVEL_COLORS = {"info": _DIM, "warning": _YELLOW, "error": _RED, "critical": _MAGENTA}
_SPARKS = "▁▂▃▄▅▆▇█"
_TITLES = {
    DashboardView.SYSTEM_OVERVIEW: "system overview",
    DashboardView.AGENT_PERFORMANCE: "agent performance",
    DashboardView.METRICS_DETAIL: "metrics detail",
    DashboardView.ALERTS: "alerts",
    DashboardView.HISTORICAL: "historical",
}


class _Painter:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, *codes: str) -> str:
        return f"{''.join(codes)}{text}{_RESET}" if self.color and codes else text

    def score(self, value: float | None) -> str:
        if value is None:
            return "-"
        code = _GREEN if value >= 80 else _YELLOW if value >= 50 else _RED
        return self(f"{value:5.1f}", code, _BOLD)

    def level(self, level: str) -> str:
        return self(f"{level:<8}", _LEVEL_COLORS.get(level, ""))


def render(
    data: dict[str, Any], view: DashboardView | str | None = None, *, color: bool = False
) -> str:
    """One frame of ``view`` (by default the data's current view) as text."""
    chosen = DashboardView(view or data["view"])
    paint = _Painter(color)
    stamp = dt.datetime.fromtimestamp(data["timestamp"], dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    header = paint(f"otel-agents dashboard · {_TITLES[chosen]}", _BOLD)
    lines = [f"{header} · {stamp} UTC · refresh {data['refresh_interval']:g}s", ""]
    lines += _VIEWS[chosen](data, paint)
    return "\n".join(lines) + "\n"


def _overview(data: dict[str, Any], paint: _Painter) -> list[str]:
    system = data["system"]
    penalties = system["health"]["penalties"]
    cost = ", ".join(f"{name} -{points:.1f}" for name, points in penalties.items())
    by_status = ", ".join(f"{s} {n}" for s, n in sorted(system["agents_by_status"].items()))
    counts = data["alerts"]["counts"]
    lines = [
        f"Health   {_bar(system['health_score'])} {paint.score(system['health_score'])}/100"
        f"   ({cost})",
        f"CPU      {_bar(system['cpu_percent'])} {_num(system['cpu_percent'], '%')}",
        f"Memory   {_bar(system['memory_percent'])} {_num(system['memory_percent'], '%')}",
        f"Agents   {system['agents_available']} of {system['agents_total']} available"
        + (f" ({by_status})" if by_status else ""),
        f"Errors   {_num(system['error_rate_percent'], '%')} of {system['requests']} requests",
        _traffic(data),
        "Alerts   "
        + "  ".join(paint(f"{lvl} {counts[lvl]}", _LEVEL_COLORS[lvl]) for lvl in reversed(counts)),
        "",
    ]
    rows = [
        [a["agent_id"], a["status"] or "-", paint.score(a["health_score"]), str(a["requests"]),
         _num(a["error_rate_percent"]), _ms(a["response_time"].get("p95")), _num(a["cpu_percent"])]
        for a in data["agents"].values()
    ]  # fmt: skip
    return lines + _table(
        ["agent", "status", "health", "requests", "err %", "p95 ms", "cpu %"], rows
    )


def _traffic(data: dict[str, Any]) -> str:
    """Messages, gateway requests and profiled blocks, from the in-process reader."""
    system = data["system"]
    if not data.get("telemetry", {}).get("available"):
        return "Traffic  - (configure(dashboard=True) or OTEL_AGENTS_DASHBOARD=true to show)"
    return (
        f"Traffic  {system['messages_sent']:g} messages sent, "
        f"{system['messages_consumed']:g} processed · "
        f"{system['gateway_requests']:g} gateway requests · "
        f"{system['profiled_blocks']:g} profiled blocks"
    )


def _agents(data: dict[str, Any], paint: _Painter) -> list[str]:
    rows = []
    for agent in data["agents"].values():
        latency = agent["response_time"]
        memory = agent["memory_bytes"]
        rows.append(
            [agent["agent_id"], agent["status"] or "-", paint.score(agent["health_score"]),
             str(agent["requests"]), str(agent["errors"]), _num(agent["error_rate_percent"]),
             _ms(latency.get("p50")), _ms(latency.get("p95")), _ms(latency.get("p99")),
             _num(agent["cpu_percent"]), "-" if memory is None else f"{memory / 2**20:.1f}"]
        )  # fmt: skip
    if not rows:
        return ["No agent has reported yet."]
    columns = ["agent", "status", "health", "requests", "errors", "err %"]
    columns += ["p50 ms", "p95 ms", "p99 ms", "cpu %", "mem MiB"]
    return _table(columns, rows)


def _metrics(data: dict[str, Any], paint: _Painter) -> list[str]:
    stats = ("min", "mean", "p50", "p95", "p99", "max")
    rows = [
        [name, s["unit"], str(s["count"]), *(_sig(s.get(k)) for k in stats)]
        for name, s in data["metrics"].items()
    ]
    if not rows:
        return [f"No metrics tracked in the last {data['window_seconds']:g} s."]
    window = paint(f"last {data['window_seconds']:g} s, all agents", _DIM)
    return [
        window,
        *_table(["metric", "unit", "count", "min", "mean", "p50", "p95", "p99", "max"], rows),
    ]


def _alerts(data: dict[str, Any], paint: _Painter) -> list[str]:
    now = data["timestamp"]
    lines = [paint("Active", _BOLD)]
    for alert in sorted(
        data["alerts"]["active"], key=lambda a: (-_RANK[a["level"]], a["created_at"])
    ):
        ack = "ack" if alert["acknowledged"] else "   "
        lines.append(
            f"  {paint.level(alert['level'])} {_age(now - alert['created_at']):>6}  {ack} "
            f"x{alert['count']:<4} {alert['source']:<20} {alert['message'][:70]}"
        )
    if len(lines) == 1:
        lines.append(paint("  none", _GREEN))
    lines += ["", paint("Recently resolved", _BOLD)]
    history = data["alerts"]["history"][-10:]
    for alert in reversed(history):
        ago = _age(now - (alert["resolved_at"] or now))
        lines.append(
            f"  {paint.level(alert['level'])} {ago:>6} ago by {alert['resolved_by'] or '-':<8} "
            f"{alert['source']:<20} {alert['message'][:60]}"
        )
    if not history:
        lines.append("  none")
    return lines


def _historical(data: dict[str, Any], paint: _Painter) -> list[str]:
    points = data["historical"][-60:]
    lines = [paint(f"last {len(points)} refreshes", _DIM)]
    for key, label in (
        ("health_score", "Health"),
        ("cpu_percent", "CPU %"),
        ("memory_percent", "Memory %"),
        ("error_rate_percent", "Errors %"),
        ("active_alerts", "Alerts"),
    ):
        values = [p[key] for p in points if p[key] is not None]
        if values:
            lines.append(f"{label:<9} {_spark(values)}  min {min(values):g}  max {max(values):g}")
        else:
            lines.append(f"{label:<9} -")
    return lines


_VIEWS: dict[DashboardView, Callable[[dict[str, Any], _Painter], list[str]]] = {
    DashboardView.SYSTEM_OVERVIEW: _overview,
    DashboardView.AGENT_PERFORMANCE: _agents,
    DashboardView.METRICS_DETAIL: _metrics,
    DashboardView.ALERTS: _alerts,
    DashboardView.HISTORICAL: _historical,
}
_RANK = {"info": 0, "warning": 1, "error": 2, "critical": 3}
_ANSI_LENGTH = len(_GREEN + _BOLD + _RESET)


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max([len(c)] + [_visible(r[i]) for r in rows]) for i, c in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0] + " " * (widths[0] - _visible(cells[0]))
        rest = (" " * (w - _visible(c)) + c for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    return [line(columns), *(line(row) for row in rows)]


def _visible(text: str) -> int:
    return len(text) - (_ANSI_LENGTH if "\033[" in text else 0)


def _bar(percent: float | None, width: int = 20) -> str:
    filled = 0 if percent is None else round(max(0.0, min(100.0, percent)) / 100 * width)
    return "[" + "█" * filled + "░" * (width - filled) + "]"


def _spark(values: Sequence[float]) -> str:
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(_SPARKS[round((v - low) / span * (len(_SPARKS) - 1))] for v in values)


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:.1f}{' ' + unit if unit else ''}"


def _sig(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


# --------------------------------------------------------------------------------------
# otel-agents dashboard
# --------------------------------------------------------------------------------------
def run(
    view: DashboardView | str = DashboardView.SYSTEM_OVERVIEW,
    *,
    once: bool = False,
    duration: float | None = None,
    refresh: float = 5.0,
    warmup: float = 1.0,
    color: bool | None = None,
    out: TextIO | None = None,
    configure_telemetry: bool = True,
) -> dict[str, Any]:
    """Run the demo swarm and draw ``view`` every ``refresh`` seconds; return the last data.

    With ``once``, draw one frame after ``warmup`` seconds. Otherwise run until ``duration``
    seconds pass (forever when ``None``) or Ctrl-C. ``configure_telemetry`` calls
    :func:`otel_agents.configure` from the ``OTEL_*`` variables (and shuts it down after).
    """
    from otel_agents._demo import Swarm

    out = out or sys.stdout
    color = out.isatty() and "NO_COLOR" not in os.environ if color is None else color
    stop = threading.Event()
    swarm = Swarm(
        refresh=refresh, configure_telemetry=configure_telemetry, command="otel-agents dashboard"
    )
    with swarm:
        dashboard = swarm.dashboard
        dashboard.set_view(view)
        if once:
            stop.wait(warmup)
            data = dashboard.get_dashboard_data()
            out.write(render(data, color=color))
            return data
        waited = 0.0
        while True:
            data = dashboard.get_dashboard_data()
            frame = render(data, color=color)
            out.write(("\033[H\033[2J" if color else "\n") + frame)
            out.flush()
            if duration is not None and waited >= duration:
                return data
            step = refresh if duration is None else min(refresh, duration - waited)
            stop.wait(step)
            waited += step


def _handle(args: argparse.Namespace) -> int:
    run(
        args.view,
        once=args.once,
        duration=args.duration,
        refresh=args.refresh,
        warmup=args.warmup,
        color=False if args.no_color else None,
    )
    return 0


def register(subparsers: Any) -> None:
    """Add ``dashboard`` to the ``otel-agents`` command line."""
    parser = subparsers.add_parser(
        "dashboard", help="run the demo swarm and show a live dashboard in the terminal"
    )
    views = [view.value for view in DashboardView]
    parser.add_argument(
        "--view", choices=views, default=DashboardView.SYSTEM_OVERVIEW.value, help="what to show"
    )
    parser.add_argument("--once", action="store_true", help="print one frame and exit")
    parser.add_argument("--refresh", type=float, default=5.0, help="seconds between frames (5)")
    parser.add_argument("--duration", type=float, help="seconds to run (until Ctrl-C)")
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="seconds the swarm runs before --once (1)"
    )
    parser.add_argument("--no-color", action="store_true", help="plain text, no ANSI colors")
    parser.set_defaults(handler=_handle)
