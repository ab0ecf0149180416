"""What the README's and docs/messaging.md's walkthrough says a plain ``curl`` gets is what the
hub answers: the hub runs as the walkthrough starts it (``otel-agents hub`` with
``OTEL_AGENTS_MESSAGING_SECRET`` and ``OTEL_AGENTS_MESSAGING_SIGNING_KEY``), a process on
127.0.0.1, and the first message is posted as ``curl`` would (no token; then the token but no
signature). The docs used to say ``invalid_message``.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import _http
import pytest
from _cluster import MESSAGING_SECRET, Cluster

from otel_agents.messaging import MessagePriority, MessageType
from otel_agents.messaging._message import new_message

pytestmark = pytest.mark.integration  # the hub as a process on 127.0.0.1

REPO = Path(__file__).parents[2]
QUIET = {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}


def _walkthrough_sentence(document: str) -> str:
    """The sentence of ``document`` about a plain ``curl``, on one line."""
    text = " ".join((REPO / document).read_text(encoding="utf-8").split())
    found = re.search(r"[^.:]*plain `curl`[^.]*\.", text)
    assert found, f"{document} no longer says what a plain curl gets"
    return found.group(0)


def test_a_plain_curl_gets_what_the_docs_say(tmp_path: Path) -> None:
    message, _ = new_message(
        "coordinator",
        "planner",
        MessageType.TASK_ASSIGNMENT,
        {"task": "scan"},
        MessagePriority.NORMAL,
        now=time.time(),
        timeout=60.0,
    )
    body = json.dumps(message.to_dict())
    cluster = Cluster(tmp_path, env=QUIET)
    try:
        cluster.start("hub", "hub", "--port", str(cluster.hub_port))
        cluster.wait_until(
            lambda: _http.get(cluster.hub_url + "/healthz").status_code == 200, "the hub"
        )
        json_type = {"content-type": "application/json"}
        plain = _http.post(cluster.hub_url + "/messages", content=body, headers=json_type)
        with_token = _http.post(
            cluster.hub_url + "/messages",
            content=body,
            headers={**json_type, "authorization": f"Bearer {MESSAGING_SECRET}"},
        )
    finally:
        cluster.stop()
    answers = [(plain.status_code, plain.json()["error"])]
    answers.append((with_token.status_code, with_token.json()["error"]))
    assert answers == [(401, "unauthorized"), (403, "unsigned")]
    for document in ("README.md", "docs/messaging.md"):
        sentence = _walkthrough_sentence(document)
        for status, error in answers:
            assert f"{status} `{error}`" in sentence, (document, sentence)
        assert "invalid_message" not in sentence
