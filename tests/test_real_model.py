"""SmolLM2-135M-Instruct for real: imported from its GGUF, trained two steps, served over HTTP.

`make model` fills `models/smollm2-135m` (`.ci/run` does it); without it these tests skip, or fail
under `T2T_REQUIRE_MODEL=1` (CI). `t2t serve` runs as its own process on 127.0.0.1 and `t2t run`
reaches it through litellm's `hosted_vllm/` provider: the path a vLLM user takes.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ORDER_TOOLS as TOOLS
from conftest import free_port, shared_task_set_path

pytest.importorskip("trl", reason="the train extra: pip install -e '.[train]'")
pytest.importorskip("fastapi", reason="the serve extra: pip install -e '.[serve]'")

from t2t.benchmark.results import read_episodes  # noqa: E402
from t2t.cli import main  # noqa: E402
from t2t.llm import complete_sync  # noqa: E402
from t2t.llm.chat_templates import known_tool_templates  # noqa: E402
from t2t.llm.hf_models import load_tokenizer  # noqa: E402

MODEL = Path(__file__).parent.parent / "models" / "smollm2-135m"
NAME = "smollm2"
SYSTEM = "You are a customer service agent. Look orders up with the tools."


@pytest.fixture(scope="module")
def model():
    if not (MODEL / "config.json").exists():
        if os.environ.get("T2T_REQUIRE_MODEL") == "1":
            pytest.fail(f"{MODEL} is missing: run `make model`")
        pytest.skip(f"{MODEL} is missing: run `make model`")
    return MODEL


class Server:
    """`t2t serve` in its own process, started and killed by the test."""

    def __init__(self, folder, port):
        self.folder, self.port, self.process = folder, port, None
        self.base = f"http://127.0.0.1:{port}/v1"

    def start(self):
        command = [sys.executable, "-m", "t2t.cli", "serve", str(self.folder), "--name", NAME]
        self.process = subprocess.Popen([*command, "--port", str(self.port)])
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1):
                    return self
            except OSError:
                assert self.process.poll() is None, "t2t serve exited"
                time.sleep(0.3)
        raise AssertionError("t2t serve did not come up in 90 s")

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def trained(model, tmp_path_factory):
    """Two LoRA steps on two short tool-call examples: enough for the base model to call tools."""
    root = tmp_path_factory.mktemp("real")
    examples = [
        {
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"What is the status of my order {order}?"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "type": "function",
                            "function": {
                                "name": "get_order_details",
                                "arguments": {"order_id": order},
                            },
                        }
                    ],
                },
            ],
            "tools": TOOLS,
        }
        for order in ("#W1111111", "#W5555555")
    ]
    (root / "sft" / "hf").mkdir(parents=True)
    lines = "".join(json.dumps(e) + "\n" for e in examples)
    (root / "sft" / "hf" / "train.jsonl").write_text(lines)
    out = root / "tuned"
    argv = ["train", "--base", str(model), "--data", str(root / "sft"), "--lora", "--shared-prefix"]
    argv += ["--lr", "1e-3", "--epochs", "2", "--batch-size", "2", "--out", str(out), "-q"]
    assert main(argv) == 0
    return out


def test_the_import_is_smollm2_with_a_tool_calling_template(model):
    made = json.loads((model / "t2t_import.json").read_text())
    assert made["architecture"] == "LlamaForCausalLM"
    assert 134e6 < made["parameters"] < 135e6 and made["context_length"] == 8192
    assert load_tokenizer(model).chat_template == known_tool_templates()["qwen2_5"]


def test_two_training_steps_then_a_served_turn_parses_into_a_tool_call(trained):
    result = json.loads((trained / "t2t_train.json").read_text())
    assert result["steps"] == 2 and result["losses"][1] < result["losses"][0]
    server = Server(trained, free_port()).start()
    try:
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "What is the status of my order #W2378156?"},
        ]
        reply = complete_sync(
            f"hosted_vllm/{NAME}", messages, TOOLS, api_base=server.base, max_tokens=64, cache=False
        )
    finally:
        server.kill()
    (call,) = reply.message.tool_calls
    assert call.name == "get_order_details" and call.arguments == {"order_id": "#W2378156"}
    tokenizer = load_tokenizer(trained)
    prompt = tokenizer.apply_chat_template(
        messages, tools=TOOLS, add_generation_prompt=True, return_dict=True
    )
    assert reply.prompt_tokens == len(
        prompt["input_ids"]
    )  # the server's usage is the prompt's true length
    assert 0 < reply.completion_tokens <= 64


def _config(path, base, **agent):
    settings = {"model": f"hosted_vllm/{NAME}", "api_base": base, "max_tokens": 12, **agent}
    lines = ["max_steps = 1", "[agent]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_t2t_run_over_http_counts_tokens_retries_a_dead_server_and_times_out(
    model, tmp_path, tmp_path_factory, monkeypatch
):
    monkeypatch.setenv("T2T_RETRY_WAIT_S", "0.05")
    tasks = shared_task_set_path(tmp_path_factory, 16)
    server = Server(model, free_port())
    config = _config(tmp_path / "run.toml", server.base, max_retries=2, timeout_s=120)
    run = ["run", "--tasks", str(tasks), "--config", str(config), "-q"]
    try:
        server.start()
        assert main([*run, "--limit", "2", "--out", str(tmp_path / "up.jsonl")]) == 0
        episodes = read_episodes(tmp_path / "up.jsonl")
        assert len(episodes) == 2 and not any(e.error for e in episodes)
        # the retail prompt (policy + tools) is ~4,600 tokens; every agent turn is counted
        assert all(4000 < e.tokens < 4000 + 3000 for e in episodes)

        server.kill()  # a dead server: retried, then an infrastructure error, never a score
        down = tmp_path / "down.jsonl"
        code = main([*run, "--limit", "1", "--out", str(tmp_path / "checked.jsonl")])
        assert code == 2 and not (tmp_path / "checked.jsonl").exists()  # the preflight says so
        main([*run, "--limit", "1", "--no-preflight", "--out", str(down)])
        (lost,) = read_episodes(down)
        assert lost.reward is None and "after 3 attempts" in (lost.error or "")

        server.start()  # back up: --retry-errors plays it again
        assert main([*run, "--limit", "1", "--retry-errors", "--out", str(down)]) == 0
        (again,) = read_episodes(down)
        assert again.error is None and again.tokens > 4000

        server.kill()
        server.start()  # a fresh server must encode the whole prompt: longer than the timeout
        slow = _config(tmp_path / "slow.toml", server.base, max_retries=0, timeout_s=0.5)
        late = tmp_path / "late.jsonl"
        main(
            [
                "run",
                "--tasks",
                str(tasks),
                "--config",
                str(slow),
                "-q",
                "--limit",
                "1",
                "--no-preflight",  # the run's own timeout is tested, not the check's
                "--out",
                str(late),
            ]
        )
        (timed_out,) = read_episodes(late)
        assert timed_out.reward is None and "Timeout" in (timed_out.error or "")
    finally:
        server.kill()
