"""A ``tls://`` URL requires TLS: a server that does not offer it (or anyone on the path
answering for it) never receives the CONNECT line, hence never the credentials; a real
nats-server with TLS is reached through it."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_agents.messaging import AgentCommunicationProtocol, DeliveryError
from tests._nats import nats_server

pytestmark = pytest.mark.integration

PASSWORD = "hunter2-tls-secret"
PLAIN_INFO = (
    b'INFO {"server_id":"fake","version":"2.10.0","max_payload":1048576,"auth_required":true}\r\n'
)


class PlainServer:
    """A fake NATS server on 127.0.0.1 that offers no TLS and records every byte a client
    sends after its INFO (a downgrade on the path looks the same)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            with conn:
                conn.settimeout(0.5)
                conn.sendall(PLAIN_INFO)
                deadline = time.monotonic() + 2
                while time.monotonic() < deadline and not self._stop.is_set():
                    try:
                        chunk = conn.recv(4096)
                    except OSError:
                        continue
                    if not chunk:
                        break
                    self.received += chunk

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.sock.close()


@pytest.fixture
def plain() -> Iterator[PlainServer]:
    server = PlainServer()
    try:
        yield server
    finally:
        server.close()


@pytest.mark.parametrize("in_url", [False, True], ids=["env", "userinfo"])
def test_a_tls_url_sends_no_credentials_to_a_server_without_tls(
    plain: PlainServer, monkeypatch: pytest.MonkeyPatch, in_url: bool
) -> None:
    monkeypatch.setenv("OTEL_AGENTS_NATS_USER", "svc")
    monkeypatch.setenv("OTEL_AGENTS_NATS_PASSWORD", PASSWORD)
    userinfo = f"svc:{PASSWORD}@" if in_url else ""
    url = f"tls://{userinfo}127.0.0.1:{plain.port}"
    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        AgentCommunicationProtocol({"transport": url, "broker_timeout": 20.0})
    assert caught.value.reason == "tls_required"
    assert "did not offer TLS" in str(caught.value)
    assert PASSWORD not in str(caught.value)
    assert time.monotonic() - started < 15  # at once, not after the 20 s broker_timeout
    assert plain.connections >= 1  # it was reached, and told nothing
    assert PASSWORD.encode() not in plain.received
    assert b"CONNECT" not in bytes(plain.received)


def test_a_nats_url_to_the_same_server_still_sends_connect(
    plain: PlainServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: plain nats:// is plain text by choice (the refusal above is TLS's)."""
    monkeypatch.setenv("OTEL_AGENTS_NATS_USER", "svc")
    monkeypatch.setenv("OTEL_AGENTS_NATS_PASSWORD", PASSWORD)
    with pytest.raises(DeliveryError):
        AgentCommunicationProtocol(
            {"transport": f"nats://127.0.0.1:{plain.port}", "broker_timeout": 3.0}
        )
    assert b"CONNECT" in bytes(plain.received)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA, and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "otel-agents test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_a_tls_url_reaches_a_real_nats_server_with_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the CA bundle the client trusts
    extra = ("--tls", "--tlscert", str(cert), "--tlskey", str(key))
    with nats_server(tmp_path / "nats", extra) as server:
        comm = AgentCommunicationProtocol(
            {"transport": f"tls://127.0.0.1:{server.port}", "broker_timeout": 10.0}
        )
        try:
            comm.register_agent("worker", "Worker", ["work"], "http://localhost:8001")
            got: list[object] = []
            comm.register_handler("worker", lambda message: got.append(message.payload))
            comm.send_message("boss", "worker", "request", {"n": 1})
            assert comm.process_pending("worker") == 1
            assert got == [{"n": 1}]
        finally:
            comm.stop()
