"""t2t.llm: tool calls read from the message, cost, retries, sync in Jupyter, lazy import."""

import asyncio
import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import ORDER_TOOLS as TOOLS

from t2t.core.errors import ConfigError, ModelCallError
from t2t.core.schema import Message, ToolCall
from t2t.llm import (
    RAW_ARGUMENTS_KEY,
    Completion,
    ProviderRequest,
    Usage,
    complete,
    complete_sync,
    raw_arguments,
    register_model,
    register_provider,
    to_openai_messages,
    unregister_provider,
)

ROOT = Path(__file__).resolve().parents[2]


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


@pytest.fixture
def hand_offs(monkeypatch):
    """The names of the threads that hand work to a thread pool, in order."""
    names = []
    submit = ThreadPoolExecutor.submit

    def spy(self, fn, /, *args, **kwargs):
        names.append(threading.current_thread().name)
        return submit(self, fn, *args, **kwargs)

    monkeypatch.setattr(ThreadPoolExecutor, "submit", spy)
    return names


def test_a_model_served_in_process_is_dispatched_without_a_thread_hop(provider, hand_offs):
    """litellm sends each call's dispatch to the loop's executor; for a handler in this process
    it runs on t2t's model loop itself (a hop per call left sharded workers 10% idle). What the
    handler sends to the executor itself still runs on a pool thread.
    """
    ran_on = []

    async def handler(request):
        ran_on.append(await asyncio.to_thread(lambda: threading.current_thread().name))
        return "ok"

    model = provider(handler)
    for _ in range(3):
        assert complete_sync(model, [{"role": "user", "content": "hi"}]).message.content == "ok"
    assert hand_offs == ["t2t-model-loop"] * 3  # the handler's to_thread calls, nothing more
    assert len(ran_on) == 3 and all(name.startswith("t2t-model-loop-pool") for name in ran_on)


def test_a_model_behind_a_network_is_still_dispatched_on_a_thread(hand_offs):
    """Some providers block in litellm's dispatch (a sync-only client, a credentials fetch)."""
    reply = complete_sync(
        "openai/gpt-4o-mini", [{"role": "user", "content": "hi"}], **_mocked("fine", [])
    )
    assert reply.message.content == "fine"
    assert hand_offs == ["t2t-model-loop"]


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
        "import json, sys\nimport t2t, t2t.llm.client, t2t.explore.llm_explorer\n"
        "import t2t.tasks.rewrite\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'litellm')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


# ------------------------------------------------------------------------------------ retries


def _litellm_error(name, model="m"):
    from t2t.llm.backend import (
        load_litellm,  # tests may not import litellm; the error types come through t2t
    )

    return getattr(load_litellm(), name)(
        message=f"{name} from upstream", llm_provider="t", model=model
    )


@pytest.fixture
def no_wait(monkeypatch):
    monkeypatch.setenv("T2T_RETRY_WAIT_S", "0")


def _flaky(failures):
    """A handler raising the given exceptions in turn, then answering; its calls are counted."""
    calls = []

    def handler(request):
        calls.append(request)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        return "finally"

    return handler, calls


def test_rate_limits_are_retried_until_an_answer(provider, no_wait):
    handler, calls = _flaky([_litellm_error("RateLimitError")] * 2)
    completion = complete_sync(provider(handler), [{"role": "user", "content": "hi"}])
    assert completion.message.content == "finally"
    assert len(calls) == 3


def test_an_auth_error_fails_at_once(provider, no_wait):
    handler, calls = _flaky([_litellm_error("AuthenticationError")])
    with pytest.raises(ModelCallError, match="AuthenticationError"):
        complete_sync(provider(handler), [{"role": "user", "content": "hi"}])
    assert len(calls) == 1


@pytest.mark.parametrize(
    "name",
    [
        "RateLimitError",
        "Timeout",
        "APIConnectionError",
        "InternalServerError",
        "ServiceUnavailableError",
        "BadGatewayError",
    ],
)
def test_transient_errors_are_retried_max_retries_times(provider, name):
    handler, calls = _flaky([_litellm_error(name)] * 10)
    with pytest.raises(ModelCallError) as info:
        complete_sync(
            provider(handler), [{"role": "user", "content": "hi"}], max_retries=2, retry_wait_s=0
        )
    assert len(calls) == 3
    assert name in str(info.value) and "after 3 attempts" in str(info.value)


