"""A fake Anthropic Messages API: `POST /v1/messages`, JSON and SSE; tool answers fit the tool schema."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from agents.sample import Sampler
from tests.fakes.server import FakeServer, Fault, Handler, serve_main

BAD_OUTPUT = {"unexpected_field": True}


@lru_cache(maxsize=1024)
def _sampler(schema_json: str) -> Sampler:
    return Sampler(json.loads(schema_json))


def _prompt_text(body: dict[str, Any]) -> str:
    parts = [str(body.get("system", ""))]
    for message in body.get("messages", []):
        content = message.get("content")
        parts.append(content if isinstance(content, str) else json.dumps(content))
    return "\n".join(parts)


def _last_user(body: dict[str, Any]) -> str:
    users = [m.get("content") for m in body.get("messages", []) if m.get("role") == "user"]
    last = users[-1] if users else ""
    return last if isinstance(last, str) else json.dumps(last)


class FakeAnthropic(FakeServer):
    """Answers like the Messages API. With a forced tool, the answer is a `tool_use` fitting its schema."""

    def routes(self) -> list[tuple[str, Handler]]:
        return [("/v1/messages", self.messages)]

    def error(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
        body = {"type": "error", "error": {"type": kind, "message": message}}
        return JSONResponse(body, status_code=status, headers=headers)

    def answer(self, body: dict[str, Any], fault: Fault | None) -> tuple[dict[str, Any], int, int]:
        """The content block, input tokens and output tokens for a request."""
        prompt = _prompt_text(body)
        tools = body.get("tools") or []
        choice = body.get("tool_choice") or {}
        tool = next((t for t in tools if t.get("name") == choice.get("name")), tools[0] if tools else None)
        if tool is None:
            text = f"Answer to: {prompt[-80:]}"
            return {"type": "text", "text": text}, len(prompt) // 4 + 1, len(text) // 4 + 1
        if fault is not None and fault.kind == "bad_output":
            value: Any = BAD_OUTPUT
        else:
            value = _sampler(json.dumps(tool["input_schema"], sort_keys=True))(_last_user(body))
        block = {
            "type": "tool_use",
            "id": f"toolu_{uuid.uuid4().hex[:24]}",
            "name": tool["name"],
            "input": value,
        }
        return block, len(prompt) // 4 + 1, len(json.dumps(value)) // 4 + 1

    async def messages(self, request: Request, body: dict[str, Any], fault: Fault | None) -> Response:
        for field in ("model", "messages", "max_tokens"):
            if field not in body:
                return self.error(400, "invalid_request_error", f"{field}: Field required")
        if not (
            request.headers.get("x-api-key") or request.headers.get("authorization", "").startswith("Bearer ")
        ):
            return self.error(401, "authentication_error", "an API key is required (x-api-key or Bearer)")
        if request.headers.get("anthropic-version", "") >= "2026-10-21":
            for field in ("temperature", "top_p", "top_k"):
                if field in body:
                    return self.error(
                        400, "invalid_request_error", f"{field}: Extra inputs are not permitted"
                    )
        block, tokens_in, tokens_out = self.answer(body, fault)
        message = {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [block],
            "stop_reason": "tool_use" if block["type"] == "tool_use" else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
        }
        if body.get("stream"):
            return StreamingResponse(self._events(message), media_type="text/event-stream")
        return JSONResponse(message)

    async def _events(self, message: dict[str, Any]) -> AsyncIterator[str]:
        def event(kind: str, data: dict[str, Any]) -> str:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"

        block = message["content"][0]
        usage = message["usage"]
        start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
        yield event("message_start", {"message": start})
        if block["type"] == "tool_use":
            yield event("content_block_start", {"index": 0, "content_block": {**block, "input": {}}})
            text = json.dumps(block["input"])
            for i in range(0, len(text), 24):
                piece = {"type": "input_json_delta", "partial_json": text[i : i + 24]}
                yield event("content_block_delta", {"index": 0, "delta": piece})
        else:
            yield event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
            text = block["text"]
            for i in range(0, len(text), 24):
                yield event(
                    "content_block_delta",
                    {"index": 0, "delta": {"type": "text_delta", "text": text[i : i + 24]}},
                )
        yield event("content_block_stop", {"index": 0})
        stop = {"stop_reason": message["stop_reason"], "stop_sequence": None}
        yield event("message_delta", {"delta": stop, "usage": {"output_tokens": usage["output_tokens"]}})
        yield event("message_stop", {})


if __name__ == "__main__":
    serve_main(lambda latency: FakeAnthropic(latency=latency), "fake Anthropic Messages API")
