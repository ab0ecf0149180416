"""A real OpenAI-compatible HTTP server for tests: ``POST /v1/chat/completions`` answers
from a script (content, finish reason, usage) in order, or with an HTTP error status."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass(frozen=True)
class Answer:
    """One scripted reply; ``status`` other than 200 answers an OpenAI-style error."""

    content: str = "ok"
    finish_reason: str = "stop"
    prompt_tokens: int = 10
    completion_tokens: int = 5
    status: int = 200


class ScriptedModel:
    """The app: replies in script order; records each request body it received."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self.app = Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])])

    async def _chat(self, request: Request) -> Response:
        body = await request.body()
        if len(body) > 1 << 20:
            return JSONResponse({"error": {"message": "too large"}}, status_code=413)
        data = json.loads(body)
        self.requests.append(data)
        answer = self.answers.pop(0) if self.answers else Answer()
        if answer.status != 200:
            return JSONResponse(
                {"error": {"message": "scripted failure", "type": "server_error", "code": None}},
                status_code=answer.status,
            )
        number = next(self._ids)
        return JSONResponse(
            {
                "id": f"chatcmpl-{number}",
                "object": "chat.completion",
                "created": 1_800_000_000,
                "model": f"{data['model']}-2026",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer.content},
                        "finish_reason": answer.finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": answer.prompt_tokens,
                    "completion_tokens": answer.completion_tokens,
                    "total_tokens": answer.prompt_tokens + answer.completion_tokens,
                },
            }
        )
