"""Run configuration: TOML/YAML files with [agent] and [user] tables, command-line overrides on
top, no secrets, and a config hash that follows only what changes an episode."""

import pytest

from t2t.benchmark.config import RunConfig, load_run_config
from t2t.core.errors import ConfigError

TOML = """
trials = 3
max_steps = 12

[agent]
model = "openai/gpt-4o-mini"
temperature = 0.2
concurrency = 4
input_cost_per_token = 1e-6
output_cost_per_token = 2e-6

[user]
model = "anthropic/claude-3-5-haiku"
temperature = 0.7
concurrency = 2
"""

YAML = """
trials: 3
max_steps: 12
agent:
  model: openai/gpt-4o-mini
  temperature: 0.2
  concurrency: 4
  input_cost_per_token: 1.0e-6
  output_cost_per_token: 2.0e-6
user:
  model: anthropic/claude-3-5-haiku
  temperature: 0.7
  concurrency: 2
"""

AGENT_ONLY = """
[agent]
model = "openai/gpt-4o-mini"
temperature = 0.2
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(params=[("run.toml", TOML), ("run.yaml", YAML)], ids=["toml", "yaml"])
def config_file(request, tmp_path):
    return _write(tmp_path, *request.param)


def test_file_sets_agent_user_and_run_keys(config_file):
    config = load_run_config(config_file)
    assert config.agent == "openai/gpt-4o-mini"
    assert config.agent_params["temperature"] == 0.2
    assert config.concurrency == 4
    assert config.prices == {"openai/gpt-4o-mini": (1e-6, 2e-6)}
    assert config.user == "anthropic/claude-3-5-haiku"
    assert config.user_params["temperature"] == 0.7
    assert config.user_concurrency == 2
    assert (config.trials, config.max_steps) == (3, 12)


def test_toml_and_yaml_give_the_same_config(tmp_path):
    toml = load_run_config(_write(tmp_path, "run.toml", TOML))
    assert load_run_config(_write(tmp_path, "run.yml", YAML)) == toml


def test_overrides_win_and_none_is_ignored(config_file):
    config = load_run_config(config_file, trials=None, max_steps=5, concurrency=None, user=None)
    assert (config.trials, config.max_steps) == (3, 5)
    assert config.concurrency == 4
    assert config.user == "anthropic/claude-3-5-haiku"
    assert load_run_config(config_file, concurrency=16).concurrency == 16


def test_agent_override_keeps_the_file_settings_and_changes_the_model(config_file):
    base = load_run_config(config_file)
    config = load_run_config(config_file, agent="openai/gpt-4o")
    assert config.agent == "openai/gpt-4o"
    assert config.agent_params == base.agent_params  # temperature etc. kept
    assert config.concurrency == 4
    assert config.user == base.user


def test_overrides_alone_make_a_config():
    config = load_run_config(None, agent="t2t/oracle", trials=2)
    assert (config.agent, config.user, config.trials) == ("t2t/oracle", "scripted", 2)
    with pytest.raises(ConfigError, match="agent"):
        load_run_config(None, trials=2)


def test_scripted_user_override_drops_the_file_user_settings(tmp_path):
    with_user = load_run_config(_write(tmp_path, "run.toml", TOML), user="scripted")
    without = load_run_config(_write(tmp_path, "agent.toml", TOML.split("[user]")[0]))
    assert with_user.user == "scripted"
    assert with_user.user_params == {}
    assert with_user.config_hash() == without.config_hash()


def test_unknown_top_level_key_is_named(tmp_path):
    path = _write(tmp_path, "run.toml", "temprature = 0.5\n" + AGENT_ONLY)
    with pytest.raises(ConfigError, match="'temprature'"):
        load_run_config(path)


@pytest.mark.parametrize(
    "text",
    [
        AGENT_ONLY + 'api_key = "sk-secret"\n',
        AGENT_ONLY + '[agent.params]\napi_key = "sk-secret"\n',
        AGENT_ONLY + '[user]\nmodel = "openai/gpt-4o"\napi_key = "sk-secret"\n',
    ],
    ids=["agent", "agent.params", "user"],
)
def test_api_key_in_the_file_is_refused(tmp_path, text):
    with pytest.raises(ConfigError, match="environment") as caught:
        load_run_config(_write(tmp_path, "run.toml", text))
    assert "sk-secret" not in str(caught.value)


def test_bearer_token_in_extra_headers_is_refused(tmp_path):
    text = AGENT_ONLY + '[agent.params]\nextra_headers = {Authorization = "Bearer sk-secret"}\n'
    with pytest.raises(ConfigError, match="environment"):
        load_run_config(_write(tmp_path, "run.toml", text))


def test_bad_value_names_the_file_and_field(tmp_path):
    path = _write(tmp_path, "run.toml", "trials = 0\n" + AGENT_ONLY)
    with pytest.raises(ConfigError, match="trials") as caught:
        load_run_config(path)
    assert str(path) in str(caught.value)


# ---------------------------------------------------------------------------------- config_hash


def _hash(**fields):
    return RunConfig(**{"agent": "openai/gpt-4o-mini", **fields}).config_hash()


@pytest.mark.parametrize(
    "fields", [{"concurrency": 1}, {"trials": 5}, {"cache_dir": "/tmp/cache"}], ids=str
)
def test_hash_ignores_how_fast_and_how_often(fields):
    assert _hash(**fields) == _hash()


@pytest.mark.parametrize(
    "fields",
    [
        {"agent_params": {"temperature": 0.5}},
        {"max_steps": 10},
        {"agent_params": {"seed": 1}},
        {"user": "openai/gpt-4o"},
        {"agent": "openai/gpt-4o"},
    ],
    ids=str,
)
def test_hash_follows_what_changes_an_episode(fields):
    assert _hash(**fields) != _hash()


def test_hash_of_file_temperature_differs(tmp_path):
    cold = load_run_config(_write(tmp_path, "a.toml", AGENT_ONLY))
    hot = load_run_config(_write(tmp_path, "b.toml", AGENT_ONLY.replace("0.2", "0.9")))
    assert cold.config_hash() != hot.config_hash()


@pytest.mark.parametrize("key", ["api_key", "aws_secret_access_key", "azure_ad_token"])
def test_hash_never_depends_on_a_secret(key):
    one = RunConfig(agent="openai/gpt-4o-mini", agent_params={key: "sk-one", "temperature": 0})
    two = RunConfig(agent="openai/gpt-4o-mini", agent_params={key: "sk-two", "temperature": 0})
    plain = RunConfig(agent="openai/gpt-4o-mini", agent_params={"temperature": 0})
    assert one.config_hash() == two.config_hash() == plain.config_hash()
    user = RunConfig(agent="a/b", user="c/d", user_params={key: "sk-one"})
    assert user.config_hash() == RunConfig(agent="a/b", user="c/d").config_hash()
