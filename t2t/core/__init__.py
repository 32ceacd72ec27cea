"""Core: the data model, errors, settings, file I/O, the copy-on-write environment and replay.

Everything else builds on these; they import nothing above them and never wait on a model.

- `schema`: the pydantic models shared by every stage (Task, Episode, Message, Reward …)
- `errors`: the exception hierarchy (T2TError, ConfigError, DataError …)
- `settings`: the `T2T_*` environment settings
- `files`: atomic JSON/JSONL reading and writing
- `processes`: worker processes that die with their parent
- `tools`: `@tool` / `@rule` and the tool and rule specs
- `environment`: Domain and the copy-on-write Environment the tools run on
- `replay`: replaying calls on an environment, comparing states, verifying gold
"""
