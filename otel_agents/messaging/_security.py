"""Authentication and envelope signing for messaging over HTTP.

* **Tokens.** A request carries ``Authorization: Bearer <token>`` and ``X-Agent-Id``. It is
  accepted when the token equals that agent's own token or the shared secret, compared with
  :func:`hmac.compare_digest`. With neither configured, authentication is off.
* **Signatures.** With a signing key, every envelope POST carries ``X-Message-Id``,
  ``X-Message-Timestamp`` and ``X-Message-Signature``: HMAC-SHA256 over
  ``id \\n timestamp \\n body``. The receiver rejects unsigned, tampered, stale (outside the
  replay window) and replayed (the same signed copy seen within the window) messages.
* **Key rotation.** ``signing_key`` may be a list: the first key signs, every key verifies.
  Roll a new key out by putting it second everywhere, then first, then dropping the old one.

Secrets never appear in ``repr()``, logs or telemetry. Environment variables:
``OTEL_AGENTS_MESSAGING_SECRET`` (shared secret), ``OTEL_AGENTS_MESSAGING_SIGNING_KEY`` (the
key that signs) and ``OTEL_AGENTS_MESSAGING_VERIFICATION_KEYS`` (comma-separated older keys
still accepted while a rotation is under way).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from otel_agents._errors import InvalidTypeError, InvalidValueError, short_repr
from otel_agents._runtime import Clock, as_clock
from otel_agents._server_params import (
    MESSAGING_SECRET,
    MESSAGING_SIGNING_KEY,
    MESSAGING_VERIFICATION_KEYS,
)
from otel_agents.messaging._errors import InvalidMessageError, SecurityError
from otel_agents.messaging._replay import ReplayMemory

__all__ = ["SecurityConfig"]

SECRET_ENV = MESSAGING_SECRET.variable
SIGNING_KEY_ENV = MESSAGING_SIGNING_KEY.variable
VERIFICATION_KEYS_ENV = MESSAGING_VERIFICATION_KEYS.variable
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
AGENT_ID_HEADER = "x-agent-id"
ID_HEADER = "x-message-id"
TIMESTAMP_HEADER = "x-message-timestamp"
SIGNATURE_HEADER = "x-message-signature"


@dataclass
class SecurityConfig:
    """Tokens, signing key and replay window shared by a hub and its agents.

    Args:
        shared_secret: a bearer token every party may present.
        agent_tokens: per-agent tokens, ``{agent_id: token}``.
        signing_key: the HMAC-SHA256 key, or a list of keys: the first signs, any of them
            verifies (key rotation); ``None`` turns signing off.
        replay_window: seconds a signature stays valid and its message id is remembered.
        clock: where Unix time comes from: a :class:`~otel_agents._runtime.Clock` (the one
            the protocol takes) or a function returning seconds (injected in tests).
    """

    shared_secret: str | None = None
    agent_tokens: Mapping[str, str] = field(default_factory=dict)
    signing_key: bytes | str | Sequence[bytes | str] | None = None
    replay_window: float = 300.0
    clock: Clock | Callable[[], float] = time.time
    _seen: ReplayMemory = field(default_factory=ReplayMemory, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        # A blank secret or token would let in "Authorization: Bearer " plus blanks, and
        # an empty one would turn authentication off unnoticed: both are refused; None (or no
        # entry) is how to say "none". Stripped, as the variable is: blanks around a token
        # are a copy-and-paste accident, never part of it.
        if self.shared_secret is not None:
            self.shared_secret = _credential("shared_secret", self.shared_secret)
        tokens = self.agent_tokens
        if not isinstance(tokens, Mapping):
            raise InvalidTypeError(
                f"SecurityConfig(agent_tokens=<hidden>) is not valid: expected a mapping "
                f"{{agent_id: token}} (got type {type(tokens).__name__})"
            )
        self.agent_tokens = {
            agent: _credential(f"agent_tokens[{short_repr(agent)}]", token)
            for agent, token in tokens.items()
        }
        # The same for the signing keys: an empty key signed with an empty HMAC key (anyone
        # can forge), and an empty one in a list was dropped, so the repr said signing=on
        # while unsigned messages verified. None is how to say "no signing".
        self.signing_key = _signing_keys(self.signing_key)

    def _now(self) -> float:
        return as_clock(self.clock).time()

    def __repr__(self) -> str:
        shown = self.to_dict()
        return (
            f"SecurityConfig(auth={shown['access_control']}, signing={shown['signing']}, "
            f"replay_window={shown['replay_window']})"
        )

    def to_dict(self) -> dict[str, object]:
        """What ``repr`` shows, as a mapping: no secret, no key.

        Histories and exports store an object as its ``to_dict()``
        (:func:`otel_agents._export.redact_value`); without it they would walk the
        dataclass fields and keep ``signing_key``. ``access_control`` is ``repr``'s
        ``auth`` (a key named ``auth`` would itself be taken for a secret and masked).
        """
        return {
            "access_control": "on" if self.auth_enabled else "off",
            "signing": "on" if self._keys() else "off",
            "replay_window": self.replay_window,
        }

    @classmethod
    def from_env(cls, **overrides: object) -> SecurityConfig:
        """Read the shared secret and signing keys from the environment."""
        keys = [os.environ.get(SIGNING_KEY_ENV, "")]
        keys += os.environ.get(VERIFICATION_KEYS_ENV, "").split(",")
        keys = [key.strip() for key in keys if key.strip()]
        values: dict[str, object] = {
            "shared_secret": os.environ.get(SECRET_ENV, "").strip() or None,
            "signing_key": keys or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    @property
    def auth_enabled(self) -> bool:
        return bool(self.shared_secret) or bool(self.agent_tokens)

    def token_for(self, agent_id: str) -> str | None:
        """The token that authenticates requests to (or as) ``agent_id``."""
        return self.agent_tokens.get(agent_id) or self.shared_secret

    def request_headers(self, identity: str, audience: str | None = None) -> dict[str, str]:
        """Auth headers for a request made as ``identity`` to ``audience``'s server."""
        headers = {AGENT_ID_HEADER: identity}
        token = self.token_for(audience or identity)
        if token:
            headers["authorization"] = f"Bearer {token}"
        return headers

    def authenticate(self, headers: Mapping[str, str], *, own_id: str | None = None) -> str | None:
        """Check a request's token; return the agent id it proved, ``None`` for the secret.

        ``own_id`` is the id of the server checking (an agent's inbox accepts its own token).
        Raises :class:`SecurityError` (``unauthorized``) when authentication is on and fails.
        """
        if not self.auth_enabled:
            return headers.get(AGENT_ID_HEADER)
        auth = headers.get("authorization", "")
        presented = auth[7:].encode() if auth[:7].lower() == "bearer " else b""
        claimed = headers.get(AGENT_ID_HEADER, "")
        for agent_id in (claimed, own_id):
            token = self.agent_tokens.get(agent_id or "")
            if token and hmac.compare_digest(presented, token.encode()):
                return agent_id
        if self.shared_secret and hmac.compare_digest(presented, self.shared_secret.encode()):
            return None
        raise SecurityError(
            # Worded for the agent's log line that quotes it: "bearer token" and
            # "Authorization: Bearer <token>" read "bearer [REDACTED]" there.
            "the request's credentials are missing or wrong: its Authorization header must "
            "hold 'Bearer' and then the shared secret or the agent's own token",
            reason="unauthorized",
        )

    # -- signatures --------------------------------------------------------------------------
    def _keys(self) -> list[bytes]:
        """The signing keys as bytes, the one that signs first."""
        key = self.signing_key
        keys = [key] if isinstance(key, str | bytes) else list(key or [])
        return [k.encode() if isinstance(k, str) else bytes(k) for k in keys if k]

    @staticmethod
    def _mac(key: bytes, message_id: str, timestamp: str, body: bytes) -> str:
        data = message_id.encode() + b"\n" + timestamp.encode() + b"\n" + body
        return hmac.new(key, data, hashlib.sha256).hexdigest()

    def sign(self, message_id: str, body: bytes) -> dict[str, str]:
        """Signature headers for one envelope body (empty when signing is off)."""
        keys = self._keys()
        if not keys:
            return {}
        timestamp = f"{self._now():.6f}"
        return {
            ID_HEADER: message_id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: self._mac(keys[0], message_id, timestamp, body),
        }

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        message_id: str,
        *,
        redelivery: bool = False,
        stored_at: float | None = None,
        remember_for: float | None = None,
    ) -> None:
        """Check the signature of an envelope whose id is ``message_id``.

        ``redelivery``: a broker delivers this very copy again (it was not acknowledged),
        so having seen its signature is no replay; the signature and window still apply.
        ``stored_at``: when a durable broker stored the message (its own clock, not the
        publisher's word): the signature must have been fresh then, however long the message
        waited for its recipient since. A replayed copy is stored anew, so it is still stale.
        ``remember_for``: how long a copy stored within the window may still arrive (a broker
        keeps messages until they expire): the signature is remembered that long, not less
        than the window, so such a copy is still a replay.

        Raises :class:`SecurityError` with reason ``unsigned``, ``bad_signature``, ``stale``
        or ``replayed``, and :class:`InvalidMessageError` (400) for a signature header that is
        not 64 hex digits. A message is remembered only once its signature checks out.
        """
        keys = self._keys()
        if not keys:
            return
        signed_id = headers.get(ID_HEADER)
        timestamp = headers.get(TIMESTAMP_HEADER)
        signature = headers.get(SIGNATURE_HEADER)
        if not (signed_id and timestamp and signature):
            raise SecurityError(
                "the message is unsigned: X-Message-Id, X-Message-Timestamp and "
                "X-Message-Signature are required when a signing key is configured",
                reason="unsigned",
            )
        # Checked first: compare_digest raises TypeError for a non-ASCII str (a header may
        # carry any Latin-1 character), which surfaced as a 500.
        if not _SIGNATURE.fullmatch(signature):
            raise InvalidMessageError(
                f"X-Message-Signature={signature[:80]!r} is not valid: expected 64 lower-case "
                "hex digits (HMAC-SHA256)"
            )
        # Every key is tried (no early exit), so timing does not tell which one matched.
        matched = False
        for key in keys:
            expected = self._mac(key, signed_id, timestamp, body)
            matched |= hmac.compare_digest(expected, signature)
        if not matched or signed_id != message_id:
            raise SecurityError(
                "the message signature does not match its id, timestamp and body: it was "
                "altered in transit or signed with another key",
                reason="bad_signature",
            )
        try:
            sent_at = float(timestamp)
        except ValueError:
            sent_at = float("nan")
        now = self._now()
        if not abs((now if stored_at is None else stored_at) - sent_at) <= self.replay_window:
            raise SecurityError(
                f"the message was signed at {timestamp}, outside the replay window of "
                f"{self.replay_window:g} s: check the clocks or resend it",
                reason="stale",
            )
        if redelivery:
            return
        with self._lock:
            # Keyed by signature: a replay is a byte-identical copy, while a hub forwarding a
            # message re-signs it with a fresh timestamp.
            window = self.replay_window
            if remember_for is not None and remember_for > window:
                window = remember_for
            replayed = self._seen.seen(signature, now, window)
        if replayed:
            raise SecurityError(
                f"message {message_id!r} was already received within the replay window",
                reason="replayed",
            )


