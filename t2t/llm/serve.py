"""A local model behind an OpenAI-compatible HTTP API: `t2t serve <folder>` on 127.0.0.1.

The same path a vLLM user takes, on a CPU: any OpenAI client (litellm's `hosted_vllm/<name>` or
`openai/<name>` with `api_base`) talks to it. Replies come from the `hf-local` provider's engine,
so concurrent requests share the prompt's KV cache and are decoded as one batch, and tool calls
are parsed by the model's own response template. Only chat completions without streaming.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from t2t.core.errors import ConfigError, MissingDependencyError
from t2t.llm.hf_local import LOCAL_PROVIDER, answer_sync, check_local_model, register_local_model
from t2t.llm.messages import from_openai_message, to_openai_messages
from t2t.llm.providers import ProviderRequest

__all__ = ["ChatRequest", "create_app", "serve"]


class ChatRequest(BaseModel):
    """The fields of an OpenAI chat completion request this server reads (others are ignored)."""

    model_config = ConfigDict(extra="ignore")
    model: str
    messages: list[dict[str, Any]] = Field(min_length=1)
    tools: list[dict[str, Any]] | None = None
    temperature: float | None = Field(None, ge=0)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stream: bool = False


def create_app(folder: str | Path, *, name: str | None = None) -> Any:
    """The FastAPI app serving the model in `folder` as `name` (default: the folder's name)."""
    try:
        from fastapi import FastAPI, HTTPException
    except ImportError:
        raise MissingDependencyError("fastapi", "serve") from None
    local = f"{LOCAL_PROVIDER}/{folder}"
    check_local_model(local)
    register_local_model(local, load=True)
    served = name or Path(folder).name
    app = FastAPI(title=f"t2t serve: {served}")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": served, "object": "model", "owned_by": "t2t"}]}

    @app.post("/v1/chat/completions")
    def chat(request: ChatRequest) -> dict[str, Any]:  # a thread of FastAPI's pool
        if request.model != served:
            raise HTTPException(404, f"model {request.model!r} is not served here; {served!r} is")
        if request.stream:
            raise HTTPException(400, "streaming is not supported; send stream=false")
        limit = request.max_completion_tokens or request.max_tokens
        params = {"temperature": request.temperature, "top_p": request.top_p, "max_tokens": limit}
        provider_request = ProviderRequest(
            model=local,
            messages=[from_openai_message(m) for m in request.messages],
            tools=request.tools or [],
            params={k: v for k, v in params.items() if v is not None},
        )
        completion = answer_sync(provider_request)
        message = to_openai_messages([completion.message], keep_raw=True)[0]
        usage = (completion.prompt_tokens, completion.completion_tokens)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": served,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": usage[0],
                "completion_tokens": usage[1],
                "total_tokens": sum(usage),
            },
        }

    return app


def serve(
    folder: str | Path, *, name: str | None = None, host: str = "127.0.0.1", port: int = 8000
) -> None:
    """Serve until interrupted."""
    try:
        import uvicorn
    except ImportError:
        raise MissingDependencyError("uvicorn", "serve") from None
    if not 0 <= port < 65536:
        raise ConfigError(f"--port must be 0-65535, not {port}")
    uvicorn.run(create_app(folder, name=name), host=host, port=port, log_level="warning")
