"""A request is checked against the keys of the very service it was routed to.

Each test holds one side at an injected barrier (no luck-based loops): a request between
routing and its key check while another thread unregisters or re-registers the service,
or a registration between its route going live and the rest of its work while a request
comes in. Before the keys lived on the ``Service`` object, each of these let a request
without a key through to the upstream.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import _http
import pytest

from .conftest import ThreadServer

pytestmark = pytest.mark.integration

KEY = "k" * 32
#: A hang guard for each barrier, never a speed target.
WAIT = 10.0


class Held:
    """Wraps a callable: the first call while ``armed`` signals ``arrived`` and waits for
    ``release`` (bounded) before (or after, with ``after=True``) running the original."""

    def __init__(self, original: Callable[..., Any], *, after: bool = False) -> None:
        self.original = original
        self.after = after
        self.armed = False
        self.arrived = threading.Event()
        self.release = threading.Event()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        hold, self.armed = self.armed, False
        if hold and not self.after:
            self._hold()
        result = self.original(*args, **kwargs)
        if hold and self.after:
            self._hold()
        return result

    def _hold(self) -> None:
        self.arrived.set()
        assert self.release.wait(WAIT), "the test never released the barrier"


def _in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(target()), daemon=True)
    thread.start()
    return thread, out


def _route_held_at_key_check(gateway: Any, then: Callable[[], None]) -> int:
    """A keyless request, held between routing and its key check while ``then`` runs."""
    held = Held(gateway.auth.check)
    gateway.auth.check = held
    held.armed = True
    thread, out = _in_thread(lambda: gateway.route_request("GET", "/v1/users/7").status_code)
    try:
        assert held.arrived.wait(WAIT), "the request never reached the key check"
        then()
    finally:
        held.release.set()
        thread.join(WAIT)
    assert not thread.is_alive()
    return int(out[0])


def test_a_request_routed_before_an_unregister_is_still_checked_against_the_keys(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    gateway = make_gateway()
    gateway.register_service("s", "s", "v1", upstream.url, path_prefix="/users", api_keys=[KEY])
    status = _route_held_at_key_check(gateway, lambda: gateway.unregister_service("s"))
    assert status == 401


def test_a_request_routed_before_a_re_registration_is_checked_against_the_old_keys(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    gateway = make_gateway()
    gateway.register_service("s", "s", "v1", upstream.url, path_prefix="/users", api_keys=[KEY])

    def re_register() -> None:  # as an open service, this time
        gateway.unregister_service("s")
        gateway.register_service("s", "s", "v1", upstream.url, path_prefix="/users")

    assert _route_held_at_key_check(gateway, re_register) == 401


def test_a_service_is_never_routed_before_its_keys_are_in_force(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    """The registration is held right after its route went live; a request then comes (over
    HTTP: ``route_request`` would wait for the gateway lock the registration holds)."""
    gateway = make_gateway()
    url = f"{make_gateway.serve(gateway).url}/v1/users/7"
    held = Held(gateway.router.rebuild, after=True)
    gateway.router.rebuild = held
    held.armed = True
    thread, _ = _in_thread(
        lambda: gateway.register_service(
            "s", "s", "v1", upstream.url, path_prefix="/users", api_keys=[KEY]
        )
    )
    try:
        assert held.arrived.wait(WAIT), "the registration never rebuilt the router"
        status = _http.get(url, timeout=WAIT).status_code
    finally:
        held.release.set()
        thread.join(WAIT)
    assert status == 401
    assert _http.get(url, headers={"X-API-Key": KEY}, timeout=WAIT).status_code == 200


def test_registering_again_without_keys_keeps_the_services_keys(
    make_gateway: Any, upstream: ThreadServer
) -> None:
    gateway = make_gateway()
    gateway.register_service("s", "s", "v1", upstream.url, path_prefix="/users", api_keys=[KEY])
    gateway.register_service("s", "s", "v1", upstream.url, path_prefix="/users")
    assert gateway.route_request("GET", "/v1/users/7").status_code == 401
    gateway.unregister_service("s")  # unregistering forgets them
    gateway.register_service("s", "s", "v1", upstream.url, path_prefix="/users")
    assert gateway.route_request("GET", "/v1/users/7").status_code == 200
