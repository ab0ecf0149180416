"""Token-like query, fragment and matrix parameters and ``user:pass@`` masked in a URL, path
or query.

Shared by every HTTP server and client otel-agents instruments (the gateway's spans and
history, the hub's and the inboxes' SERVER spans), so a token in ``?token=...`` is masked the
same way wherever it is recorded. Light on purpose (the standard library and
:mod:`otel_agents._export` only): the messaging server imports it without the gateway.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus, urlsplit

from otel_agents._export import MASKABLE_IN_URL, REDACTED as UNPARSABLE, is_secret_key

__all__ = [
    "REDACTED",
    "is_secret_name",
    "redact_fragment",
    "redact_path",
    "redact_query",
    "redact_target",
    "redact_urls",
]

REDACTED = "REDACTED"

#: Names the project-wide secret pattern (``otel_agents._export``) does not catch but that
#: carry credentials in headers or query strings.
_MORE_SECRETS = frozenset(
    {"key", "code", "sig", "x-amz-signature", "x-goog-signature", "awsaccesskeyid"}
)
#: Query parameters are separated by ``&`` and, in older forms (and matrix parameters of a
#: path segment), by ``;``: a secret after either must be masked.
_SEPARATORS = re.compile(r"([&;])")


def is_secret_name(name: str) -> bool:
    """True for header or parameter names that may carry credentials."""
    return is_secret_key(name) or name.lower() in _MORE_SECRETS


def redact_query(query: str) -> str:
    """The query string with the value of every token-like parameter replaced.

    Parameters may be separated by ``&`` or ``;``; names are compared percent-decoded
    (``%74oken`` is ``token``). Everything else is kept as the client wrote it.
    """
    if not query:
        return ""
    pieces = _SEPARATORS.split(query)
    for index in range(0, len(pieces), 2):
        name, eq, _ = pieces[index].partition("=")
        if eq and is_secret_name(unquote_plus(name).strip()):
            pieces[index] = f"{name}={REDACTED}"
    return "".join(pieces)


def redact_target(target: str) -> str:
    """A URL or path with credentials (``user:pass@``) and token-like parameters masked,
    in the query, in ``;`` matrix parameters of the path (``/x;jsessionid=...``) and in the
    fragment: OAuth implicit-grant and OIDC redirects carry ``#access_token=...`` and
    ``#id_token=...`` there, as ``k=v&k=v`` (see :func:`redact_fragment`)."""
    if target.startswith("/") and not any(c in target for c in "?#") and "//" not in target:
        # a bare path has no credentials, query or fragment to mask, only matrix parameters
        return redact_path(target) if ";" in target else target
    parts = urlsplit(target)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "REDACTED:REDACTED@" + netloc.rsplit("@", 1)[1]
    return parts._replace(
        netloc=netloc,
        path=redact_path(parts.path),
        query=redact_query(parts.query),
        fragment=redact_fragment(parts.fragment),
    ).geturl()


#: Where a URL begins in a text: a scheme, or none (``//user:pw@host/p``, scheme-relative).
#: Not after a word character, so a path's ``a//b`` is not taken for a URL.
_URL_START = r"(?<![\w+.-])(?:[A-Za-z][\w+.-]*:)?//"
#: A URL inside a text: everything up to a blank, a quote, an angle bracket, or where the
#: next URL begins: URLs joined by ``,`` or ``;`` (a failover list, ``amqp://u:pw@h1,
#: amqp://u:pw@h2``) or one in another's query (``?next=https://u:pw@h``) are masked each.
_URL_IN_TEXT = re.compile(rf"{_URL_START}(?:(?!{_URL_START})[^\s\"'<>])+")


def redact_urls(text: str) -> str:
    """``text`` with every URL in it masked as :func:`redact_target` masks one, wherever it
    stands (``retrying postgres://app:pw@db/prod``, two URLs in one line, ``//user:pw@h``).

    The one redaction of URLs in free text: stored values (:func:`otel_agents._export.
    redact_string`) and exception messages (:func:`otel_agents._exception_events.
    redact_text`). A URL with nothing to mask is kept exactly as written (parsing would
    lower-case its scheme); one that cannot be parsed becomes ``[REDACTED]`` (what cannot be
    looked through is not passed on).

    A password holding ``/``, ``?``, ``#`` or a quote unencoded (``postgres://app:pa/ss@db``)
    ends the host at that character, where a port should follow: a URL whose "port" is not
    a number and an ``@`` later in the same run of non-blank characters has its user info
    masked up to that ``@`` (the last one), not kept as a host and a path."""
    if "//" not in text or (not MASKABLE_IN_URL.search(text) and text.isascii()):
        return text  # no URL, or none with anything to mask (see redact_string)
    parts: list[str] = []
    position = 0
    token_end = last_at = -1  # the run of non-blanks a URL is in, and its last "@"
    while (match := _URL_IN_TEXT.search(text, position)) is not None:
        start, end = match.span()
        if start >= token_end:  # once per run: many URLs in one run cost linear time
            blank = _BLANK.search(text, start)
            token_end = len(text) if blank is None else blank.start()
            last_at = text.rfind("@", start, token_end)
        broken = _broken_userinfo(text, match, token_end, last_at)
        if broken is None:
            masked = _masked_url(match.group())
        else:
            end, masked = broken
        parts += (text[position:start], masked)
        position = end
    parts.append(text[position:])
    return "".join(parts)


_BLANK = re.compile(r"\s")


def _broken_userinfo(text: str, match: re.Match[str], end: int, at: int) -> tuple[int, str] | None:
    """Where a URL whose password ended its host early really ends (``end``, its run's
    end, past its last ``@`` at ``at``), and it masked; ``None`` for any other URL (its
    host is followed by a numeric port, or by no ``:`` at all, or no ``@`` follows)."""
    url = match.group()
    head = url.index("//") + 2
    if at < match.start() + head:
        return None
    authority = re.split(r"[/?#'\"<>]", url[head:], maxsplit=1)[0]
    _, colon, port = authority.rpartition(":")
    if "@" in authority or not colon or not port or port.isdigit() or "]" in port:
        return None
    try:
        rest = redact_target("//" + text[at + 1 : end])[2:]
    except ValueError:  # urlsplit: an unbalanced IPv6 bracket
        rest = UNPARSABLE
    return end, f"{url[:head]}{REDACTED}:{REDACTED}@{rest}"


def _masked_url(url: str) -> str:
    try:
        masked = redact_target(url)
    except ValueError:  # urlsplit: an unbalanced IPv6 bracket, a bad port
        return UNPARSABLE
    return masked if masked.count(REDACTED) > url.count(REDACTED) else url


def redact_fragment(fragment: str) -> str:
    """A URL fragment with token-like parameters masked: ``k=v&k=v`` as in a query (OAuth
    implicit grant, OIDC), and a query inside a client-side route (``#/cb?token=...``)."""
    if "=" not in fragment:
        return fragment  # an anchor (``#section``): nothing to mask
    masked = redact_query(fragment)
    route, question, query = masked.partition("?")
    return route + question + redact_query(query) if question else masked


def redact_path(path: str) -> str:
    """``path`` with token-like ``;`` matrix parameters of its segments masked."""
    if ";" not in path:
        return path
    segments = path.split("/")
    for index, segment in enumerate(segments):
        head, semi, params = segment.partition(";")
        if semi:
            segments[index] = head + semi + redact_query(params)
    return "/".join(segments)
