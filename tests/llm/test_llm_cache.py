"""The LLM disk cache: re-runs ask no model, trials and params do, no secret reaches the disk."""

import json
import subprocess
import sys
from pathlib import Path

import diskcache
import pytest
from hypothesis import given
from hypothesis import strategies as st

from t2t.core.schema import Message
from t2t.llm import (
    Completion,
    ModelCache,
    cache_key,
    complete_sync,
    register_model,
    register_provider,
    unregister_provider,
)

ROOT = Path(__file__).resolve().parents[2]
CHAT = [Message(role="system", content="policy"), Message(role="user", content="cancel #W1")]
SECRET = "sk-test-1234567890abcdef"


@pytest.fixture
def model():
    """A counting offline provider: every call it answers is in `model.calls`."""
    calls = []

    def handler(request):
        calls.append(request)
        return Completion(
            message=Message(role="assistant", content=f"reply {len(calls)}"),
            prompt_tokens=100,
            completion_tokens=10,
            model=request.model,
        )

    register_provider("t2t_cache", handler)
    yield _Model("t2t_cache/model-x", calls)
    unregister_provider("t2t_cache")


class _Model(str):
    def __new__(cls, name, calls):
        self = super().__new__(cls, name)
        self.calls = calls
        return self


def test_a_rerun_makes_no_provider_call(model, tmp_path):
    register_model(model, input_cost_per_token=1e-6, output_cost_per_token=1e-5)
    first = complete_sync(model, CHAT, cache=tmp_path, trial=0, temperature=0.0)
    again = complete_sync(model, CHAT, cache=tmp_path, trial=0, temperature=0.0)
    assert len(model.calls) == 1
    assert (first.cached, again.cached) == (False, True)
    assert again.message == first.message
    # reports stay stable: a hit keeps the original tokens and cost
    assert (again.prompt_tokens, again.completion_tokens) == (100, 10)
    assert again.cost_usd == first.cost_usd == pytest.approx(100 * 1e-6 + 10 * 1e-5)


def test_each_trial_gets_its_own_reply(model, tmp_path):
    replies = [complete_sync(model, CHAT, cache=tmp_path, trial=t).message for t in (0, 1, 0, 1)]
    assert len(model.calls) == 2
    assert replies[0] != replies[1] and replies[2:] == replies[:2]


@pytest.mark.parametrize(
    "change",
    [
        {"temperature": 0.7},
        {"seed": 2},
        {"tool_choice": "none"},
        {"metadata": {"t2t_task_id": "other"}},
    ],
)
def test_a_param_that_changes_the_answer_changes_the_key(model, tmp_path, change):
    base = {"temperature": 0.0, "seed": 1, "metadata": {"t2t_task_id": "t1"}}
    complete_sync(model, CHAT, cache=tmp_path, **base)
    complete_sync(model, CHAT, cache=tmp_path, **{**base, **change})
    assert len(model.calls) == 2


def test_other_messages_or_tools_are_a_new_call(model, tmp_path):
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    complete_sync(model, CHAT, cache=tmp_path)
    complete_sync(model, CHAT[:1], cache=tmp_path)
    complete_sync(model, CHAT, [tool], cache=tmp_path)
    assert len(model.calls) == 3


def test_no_secret_reaches_the_cache(model, tmp_path):
    complete_sync(model, CHAT, cache=tmp_path, api_key=SECRET, timeout=5)
    complete_sync(model, CHAT, cache=tmp_path, api_key="sk-other-abcdefghijkl", timeout=9)
    assert len(model.calls) == 1  # a rotated key or another timeout still hits
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path
    key = cache_key(model, CHAT, api_key=SECRET)
    assert key == cache_key(model, CHAT) and SECRET not in key


@pytest.mark.parametrize("garbage", ["not json", b"\x80\x00", 42, {"message": "x"}])
def test_an_unreadable_entry_is_a_miss(model, tmp_path, garbage):
    complete_sync(model, CHAT, cache=tmp_path)
    with diskcache.Cache(str(tmp_path)) as raw:
        (key,) = list(raw)
        raw[key] = garbage
    repaired = complete_sync(model, CHAT, cache=tmp_path)
    assert len(model.calls) == 2 and not repaired.cached
    assert complete_sync(model, CHAT, cache=tmp_path).cached  # the entry was rewritten


def test_t2t_cache_dir_is_the_default_and_false_opts_out(model, tmp_path, monkeypatch):
    monkeypatch.setenv("T2T_CACHE_DIR", str(tmp_path))
    complete_sync(model, CHAT)
    assert complete_sync(model, CHAT).cached
    assert not complete_sync(model, CHAT, cache=False).cached
    monkeypatch.delenv("T2T_CACHE_DIR")
    assert not complete_sync(model, CHAT).cached
    assert len(model.calls) == 3


def test_two_handles_on_one_folder_share_entries(model, tmp_path):
    with ModelCache(tmp_path) as one, ModelCache(tmp_path) as two:
        complete_sync(model, CHAT, cache=one)
        assert complete_sync(model, CHAT, cache=two).cached
        assert len(one) == len(two) == 1
    assert len(model.calls) == 1


def test_a_hit_does_not_import_litellm(model, tmp_path):
    complete_sync(model, CHAT, cache=tmp_path, trial=3)
    chat = json.dumps([m.model_dump() for m in CHAT])
    code = (
        "import json, sys\nfrom t2t.llm.client import complete_sync\n"
        "from t2t.core.schema import Message\n"
        f"chat = [Message.model_validate(m) for m in json.loads({chat!r})]\n"
        f"done = complete_sync({str(model)!r}, chat, cache={str(tmp_path)!r}, trial=3)\n"
        "print(json.dumps([done.cached, 'litellm' in sys.modules]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [True, False]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@given(
    params=st.dictionaries(st.sampled_from(["temperature", "seed", "top_p", "stop"]), _JSON),
    trial=st.integers(0, 5),
)
def test_the_key_ignores_order_and_secrets_but_not_the_trial(params, trial):
    key = cache_key("m/x", CHAT, trial=trial, **params)
    reordered = dict(reversed(list(params.items())))
    assert cache_key("m/x", CHAT, trial=trial, **reordered, api_key=SECRET, timeout=1) == key
    assert cache_key("m/x", CHAT, trial=trial + 1, **params) != key
