from __future__ import annotations
import __future__

import otel_agents


def test_all_lists_exactly_the_public_names_sorted() -> None:
    public = {
        name
        for name in dir(otel_agents)
        if not name.startswith("_")
        and type(getattr(otel_agents, name)).__name__ != "module"
        and not isinstance(getattr(otel_agents, name), __future__._Feature)
    }
    assert set(otel_agents.__all__) - {"__version__"} == public
    assert otel_agents.__all__ == sorted(otel_agents.__all__)


def test_every_exported_callable_has_a_docstring() -> None:
    for name in otel_agents.__all__:
        member = getattr(otel_agents, name)
        if callable(member):
            assert member.__doc__, name
