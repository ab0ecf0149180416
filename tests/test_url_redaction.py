"""Token-like parameters are masked wherever a URL keeps them: query, matrix parameters,
credentials and the fragment (OAuth implicit-grant and OIDC redirects put tokens there)."""

from __future__ import annotations

import pytest

from otel_agents._url_redaction import redact_fragment, redact_target
from otel_agents.gateway._exchanges import _response_headers


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        # the urlsplit path: absolute URLs
        (
            "https://client.example/cb#access_token=SECRET-AT&token_type=bearer&state=s1",
            "https://client.example/cb#access_token=REDACTED&token_type=REDACTED&state=s1",
        ),
        (
            "https://app/cb?x=1&code=SECRET-CODE#id_token=SECRET-IDT;expires_in=60",
            "https://app/cb?x=1&code=REDACTED#id_token=REDACTED;expires_in=60",
        ),
        # the bare-path shortcut: a path with a fragment is no longer taken verbatim
        ("/cb#id_token=SECRET-IDT", "/cb#id_token=REDACTED"),
        (
            "/cb;jsessionid=SECRET-SID#access_token=SECRET-AT",
            "/cb;jsessionid=REDACTED#access_token=REDACTED",
        ),
        # a query inside a client-side route of the fragment
        ("/app#/callback?state=s1&token=SECRET-T", "/app#/callback?state=s1&token=REDACTED"),
        # relative references and percent-encoded names
        ("cb#%61ccess_token=SECRET-AT", "cb#%61ccess_token=REDACTED"),
    ],
)
def test_token_like_fragment_parameters_are_masked(target: str, shown: str) -> None:
    assert redact_target(target) == shown
    assert "SECRET" not in redact_target(target)


@pytest.mark.parametrize(
    "target",
    [
        "/docs/page#section-2",
        "https://example.com/docs#install",
        "/a/b",
        "/a;v=1#top",
        "https://example.com/search?q=cats&page=2#results",
        "/app#/route?page=2",
    ],
)
def test_fragments_without_secrets_are_kept_as_written(target: str) -> None:
    assert redact_target(target) == target


def test_redact_fragment_masks_both_fragment_forms() -> None:
    assert redact_fragment("") == ""
    assert redact_fragment("top") == "top"
    assert redact_fragment("access_token=a?b&x=1") == "access_token=REDACTED&x=1"
    assert redact_fragment("/r?x=1&id_token=t") == "/r?x=1&id_token=REDACTED"


def test_a_location_fragment_never_reaches_the_exchange_history_verbatim() -> None:
    headers = _response_headers(
        [
            (b"location", b"https://client.example/cb#access_token=SECRET-AT&token_type=bearer"),
            (b"content-location", b"/cb#id_token=SECRET-IDT&state=s1"),
        ]
    )

    assert headers == {
        "location": "https://client.example/cb#access_token=REDACTED&token_type=REDACTED",
        "content-location": "/cb#id_token=REDACTED&state=s1",
    }
