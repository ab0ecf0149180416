"""A small import and honest dependencies.

``import otel_agents`` and the tracker load no web stack and no exporter, and a core install
(no extras) works for what it promises while a feature whose extra is absent names the
extra to install. Each check runs in a fresh interpreter: ``sys.modules`` of the test process
already holds everything. A core install is simulated by an import hook that makes the
extras' packages unimportable (``ModuleNotFoundError``, as if never installed).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.integration  # each test starts a fresh interpreter

# The top-level packages of the extras (and what they pull in): none may load for the tracker.
HEAVY = (
    "starlette",
    "httpx",
    "httpcore",
    "uvicorn",
    "httptools",
    "uvloop",
    "anyio",
    "sniffio",
    "h11",
    "asgiref",
    "grpc",
    "prometheus_client",
    "opentelemetry.exporter",
    "opentelemetry.instrumentation",
)

# Installed before the script runs: the extras' packages cannot be imported.
CORE_INSTALL = f"""
import importlib.abc, sys
class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == top or name.startswith(top + ".") for top in {HEAVY!r}):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, _NotInstalled())
"""

TIMEOUT = 120  # seconds: a generous bound for one interpreter on a busy machine


def _run(script: str, *, core_install: bool = False) -> subprocess.CompletedProcess[str]:
    code = (CORE_INSTALL if core_install else "") + textwrap.dedent(script)
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def _loaded_after(script: str) -> list[str]:
    """The heavy modules in ``sys.modules`` after ``script`` ran in a fresh interpreter."""
    script = textwrap.dedent(script) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = _run(script)
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_importing_the_package_loads_no_optional_dependency() -> None:
    assert _loaded_after("import otel_agents") == []


def test_the_tracker_loads_no_optional_dependency() -> None:
    script = """
    import otel_agents
    from otel_agents import PerformanceTracker, MetricType
    tracker = PerformanceTracker({"snapshot_interval": 0})
    tracker.record_metric(MetricType.RESPONSE_TIME, 0.25, agent_id="a1")
    import otel_agents._tracker
    """
    assert _loaded_after(script) == []


def test_in_process_messaging_loads_no_optional_dependency() -> None:
    script = """
    from otel_agents.messaging import AgentCommunicationProtocol, MessageType
    comm = AgentCommunicationProtocol()
    comm.register_agent("a", "A", ["x"], "http://127.0.0.1:1")
    comm.register_agent("b", "B", ["x"], "http://127.0.0.1:1")
    comm.send_message("a", "b", MessageType.TASK_ASSIGNMENT, {"task": "t"})
    assert comm.process_next("b") is not None
    """
    assert _loaded_after(script) == []


def test_a_core_install_tracks_profiles_and_configures_with_one_warning_for_otlp() -> None:
    """The default exporter is otlp: without the extra, one warning names it, setup goes on."""
    done = _run(
        """
        import logging
        records = []
        class Keep(logging.Handler):
            def emit(self, record): records.append(record.getMessage())
        logging.getLogger("otel_agents").addHandler(Keep())
        import otel_agents
        telemetry = otel_agents.configure(service_name="core", system_metrics=False)
        from otel_agents import MetricType, PerformanceProfiler, PerformanceTracker
        tracker = PerformanceTracker({"snapshot_interval": 0})
        tracker.record_metric(MetricType.RESPONSE_TIME, 0.25, agent_id="a1")
        with PerformanceProfiler().profile("step"):
            pass
        otel_agents.shutdown()
        otlp = [r for r in records if "otlp" in r]
        assert len(otlp) == 1, records
        print(otlp[0])
        print(sorted(telemetry.settings["exporters"].items()))
        """,
        core_install=True,
    )
    assert done.returncode == 0, done.stderr
    warning, exporters = done.stdout.strip().splitlines()[-2:]
    assert "pip install 'otel-agents[otlp]'" in warning
    assert "traces" in warning
    assert exporters == "[('logs', ()), ('metrics', ()), ('traces', ())]"


def test_a_core_install_names_the_prometheus_extra() -> None:
    done = _run(
        """
        import json, logging
        records = []
        class Keep(logging.Handler):
            def emit(self, record): records.append(record.getMessage())
        logging.getLogger("otel_agents").addHandler(Keep())
        import otel_agents
        otel_agents.configure(
            traces_exporter="none", logs_exporter="none", metrics_exporter="prometheus",
            system_metrics=False,
        )
        otel_agents.shutdown()
        print(json.dumps(records))
        """,
        core_install=True,
    )
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout.strip().splitlines()[-1])
    assert [r for r in records if "pip install 'otel-agents[prometheus]'" in r], records


def test_a_core_install_names_the_gateway_extra_on_use() -> None:
    done = _run(
        """
        import otel_agents
        from otel_agents._errors import MissingDependencyError
        try:
            otel_agents.APIGateway()
        except MissingDependencyError as exc:
            print(exc)
        else:
            raise SystemExit("APIGateway imported without its extra")
        """,
        core_install=True,
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'otel-agents[gateway]'" in done.stdout


def test_a_core_install_names_the_messaging_extra_for_http_agents() -> None:
    done = _run(
        """
        from otel_agents._errors import MissingDependencyError
        from otel_agents.messaging import HttpTransport
        try:
            HttpTransport()
        except MissingDependencyError as exc:
            print(exc)
        else:
            raise SystemExit("HttpTransport built without its extra")
        """,
        core_install=True,
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'otel-agents[messaging]'" in done.stdout


def test_the_cli_without_extras_lists_commands_and_names_the_extra_of_one() -> None:
    done = _run(
        """
        import sys
        from otel_agents._cli import main
        sys.exit(main(["gateway", "--config", "gateway.toml"]))
        """,
        core_install=True,
    )
    assert done.returncode == 2, done.stderr
    assert "otel-agents gateway" in done.stderr
    assert "pip install 'otel-agents[gateway]'" in done.stderr
    assert "Traceback" not in done.stderr
    for command in ("hub", "agent"):
        done = _run(
            f"""
            import sys
            from otel_agents._cli import main
            sys.exit(main(["{command}", "--insecure"] if "{command}" == "hub" else
                          ["{command}", "--id", "a1"]))
            """,
            core_install=True,
        )
        assert done.returncode == 2, done.stderr
        assert "pip install 'otel-agents[messaging]'" in done.stderr, done.stderr
    listed = _run("from otel_agents._cli import main\nmain(['--help'])", core_install=True)
    assert listed.returncode == 0, listed.stderr
    assert "gateway" in listed.stdout


def test_send_without_the_messaging_extra_names_it() -> None:
    """``send`` through a hub needs httpx: one line naming the extra, not a traceback."""
    done = _run(
        """
        import sys
        from otel_agents._cli import main
        sys.exit(main(["send", "--hub", "http://127.0.0.1:9", "--from", "coordinator",
                       "--to", "planner", "--type", "task_assignment", '{"task": "scan"}']))
        """,
        core_install=True,
    )
    assert done.returncode == 2, done.stderr
    assert "otel-agents send needs the 'messaging' extra" in done.stderr, done.stderr
    assert "pip install 'otel-agents[messaging]'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["dashboard", "--once", "--no-color"], "otel-agents dashboard"),
        (["demo", "--duration", "0.1"], "otel-agents demo"),
    ],
)
def test_the_demo_swarm_names_the_gateway_extra_and_the_command_that_was_run(
    argv: list[str], command: str
) -> None:
    """``dashboard`` runs the demo swarm too: its message names ``dashboard``, not ``demo``."""
    done = _run(
        f"""
        import sys
        from otel_agents._cli import main
        sys.exit(main({argv!r}))
        """,
        core_install=True,
    )
    assert done.returncode == 2, done.stderr
    assert f"{command} needs the 'gateway' extra" in done.stderr, done.stderr
    assert "pip install 'otel-agents[gateway]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_core_install_imports_lists_and_documents_every_name_and_fails_only_on_use() -> None:
    """A name whose extra is missing is a placeholder: star imports, ``hasattr``, ``help()``
    and ``inspect.getmembers`` work; constructing, calling or reading from it names the extra.
    """
    done = _run(
        """
        import inspect, io, json, pydoc
        import otel_agents, otel_agents.gateway, otel_agents.messaging
        from otel_agents import *
        from otel_agents.messaging import *
        from otel_agents.gateway import *
        from otel_agents._errors import MissingDependencyError
        from otel_agents._extras import has_extra

        assert hasattr(otel_agents, "APIGateway")
        assert not has_extra("gateway") and not has_extra("messaging")
        text = pydoc.render_doc(otel_agents, renderer=pydoc.plaintext)
        assert "pip install 'otel-agents[gateway]'" in text, text
        members = dict(inspect.getmembers(otel_agents.messaging))
        assert "RemoteAgent" in members
        help(otel_agents.gateway)

        errors = {}
        uses = {
            "construct": lambda: APIGateway(),
            "attribute": lambda: otel_agents.APIGateway.register_service,
            "call": lambda: otel_agents.messaging.create_hub_app(),
            "subclass": lambda: type("Mine", (RemoteAgent,), {})(),
        }
        for use, run in uses.items():
            try:
                run()
            except MissingDependencyError as exc:
                errors[use] = str(exc)
        print(json.dumps({"errors": errors, "repr": repr(RemoteAgent),
                          "same": otel_agents.APIGateway is APIGateway}))
        """,
        core_install=True,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    errors = result["errors"]
    assert set(errors) == {"construct", "attribute", "call", "subclass"}, errors
    assert errors["construct"] == (
        "otel_agents.gateway.APIGateway needs the 'gateway' extra (starlette is not "
        "installed): pip install 'otel-agents[gateway]'"
    )
    assert errors["attribute"] == errors["construct"]
    assert "create_hub_app needs the 'messaging' extra" in errors["call"]
    assert "RemoteAgent needs the 'messaging' extra" in errors["subclass"]
    assert "pip install 'otel-agents[messaging]'" in result["repr"]
    assert result["same"]  # cached: one placeholder per name
