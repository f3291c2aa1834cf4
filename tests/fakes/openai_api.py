"""A fake OpenAI Chat Completions API: `POST /v1/chat/completions`, JSON and SSE, `response_format`."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from tests.fakes.anthropic_api import BAD_OUTPUT, _last_user, _sampler
from tests.fakes.server import FakeServer, Fault, Handler, serve_main


def _prompt_text(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content", "")) for m in body.get("messages", []))


class FakeOpenAI(FakeServer):
    def routes(self) -> list[tuple[str, Handler]]:
        return [("/v1/chat/completions", self.completions)]

    def error(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
        body = {"error": {"type": kind, "message": message, "code": None, "param": None}}
        return JSONResponse(body, status_code=status, headers=headers)

    def content(self, body: dict[str, Any], fault: Fault | None) -> str:
        if fault is not None and fault.kind == "not_json":
            return "Sure! Here is what you asked for."
        if fault is not None and fault.kind == "bad_output":
            return json.dumps(BAD_OUTPUT)
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            schema = fmt["json_schema"]["schema"]
            return json.dumps(_sampler(json.dumps(schema, sort_keys=True))(_last_user(body)))
        return f"Answer to: {_prompt_text(body)[-80:]}"

    async def completions(self, request: Request, body: dict[str, Any], fault: Fault | None) -> Response:
        for field in ("model", "messages"):
            if field not in body:
                return self.error(400, "invalid_request_error", f"missing required parameter: {field!r}")
        content = self.content(body, fault)
        usage = {
            "prompt_tokens": len(_prompt_text(body)) // 4 + 1,
            "completion_tokens": len(content) // 4 + 1,
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        ident, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks = self._chunks(ident, created, body["model"], content, usage if include_usage else None)
            return StreamingResponse(chunks, media_type="text/event-stream")
        return JSONResponse(
            {
                "id": ident,
                "object": "chat.completion",
                "created": created,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": usage,
            }
        )

    async def _chunks(
        self, ident: str, created: int, model: str, content: str, usage: dict[str, int] | None
    ) -> AsyncIterator[str]:
        def chunk(delta: dict[str, Any], finish: str | None, usage: dict[str, int] | None = None) -> str:
            choices = (
                [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
                if delta or finish
                else []
            )
            data = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model}
            data |= {"choices": choices, "usage": usage}
            return f"data: {json.dumps(data)}\n\n"

        yield chunk({"role": "assistant", "content": ""}, None)
        for i in range(0, len(content), 24):
            yield chunk({"content": content[i : i + 24]}, None)
        yield chunk({}, "stop")
        if usage is not None:
            yield chunk({}, None, usage)
        yield "data: [DONE]\n\n"


if __name__ == "__main__":
    serve_main(lambda latency: FakeOpenAI(latency=latency), "fake OpenAI Chat Completions API")
