"""t2t.llm: tool calls read from the message, cost, Jupyter-safe sync, errors, lazy import."""

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from t2t.errors import ModelCallError
from t2t.llm import (
    RAW_ARGUMENTS_KEY,
    Completion,
    ProviderRequest,
    complete,
    complete_sync,
    raw_arguments,
    register_provider,
    to_openai_messages,
    unregister_provider,
)
from t2t.schema import Message, ToolCall

ROOT = Path(__file__).resolve().parents[1]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_order_details",
            "description": "Get an order.",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
        },
    }
]


def _mocked(content, calls):
    """litellm's in-process mock: the reply a provider might send (arguments as JSON text).

    litellm leaves its finish_reason at "stop" even with tool calls, as some providers do.
    """
    tool_calls = [
        {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
        for cid, name, args in calls
    ]
    return {"mock_response": content, "mock_tool_calls": tool_calls or None}


@pytest.fixture
def provider():
    """Register a handler under a fresh name; unregistered afterwards."""
    names = []

    def register(handler, name="t2t_test"):
        register_provider(name, handler)
        names.append(name)
        return f"{name}/model-x"

    yield register
    for name in names:
        unregister_provider(name)


def test_tool_calls_come_from_the_message_even_when_finish_reason_says_stop():
    mocked = _mocked(
        "Looking it up.",
        [("a", "get_order_details", '{"order_id": "#W1"}'), ("b", "get_order_details", "")],
    )
    completion = complete_sync(
        "gpt-4o-mini", [Message(role="user", content="hi")], tools=TOOLS, **mocked
    )
    assert completion.finish_reason == "stop"
    assert completion.message.role == "assistant"
    assert completion.message.content == "Looking it up."
    assert completion.tool_calls == [
        ToolCall(id="a", name="get_order_details", arguments={"order_id": "#W1"}),
        ToolCall(id="b", name="get_order_details", arguments={}),
    ]


@pytest.mark.parametrize("text", ['{"order_id": "#W1"', "[1, 2]", "not json", '"#W1"'])
def test_arguments_that_are_not_a_json_object_are_kept_raw(text):
    mocked = _mocked("", [("a", "get_order_details", text)])
    (call,) = complete_sync("gpt-4o-mini", [{"role": "user", "content": "hi"}], **mocked).tool_calls
    assert call.arguments == {RAW_ARGUMENTS_KEY: text}
    assert raw_arguments(call) == text
    assert raw_arguments(ToolCall(name="x", arguments={"order_id": "#W1"})) is None


def test_custom_provider_reports_zero_cost(provider):
    model = provider(lambda request: "hi")
    completion = complete_sync(model, [{"role": "user", "content": "hi"}])
    assert completion.cost_usd == 0.0  # nothing to price
    assert (completion.prompt_tokens, completion.completion_tokens) == (0, 0)
    assert completion.model == model
    assert Completion.model_validate_json(completion.model_dump_json()) == completion
    with pytest.raises(ValueError, match="extra"):
        Completion.model_validate({**completion.model_dump(), "surprise": 1})


def test_known_model_is_priced_offline():
    # the mock never leaves the process; the price comes from litellm's bundled cost map
    completion = complete_sync(
        "gpt-4o-mini", [{"role": "user", "content": "hi"}], **_mocked("hello", [])
    )
    assert completion.message.content == "hello" and completion.tool_calls == []
    assert completion.prompt_tokens > 0 and completion.completion_tokens > 0
    assert completion.cost_usd > 0
    assert completion.model == "gpt-4o-mini"


def test_handler_sees_t2t_messages_tools_and_params(provider):
    seen: list[ProviderRequest] = []

    def handler(request):
        seen.append(request)
        return "plain text"

    model = provider(handler)
    history = [
        Message(role="system", content="policy"),
        Message(role="user", content="cancel #W1"),
        Message(
            role="assistant",
            tool_calls=[
                ToolCall(id="a", name="get_order_details", arguments={"order_id": "#W1"}),
                ToolCall(id="b", name="get_order_details", arguments={RAW_ARGUMENTS_KEY: "{bad"}),
            ],
        ),
        Message(role="tool", tool_call_id="a", content='{"status": "pending"}'),
        Message(role="tool", tool_call_id="b", content="Error: bad JSON"),
    ]
    completion = complete_sync(model, history, tools=TOOLS, temperature=0.0)
    assert completion.message == Message(role="assistant", content="plain text")
    (request,) = seen
    assert request.model == "model-x"
    assert request.tools == TOOLS and request.params["temperature"] == 0.0
    # a malformed call goes back to the model as {} (its tool message says what was wrong)
    expected = history[:2] + [
        history[2].model_copy(
            update={
                "tool_calls": [
                    history[2].tool_calls[0],
                    ToolCall(id="b", name="get_order_details", arguments={}),
                ]
            }
        ),
        *history[3:],
    ]
    assert request.messages == expected


def test_openai_messages_encode_arguments_as_json_text():
    (message,) = to_openai_messages(
        [Message(role="assistant", tool_calls=[ToolCall(id="a", name="f", arguments={"x": 1})])]
    )
    assert message["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"x": 1}'}
    assert to_openai_messages([{"role": "user", "content": "as is"}]) == [
        {"role": "user", "content": "as is"}
    ]


def test_async_handler_and_async_complete(provider):
    async def handler(request):
        await asyncio.sleep(0)
        return Message(
            role="assistant", tool_calls=[ToolCall(id="z", name="f", arguments={"n": 2})]
        )

    model = provider(handler)
    completion = asyncio.run(complete(model, [{"role": "user", "content": "hi"}]))
    assert completion.tool_calls == [ToolCall(id="z", name="f", arguments={"n": 2})]


def test_complete_sync_works_inside_a_running_event_loop(provider):
    model = provider(lambda request: f"turns={len(request.messages)}")

    async def notebook_cell():
        asyncio.get_running_loop()  # as in Jupyter: a loop is running in this thread
        return complete_sync(model, [{"role": "user", "content": "hi"}])

    assert asyncio.run(notebook_cell()).message.content == "turns=1"


def test_provider_failure_becomes_model_call_error_without_the_key(provider):
    secret = "sk-live-0123456789abcdef"

    def handler(request):
        raise RuntimeError(f"upstream 503 while using {secret}")

    model = provider(handler)
    with pytest.raises(ModelCallError) as info:
        complete_sync(model, [{"role": "user", "content": "hi"}], api_key=secret)
    assert model in str(info.value) and "503" in str(info.value)
    assert secret not in str(info.value)


def test_unknown_provider_is_a_model_call_error():
    with pytest.raises(ModelCallError):
        complete_sync("no_such_provider_t2t/x", [{"role": "user", "content": "hi"}])


def test_reregistering_replaces_the_handler(provider):
    provider(lambda request: "first", name="t2t_swap")
    model = provider(lambda request: "second", name="t2t_swap")
    assert complete_sync(model, [{"role": "user", "content": "hi"}]).message.content == "second"
    with pytest.raises(ValueError):
        register_provider("bad/name", lambda request: "x")


def test_import_t2t_does_not_import_litellm():
    code = (
        "import json, sys\nimport t2t, t2t.llm, t2t.explore.llm_explorer, t2t.convert.llm_rewrite\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'litellm')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
