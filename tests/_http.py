"""``httpx``'s request functions and clients for the tests, sharing one TLS context.

Making an httpx client loads the CA bundle into a new ``SSLContext``: about 18 ms of CPU,
even for an ``http://`` URL. ``httpx.get`` makes a client per call, and the integration tests
make hundreds of calls (polls included): seconds of CPU. These take httpx's arguments and
default ``verify`` to one context made the same way, once; a test that passes its own
``verify`` (a CA of its own) keeps it.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["TLS", "AsyncClient", "Client", "delete", "get", "post", "put", "request"]

#: httpx's default context (the CA bundle, ``SSL_CERT_FILE``/``SSL_CERT_DIR`` honoured).
TLS = httpx.create_ssl_context()


def Client(**kwargs: Any) -> httpx.Client:  # stands for the class
    kwargs.setdefault("verify", TLS)
    return httpx.Client(**kwargs)


def AsyncClient(**kwargs: Any) -> httpx.AsyncClient:  # stands for the class
    kwargs.setdefault("verify", TLS)
    return httpx.AsyncClient(**kwargs)


def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    kwargs.setdefault("verify", TLS)
    return httpx.request(method, url, **kwargs)


def get(url: str, **kwargs: Any) -> httpx.Response:
    return request("GET", url, **kwargs)


def post(url: str, **kwargs: Any) -> httpx.Response:
    return request("POST", url, **kwargs)


def put(url: str, **kwargs: Any) -> httpx.Response:
    return request("PUT", url, **kwargs)


def delete(url: str, **kwargs: Any) -> httpx.Response:
    return request("DELETE", url, **kwargs)