@pytest.mark.parametrize(
    "name",
    [
        "AuthenticationError",
        "BadRequestError",
        "ContextWindowExceededError",
        "NotFoundError",
        "ContentPolicyViolationError",
    ],
)
def test_client_errors_are_not_retried(provider, no_wait, name):
    handler, calls = _flaky([_litellm_error(name)] * 10)
    with pytest.raises(ModelCallError, match=name):
        complete_sync(provider(handler), [{"role": "user", "content": "hi"}])
    assert len(calls) == 1


def test_a_handler_bug_is_not_retried_and_is_named(provider, no_wait):
    # litellm wraps a handler's own exception as APIConnectionError (a "transient" type)
    handler, calls = _flaky([KeyError("order_id")] * 10)
    with pytest.raises(ModelCallError, match="KeyError: 'order_id'"):
        complete_sync(provider(handler), [{"role": "user", "content": "hi"}])
    assert len(calls) == 1


def test_retry_wait_must_be_a_number(provider, monkeypatch):
    handler, calls = _flaky([])
    monkeypatch.setenv("T2T_RETRY_WAIT_S", "soon")
    with pytest.raises(ConfigError, match="T2T_RETRY_WAIT_S"):
        complete_sync(provider(handler), [{"role": "user", "content": "hi"}])
    assert calls == []


# --------------------------------------------------------------------------------- cost, usage


def _usage_reply(prompt_tokens, completion_tokens):
    def handler(request):
        return Completion(
            message=Message(role="assistant", content="priced"),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            model=request.model,
        )

    return handler


def test_register_model_prices_a_custom_provider(provider):
    model = provider(_usage_reply(1000, 200), name="t2t_priced")
    before = complete_sync(model, [{"role": "user", "content": "hi"}])
    assert (before.prompt_tokens, before.completion_tokens, before.cost_usd) == (1000, 200, 0.0)
    register_model(model, input_cost_per_token=1e-6, output_cost_per_token=4e-6)
    after = complete_sync(model, [{"role": "user", "content": "hi"}])
    assert after.cost_usd == pytest.approx(1000 * 1e-6 + 200 * 4e-6)
    assert after.message.content == "priced"


def test_register_model_rejects_negative_prices():
    with pytest.raises(ValueError, match=">= 0"):
        register_model("t2t_neg/x", input_cost_per_token=-1.0, output_cost_per_token=0.0)


def test_usage_sums_calls_tokens_and_cost():
    fresh = Completion(
        message=Message(role="assistant", content="a"),
        prompt_tokens=10,
        completion_tokens=2,
        cost_usd=0.5,
        model="m",
    )
    cached = fresh.model_copy(update={"cached": True})
    usage = Usage()
    for completion in (fresh, cached, fresh):
        usage.add(completion)
    assert usage == Usage(
        calls=3, cached_calls=1, prompt_tokens=30, completion_tokens=6, cost_usd=1.5
    )
    total = Usage(calls=1, cost_usd=0.25)
    total.add(usage)
    assert (total.calls, total.cached_calls, total.cost_usd) == (4, 1, 1.75)


def test_handler_sees_metadata_but_not_transport_settings(provider):
    seen = []
    model = provider(lambda request: seen.append(request.params) or "ok")
    complete_sync(
        model,
        [{"role": "user", "content": "hi"}],
        metadata={"t2t_task_id": "t1", "t2t_trial": 2},
        seed=7,
    )
    assert seen == [{"metadata": {"t2t_task_id": "t1", "t2t_trial": 2}, "seed": 7}]


def test_model_timeout_is_read_by_settings(monkeypatch):
    from t2t import llm
    from t2t.core import settings

    assert llm.model_timeout_s is settings.model_timeout_s
    monkeypatch.setenv("T2T_MODEL_TIMEOUT_S", "soon")
    with pytest.raises(ConfigError, match="T2T_MODEL_TIMEOUT_S"):
        llm.model_timeout_s()
