__version__ = "0.1.0"


def scope_name(module: str) -> str:
    """The public name of a private module, as instrumentation scope and logger name.

    ``otel_agents._tracker`` reports as ``otel_agents.tracker``: module files are private
    (httpx style), the names telemetry and logging carry are not.
    """
    return module.replace("._", ".")
