"""W3C baggage from the network is checked before the propagator sees it (``_carrier_guard``).

The SDK's baggage propagator logs a warning per list-member it refuses and one quoting the
whole header when it is too long; fed from the network, that let one request write 179
WARNING lines of the client's text. The guard hands it only what it accepts silently.
"""

from __future__ import annotations

import logging

import pytest
from opentelemetry import baggage
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.textmap import default_getter

from otel_agents._carrier_guard import GuardedGetter, clean_baggage

_BAD = [f"bad member {i}" for i in range(179)]


def _extract(headers: dict[str, str]) -> dict[str, object]:
    context = W3CBaggagePropagator().extract(headers, getter=GuardedGetter(default_getter))
    return dict(baggage.get_all(context))


def test_valid_members_pass_as_they_are() -> None:
    header = "tenant=acme, user=ada%20l;ttl=60;sensitive ,empty="
    assert clean_baggage([header]) == "tenant=acme,user=ada%20l;ttl=60;sensitive,empty="


def test_several_field_lines_are_one_list() -> None:
    assert clean_baggage(["tenant=acme", "user=ada"]) == "tenant=acme,user=ada"
    assert _extract({"baggage": "tenant=acme"}) == {"tenant": "acme"}


@pytest.mark.parametrize(
    "member",
    [
        "no-equals",
        "bad key=v",
        "k=v v",  # a space inside a value
        "k=v\\x",  # a backslash
        'k="quoted"',
        "k=caf\u00e9",  # not ASCII
        "k=v;bad property=1",
        "=v",
        "k=" + "v" * 4095,  # a member over 4,096 characters
    ],
)
def test_a_member_outside_the_grammar_is_dropped_and_the_others_kept(member: str) -> None:
    assert clean_baggage([f"a=1,{member},b=2"]) == "a=1,b=2"


def test_nothing_kept_is_no_header() -> None:
    assert clean_baggage(["junk", " , "]) is None


def test_a_header_over_8192_bytes_is_dropped_whole_as_the_propagator_does() -> None:
    assert clean_baggage(["k=" + "v" * 4000, "l=" + "w" * 4000, "m=" + "x" * 200]) is None
    assert clean_baggage(["k=" + "v" * 4000, "l=" + "w" * 4000]) is not None


def test_at_most_180_members_are_kept() -> None:
    cleaned = clean_baggage([",".join(f"k{i}=v" for i in range(200))])
    assert cleaned is not None
    assert cleaned.split(",") == [f"k{i}=v" for i in range(180)]


def test_hostile_baggage_costs_no_log_line_and_keeps_the_valid_members(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="opentelemetry")
    found = _extract({"baggage": ",".join(["tenant=acme", *_BAD])})
    too_long = _extract({"baggage": "k=" + "v" * 20_000})

    assert found == {"tenant": "acme"}
    assert too_long == {}
    assert [r.getMessage()[:80] for r in caplog.records] == []


def test_without_the_guard_the_same_header_floods_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What the guard is for: the propagator alone logs each bad member."""
    caplog.set_level(logging.WARNING, logger="opentelemetry")
    W3CBaggagePropagator().extract({"baggage": ",".join(["tenant=acme", *_BAD])})
    assert len(caplog.records) == len(_BAD)


def test_other_keys_are_read_unchanged() -> None:
    getter = GuardedGetter(default_getter)
    carrier = {"traceparent": "x y", "baggage": "junk"}
    assert getter.get(carrier, "traceparent") == ["x y"]
    assert getter.get(carrier, "baggage") is None
    assert getter.get(carrier, "tracestate") is None
    assert sorted(getter.keys(carrier)) == ["baggage", "traceparent"]