def _signing_keys(
    value: bytes | str | Sequence[bytes | str] | None,
) -> bytes | str | tuple[bytes | str, ...] | None:
    """``signing_key`` checked: ``None``, or one key or a non-empty list of keys, none of
    them empty or blank; the errors name the position of a bad key, never a key. Keys are
    kept as given (not stripped): the HMAC key must stay the one other parties use."""
    shown = "SecurityConfig(signing_key=<hidden>) is not valid"
    if value is None:
        return None
    if isinstance(value, str | bytes | bytearray):  # one key (a bytearray is no key list)
        return _signing_key("signing_key", value)
    if not isinstance(value, Sequence):
        raise InvalidTypeError(
            f"{shown}: expected a key (str or bytes) or a list of keys "
            f"(got type {type(value).__name__})"
        )
    if not value:
        raise InvalidValueError(
            f"{shown}: the list of keys is empty, which would turn signing off unnoticed; "
            "give at least one key, or leave it out (None) for no signing"
        )
    return tuple(_signing_key(f"signing_key[{index}]", key) for index, key in enumerate(value))


def _signing_key(parameter: str, key: object) -> bytes | str:
    shown = f"SecurityConfig({parameter}=<hidden>) is not valid"
    if not isinstance(key, str | bytes | bytearray):
        raise InvalidTypeError(
            f"{shown}: expected a key as str or bytes (got type {type(key).__name__})"
        )
    if not key.strip():
        raise InvalidValueError(
            f"{shown}: it is empty or blank, which anyone could sign with or which would "
            "turn signing off; give a real key, or leave signing_key out (None) for none"
        )
    return bytes(key) if isinstance(key, bytearray) else key


def _credential(parameter: str, value: object) -> str:
    """``value`` stripped, if it is a usable secret; the errors never show it."""
    shown = f"SecurityConfig({parameter}=<hidden>) is not valid"
    if not isinstance(value, str):
        raise InvalidTypeError(f"{shown}: expected a string (got type {type(value).__name__})")
    token = value.strip()
    if not token:
        raise InvalidValueError(
            f"{shown}: it is empty or blank, which would accept an empty bearer token or turn "
            "authentication off; give a real secret, or leave it out (None) for none"
        )
    return token
