"""The results JSONL of a run: one `Episode` per line, appended as each episode ends.

Appends are one `write` of a whole line under an exclusive `flock`, so several processes can add
to one file. A run killed mid-write leaves at most a cut last line: `repair_tail` drops it before
anything is appended, and readers skip it, so nothing after it is ever glued to half a line.
A key names an episode (task, variant, agent, user, trial, settings hash, task content hash); when
a key appears twice (an infrastructure error retried), the last line wins.
"""

from __future__ import annotations

import codecs
import contextlib
import fcntl
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import ValidationError

from t2t.core.errors import ConfigError, data_error
from t2t.core.schema import Episode

__all__ = [
    "EpisodeKey",
    "append_episodes",
    "append_lines",
    "episode_key",
    "open_results",
    "read_episodes",
    "repair_tail",
]

EpisodeKey = tuple[str, str, str, str, int, str, str]


def episode_key(episode: Episode) -> EpisodeKey:
    return (
        episode.task_id,
        episode.variant,
        episode.agent_model,
        episode.user_model,
        episode.trial,
        episode.config_hash,
        episode.task_hash,
    )


def _lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, bytes, complete) for each line; only the last can be incomplete."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    lines = data.removeprefix(codecs.BOM_UTF8).split(b"\n")  # a byte-order mark is not content
    for number, line in enumerate(lines, start=1):
        last = number == len(lines)
        if line.strip():
            yield number, line, not last


def read_episodes(path: str | Path, *, latest: bool = True) -> list[Episode]:
    """Episodes of a results file; a cut last line is skipped, any other bad line is an error.

    Args:
        path: The JSONL file.
        latest: Keep only the last line of each key (a retried episode replaces the first try).
    """
    path = Path(path)
    episodes: list[Episode] = []
    for number, line, complete in _lines(path):
        try:
            episodes.append(Episode.model_validate_json(line))
        except ValidationError as exc:
            if not complete:
                break  # the run was killed while writing it
            raise data_error(exc, file=str(path), prefix=f"line {number}: ") from None
    if not latest:
        return episodes
    by_key = {episode_key(e): e for e in episodes}
    return list(by_key.values())


def repair_tail(path: str | Path) -> int:
    """Cut an unfinished last line off a results file; returns the bytes removed."""
    path = Path(path)
    if not path.exists():
        return 0
    with path.open("rb+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        data = handle.read()
        keep = data.rfind(b"\n") + 1
        if keep == len(data):
            return 0
        handle.truncate(keep)
        return len(data) - keep


def append_episodes(path: str | Path, episodes: Iterable[Episode]) -> None:
    """Append whole lines under an exclusive lock (safe across processes)."""
    append_lines(path, [e.model_dump_json(exclude_none=True) for e in episodes])


def append_lines(path: str | Path, lines: Iterable[str]) -> None:
    """`append_episodes` for episodes already serialised as JSON (one per line, no newline)."""
    text = "".join(line + "\n" for line in lines).encode()
    if not text:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, text)
    finally:
        os.close(fd)


@contextlib.contextmanager
def open_results(path: str | Path) -> Iterator[Path]:
    """Claim a results file for one run: check the path, take its run lock, drop a cut line.

    Two runs on one file at once would each see the same episodes missing and both run them;
    the second is refused instead (the lock is released when the first ends, even by kill -9).
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; give a results file name (e.g. run.jsonl)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"another run is writing {path}; wait for it to finish or choose another file"
            ) from None
        repair_tail(path)
        yield path
    finally:
        os.close(lock)
