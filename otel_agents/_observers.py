"""Observable instruments shared by every live instance of a component on one MeterProvider.

An SDK meter keeps the first instrument of a name and silently drops the callbacks of a
second registration. Two AlertManagers (dashboards, GenAITelemetry ...) on one provider that
each created ``agent.alerts.active`` with their own callback would therefore leave the second
one silent, and the first one alive for as long as the provider holds its callback.

:func:`observe` creates each observable instrument once per (provider, scope, name). Its one
callback reads every instance registered for it, held weakly: a second instance reports too,
and a dropped one is freed and stops reporting (its gauge series go with it).
:class:`ProviderRegistry` is the per-provider table underneath, which
:func:`~otel_agents._system_metrics.system_metrics_for` uses as well.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

from otel_agents import semconv
from otel_agents._logs import redacting_logger
from otel_agents._runtime import FailureLog
from otel_agents._version import __version__
from otel_agents.semconv import MetricSpec

__all__ = ["ProviderRegistry", "observe"]

_logger = redacting_logger("otel_agents.metrics")

T = TypeVar("T")
V = TypeVar("V")

#: Reads one instance's observations; must not hold the instance (it is passed in).
Read = Callable[[Any], Iterable[Observation]]


class ProviderRegistry(Generic[V]):
    """One value per MeterProvider, made on first use; a dropped provider takes it along.

    ``None`` means the global provider as it is now. Before an SDK provider is set that is
    the API's proxy, whose instruments move to the SDK provider once it is set; so when the
    global provider has no value yet, the proxy's value is reused for it, provided the proxy
    handed its instruments to that provider.
    """

    def __init__(self) -> None:
        self._values: weakref.WeakKeyDictionary[Any, V] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, meter_provider: MeterProvider | None, make: Callable[[Any], V]) -> V:
        """The value of ``meter_provider``; ``make(provider)`` builds it on first use."""
        provider: Any = meter_provider if meter_provider is not None else _global_provider()
        with self._lock:
            found = self._lookup(provider)
            if found is None and provider is _global_provider():
                proxy = _proxy_provider()
                if getattr(proxy, "_real_meter_provider", provider) is provider:
                    found = self._lookup(proxy)
            if found is None:
                found = make(provider)
            with contextlib.suppress(TypeError):  # not weakly referenceable: not shared
                self._values[provider] = found
            return found

    def _lookup(self, provider: Any) -> V | None:
        try:
            return self._values.get(provider)
        except TypeError:  # None, or not weakly referenceable
            return None


def _global_provider() -> Any:
    return metrics.get_meter_provider()


def _proxy_provider() -> Any:
    from opentelemetry.metrics import _internal  # the API keeps its proxy provider private

    return getattr(_internal, "_PROXY_METER_PROVIDER", None)


class _Shared:
    """The callback of one shared instrument and the live instances it reads."""

    __slots__ = ("_largest", "_lock", "_owners", "_summed")

    def __init__(self, summed: bool, largest: bool = False) -> None:
        # Weak keys: the instrument (held by the provider) must not keep an instance alive.
        self._owners: weakref.WeakKeyDictionary[Any, Read] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._summed = summed
        self._largest = largest

    def add(self, owner: Any, read: Read) -> None:
        with self._lock:
            self._owners[owner] = read

    def __call__(self, _options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            owners = list(self._owners.items())
        found: list[Observation] = []
        for owner, read in owners:
            try:  # one instance whose reading fails must not silence the others
                found.extend(read(owner))
            except Exception as exc:
                _failures.record_error(exc, f"{type(owner).__qualname__}: {exc!r}")
        if (self._summed or self._largest) and len(owners) > 1:
            return _merged(found, max if self._largest else _add)
        return found


def _add(first: float, second: float) -> float:
    return first + second


def _merged(
    observations: list[Observation], merge: Callable[[float, float], float]
) -> list[Observation]:
    """One observation per attribute set, its values merged (summed, or the largest): a
    gauge keeps only the last of several observations with the same attributes."""
    totals: dict[Any, Observation] = {}
    unmerged: list[Observation] = []
    for observation in observations:
        try:
            key = tuple(sorted((observation.attributes or {}).items()))
            hash(key)
        except TypeError:  # a sequence-valued attribute: reported as it is
            unmerged.append(observation)
            continue
        found = totals.get(key)
        totals[key] = (
            observation
            if found is None
            else Observation(merge(found.value, observation.value), observation.attributes)
        )
    return [*totals.values(), *unmerged]


_failures = FailureLog(_logger, "reading an observable instrument failed in %s (logged once)")

#: (scope, instrument name) -> its shared callback, per provider.
_instruments: ProviderRegistry[dict[tuple[str, str], _Shared]] = ProviderRegistry()
_instruments_lock = threading.Lock()


def observe(
    meter_provider: MeterProvider | None,
    scope: str,
    spec: MetricSpec,
    owner: T,
    read: Callable[[T], Iterable[Observation]],
    *,
    summed: bool = False,
    largest: bool = False,
) -> None:
    """Report ``read(owner)`` through the observable instrument ``spec`` while ``owner`` lives.

    The instrument is created on the first call for its provider, scope and name; later
    calls add their owner to its callback. ``owner`` is held weakly (it must be hashable by
    identity and weakly referenceable); ``read`` must not refer to it (pass an unbound
    method, not ``owner.method``), or the owner would live as long as the provider.

    Args:
        meter_provider: where the instrument lives; the global provider by default.
        scope: the instrumentation scope (meter name) of the instrument.
        spec: an observable instrument of :mod:`otel_agents.semconv`.
        owner: the instance whose numbers ``read`` returns.
        read: the observations of ``owner`` at a collection.
        summed: instances observing the same attributes add up (counts of this process,
            such as active alerts), rather than the last one reported winning (a score).
            The first registration of an instrument decides.
        largest: instances observing the same attributes report one thing measured
            elsewhere (a broker's backlog for one consumer, read by each instance): the
            largest value is reported once, neither added up nor the last one winning.
    """
    if getattr(read, "__self__", None) is owner:
        raise ValueError(f"read for {spec.name!r} is bound to its owner: pass the unbound method")
    table = _instruments.get(meter_provider, lambda _provider: {})
    with _instruments_lock:
        shared = table.get((scope, spec.name))
        if shared is None:
            shared = _Shared(summed, largest)
            meter = metrics.get_meter(scope, __version__, meter_provider=meter_provider)
            semconv.create_instrument(meter, spec, [shared])
            table[(scope, spec.name)] = shared
        shared.add(owner, read)
