"""A notebook inspector for episodes: filter by model, variant, outcome, failure type and task id,
then read one episode's conversation, its calls against gold, its DB diff and its reward.

Filtering is pandas masks over `episode_frame`, and only the selected episode is rendered (its
calls replayed), so ten thousand episodes stay responsive. ipywidgets and pandas are imported
when an inspector is built, keeping `import t2t` light.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from t2t.benchmark.scoring import COMPONENTS
from t2t.core.environment import Environment, canonical_json
from t2t.core.errors import DataError, T2TError
from t2t.core.replay import initial_environment, replay_calls
from t2t.core.schema import Episode, Task, ToolCall, ToolResult
from t2t.failures.taxonomy import FAILURE_TYPES, episode_frame
from t2t.intents.checks import call_key
from t2t.intents.kind import INTENT_KINDS

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TrajectoryInspector"]

_ALL = "all"
_OUTCOMES = ("pass", "fail", "infra_error")
_NEEDED = {"task_id", "variant", "run", "trial", "outcome", "failure", "failures"}
_COLOURS = {"user": "#1f6feb", "assistant": "#1a7f37", "tool": "#6e7781", "system": "#8250df"}
_RESULT_CHARS = 600  # a tool result beyond this is cut: a product list can run to pages
_VALUE_CHARS = 400
_MARKS = {True: "✓", False: "✗", None: "–"}


class TrajectoryInspector:
    """Filters, an episode list and four panels; show it as the last expression of a cell.

    Args:
        episodes: Scored episodes, e.g. from `t2t.read_episodes`.
        tasks: The task set the episodes ran, for gold calls and replay.
        env: The task set's environment, as `t2t.open_task_set` returns it.
        frame: `episode_frame(episodes, tasks, env)` if already computed (or a subset of its
            rows); computing it replays every failing episode.
        page_size: At most this many matching episodes are listed.
    """

    def __init__(
        self,
        episodes: Sequence[Episode],
        tasks: Iterable[Task] | Mapping[str, Task],
        env: Environment,
        *,
        frame: pd.DataFrame | None = None,
        page_size: int = 200,
    ) -> None:
        import ipywidgets as widgets

        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        self.episodes = list(episodes)
        self.tasks = dict(tasks) if isinstance(tasks, Mapping) else {t.id: t for t in tasks}
        self.env = env
        self.page_size = page_size
        self.frame = episode_frame(self.episodes, self.tasks, env) if frame is None else frame
        self._check_frame()
        self.selected: int | None = None
        self._shown: list[int] = []
        self._quiet = False

        def dropdown(name: str, options: list[str]) -> widgets.Dropdown:
            box = widgets.Dropdown(options=options, description=name, layout={"width": "auto"})
            box.observe(lambda _: self._refresh(), names="value")
            return box.add_class(f"t2t-filter-{name}")

        kinds = tuple(INTENT_KINDS)
        others = sorted(set(self.frame["variant"]) - set(kinds))
        # one entry per run: the agent, plus its user / settings where it has several
        self.model = dropdown("model", [_ALL, *sorted(self.frame["run"].unique())])
        self.variant = dropdown("variant", [_ALL, *kinds, *others])
        self.outcome = dropdown("outcome", [_ALL, *_OUTCOMES])
        self.failure = dropdown("failure", [_ALL, *self._failure_types()])
        self.search = widgets.Text(placeholder="task id contains…", description="task")
        self.search.add_class("t2t-search").observe(lambda _: self._refresh(), names="value")
        self.count = widgets.HTML().add_class("t2t-count")
        self.episode_list = widgets.Select(rows=24, layout={"width": "40%", "min_width": "320px"})
        self.episode_list.add_class("t2t-episode-list").observe(self._on_select, names="value")
        panel = {"max_height": "560px", "overflow": "auto"}
        self.conversation = widgets.HTML(layout=panel).add_class("t2t-conversation")
        self.calls = widgets.HTML(layout=panel).add_class("t2t-calls")
        self.db_diff = widgets.HTML(layout=panel).add_class("t2t-db-diff")
        self.reward = widgets.HTML(layout=panel).add_class("t2t-reward")
        tabs = widgets.Tab(
            children=[self.conversation, self.calls, self.db_diff, self.reward],
            titles=("conversation", "calls", "DB diff", "reward"),
            layout=widgets.Layout(flex="1"),
        )
        filters = [self.model, self.variant, self.outcome, self.failure, self.search]
        top = widgets.HBox(filters, layout={"flex_flow": "row wrap"})
        body = widgets.HBox([self.episode_list, tabs])
        self.widget = widgets.VBox([top, self.count, body]).add_class("t2t-inspector")
        self._filtered = self.frame
        self._refresh()

    # ------------------------------------------------------------------ public

    @property
    def filtered(self) -> pd.DataFrame:
        """Every row matching the filters, not only the listed page."""
        return self._filtered

    @property
    def shown(self) -> list[int]:
        """Row indices currently listed (the first `page_size` matches)."""
        return list(self._shown)

    def select(self, index: int) -> None:
        """Show episode `index` (a row of `frame`), even if the filters hide it."""
        if index not in self.frame.index:
            raise IndexError(f"no episode at row {index} of the frame")
        self._quiet = True
        try:  # highlighted in the list when listed; shown here either way
            self.episode_list.value = index if index in self._shown else None
        finally:
            self._quiet = False
        if index != self.selected:
            self._show(index)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)  # type: ignore[no-untyped-call]  # IPython is untyped

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # ------------------------------------------------------------------ filtering

    def _check_frame(self) -> None:
        """A frame from elsewhere must be `episode_frame`'s, labelled by position in episodes."""
        missing = _NEEDED - set(self.frame.columns)
        if missing:
            raise DataError(f"frame lacks columns {sorted(missing)}; pass episode_frame(...)")
        index = self.frame.index
        if len(index) and (index.min() < 0 or index.max() >= len(self.episodes)):
            raise DataError("frame rows must be labelled by position in episodes")
        unknown = sorted(set(self.frame["task_id"].unique()) - set(self.tasks))
        if unknown:
            raise DataError(
                f"{len(unknown)} episodes' tasks are not in the task set given "
                f"(first: {unknown[:3]}); pass the task set the run used"
            )

    def _failure_types(self) -> list[str]:
        present = set(self.frame["failures"].str.split(", ").explode().dropna()) - {""}
        return [n for n in FAILURE_TYPES if n in present] + sorted(present - set(FAILURE_TYPES))

    def _mask(self) -> pd.Series:
        """Boolean mask over the frame: one vectorised comparison per filter set."""
        import pandas as pd

        frame = self.frame
        mask = pd.Series(True, index=frame.index)
        for box, column in ((self.model, "run"), (self.variant, "variant")):
            if box.value != _ALL:
                mask &= frame[column] == box.value
        if self.outcome.value != _ALL:
            mask &= frame["outcome"] == self.outcome.value
        if self.failure.value != _ALL:  # any of an episode's failure types, not only the first
            pattern = f"(?:^|, ){re.escape(self.failure.value)}(?:,|$)"
            mask &= frame["failures"].str.contains(pattern, regex=True)
        if text := self.search.value.strip():
            mask &= frame["task_id"].str.contains(text, case=False, regex=False)
        return mask

    def _refresh(self) -> None:
        """Rebuild the list from the filters and show its first episode."""
        self._filtered = self.frame[self._mask()]
        head = self._filtered.head(self.page_size)
        self._shown = [int(i) for i in head.index]
        labels = [
            f"{r.task_id} · {r.variant} · {r.run} · trial {r.trial} · "
            + ("✓" if r.outcome == "pass" else f"✗ {r.failure}")
            for r in head.itertuples()
        ]
        first = self._shown[0] if self._shown else None
        self._quiet = True
        try:
            self.episode_list.options = list(zip(labels, self._shown, strict=True))
            self.episode_list.value = first
        finally:
            self._quiet = False
        total, matched = len(self.frame), len(self._filtered)
        self.count.value = (
            f"{matched} of {total} episodes match (showing {len(head)})" if total else "no episodes"
        )
        if first is None or first != self.selected:
            self._show(first)

    def _on_select(self, change: Any) -> None:
        if not self._quiet:
            self._show(change["new"])

    # ------------------------------------------------------------------ rendering

    def _show(self, index: int | None) -> None:
        self.selected = index
        if index is not None:
            self._render(index)
            return
        message = "no episode matches the filters" if len(self.frame) else "no episodes"
        for panel in (self.conversation, self.calls, self.db_diff, self.reward):
            panel.value = f"<p><i>{message}</i></p>"

    def _render(self, index: int) -> None:
        """Fill the four panels for one episode; the only place an episode is replayed."""
        episode = self.episodes[index]
        task = self.tasks[episode.task_id]
        self.conversation.value = _conversation_html(episode)
        self.reward.value = _reward_html(episode, str(self.frame.at[index, "failures"]))
        try:
            start = initial_environment(self.env, task)
        except T2TError as exc:
            self.calls.value = self.db_diff.value = f"<p>cannot replay: {escape(str(exc))}</p>"
            return
        made = episode.tool_calls
        actual, replay = replay_calls(start, made)
        expected, _ = replay_calls(start, task.gold_calls)
        self.calls.value = _calls_html(self.env, task.gold_calls, made, replay.results)
        self.db_diff.value = _diff_html(start, expected, actual)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]} … (+{len(text) - limit} characters)"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _conversation_html(episode: Episode) -> str:
    """Each turn in its role's colour; tool calls with JSON arguments, long results cut."""
    parts = []
    for message in episode.messages:
        colour = _COLOURS.get(message.role, "#000")
        body = []
        if message.content:
            text = message.content
            text = _cut(text, _RESULT_CHARS) if message.role == "tool" else text
            body.append(f"<div style='white-space:pre-wrap'>{escape(text)}</div>")
        for call in message.tool_calls or []:
            arguments = json.dumps(call.arguments, ensure_ascii=False, indent=1)
            body.append(
                f"<div>→ <code>{escape(call.name)}</code>"
                f"<pre style='margin:2px 0'>{escape(arguments)}</pre></div>"
            )
        role = "agent" if message.role == "assistant" else message.role
        parts.append(
            f"<div class='t2t-turn t2t-{message.role}' style='border-left:4px solid {colour};"
            f"padding:2px 8px;margin:4px 0'><b style='color:{colour}'>{role}</b>"
            f"{''.join(body)}</div>"
        )
    return "".join(parts) or "<p><i>no messages</i></p>"


def _call_text(call: ToolCall, cls: str, mark: str) -> str:
    arguments = escape(_cut(_json(call.arguments), 300))
    return (
        f"<code>{escape(call.name)}</code> <small>{arguments}</small> <b class='{cls}'>{mark}</b>"
    )


def _calls_html(
    env: Environment, gold: list[ToolCall], made: list[ToolCall], results: list[ToolResult]
) -> str:
    """Gold and agent calls side by side, by position; marks say which match and which failed."""
    gold_keys = {call_key(env, c) for c in gold}
    made_keys = {call_key(env, c) for c, r in zip(made, results, strict=True) if r.ok}
    rows = []
    for i in range(max(len(gold), len(made))):
        left = right = ""
        if i < len(gold):
            if call_key(env, gold[i]) in made_keys:
                left = _call_text(gold[i], "t2t-match", "✓ made")
            else:
                left = _call_text(gold[i], "t2t-missing", "✗ not made")
        if i < len(made):
            if not results[i].ok:
                error = escape(_cut(results[i].error or "", 200))
                right = _call_text(made[i], "t2t-failed", f"✗ failed: {error}")
            elif call_key(env, made[i]) in gold_keys:
                right = _call_text(made[i], "t2t-match", "✓ gold")
            else:
                right = _call_text(made[i], "t2t-extra", "· not in gold")
        rows.append(f"<tr><td>{i}</td><td>{left}</td><td>{right}</td></tr>")
    failed = sum(not r.ok for r in results)
    matched = sum(
        r.ok and call_key(env, c) in gold_keys for c, r in zip(made, results, strict=True)
    )
    return (
        "<table style='border-collapse:collapse' border='1' cellpadding='4'>"
        f"<tr><th>#</th><th>gold ({len(gold)} calls)</th>"
        f"<th>agent ({len(made)} calls, {matched} gold, {failed} failed)</th></tr>"
        f"{''.join(rows)}</table>"
    )


def _diff_html(start: Environment, expected: Environment, actual: Environment) -> str:
    """Records where the agent's final state differs from gold's, field by field."""
    changes = expected.diff(actual)
    if not changes:
        return "<p class='t2t-same'>✓ The agent's final state matches the gold state.</p>"
    by_gold = {(c.table, c.key) for c in start.diff(expected)}
    by_agent = {(c.table, c.key) for c in start.diff(actual)}
    parts = [f"<p>{len(changes)} record(s) differ from the gold final state.</p>"]
    for change in changes:
        where = (change.table, change.key)
        if where in by_gold and where in by_agent:
            why = "both changed it, differently"
        elif where in by_gold:
            why = "gold changes it, the agent did not"
        else:
            why = "only the agent changed it"
        gold, agent = change.before, change.after
        if isinstance(gold, dict) and isinstance(agent, dict):
            fields = sorted(
                f
                for f in set(gold) | set(agent)
                if canonical_json(gold.get(f)) != canonical_json(agent.get(f))
            )
            pairs = [(f, _shown(gold, f), _shown(agent, f)) for f in fields]
        else:
            pairs = [("(record)", _shown(gold), _shown(agent))]
        rows = "".join(
            f"<tr><td><code>{escape(f)}</code></td><td>{escape(g)}</td><td>{escape(a)}</td></tr>"
            for f, g, a in pairs
        )
        parts.append(
            f"<h4><code>{escape(change.table)}</code> · <code>{escape(change.key)}</code> "
            f"<small>({why})</small></h4>"
            "<table border='1' cellpadding='4' style='border-collapse:collapse'>"
            f"<tr><th>field</th><th>gold</th><th>agent</th></tr>{rows}</table>"
        )
    return "".join(parts)


def _shown(record: Any, field: str | None = None) -> str:
    """JSON of a record or one of its fields; "(absent)" where it does not exist."""
    if record is None or (field is not None and field not in record):
        return "(absent)"
    return _cut(_json(record if field is None else record[field]), _VALUE_CHARS)


def _reward_html(episode: Episode, failures: str) -> str:
    """Reward, each component, how the episode ended, and its failure types explained."""
    reward = episode.reward
    if reward is None:
        lines = ["<p><b>no reward</b>: the infrastructure broke, so it is not scored</p>"]
    else:
        marks = {name: _MARKS[getattr(reward, name)] for name in COMPONENTS}
        cells = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in marks.items())
        lines = [f"<p><b>reward {reward.value:g}</b></p><table>{cells}</table>"]
    facts = {
        "termination": episode.termination_reason,
        "error": episode.error,
        "cost": f"${episode.cost_usd:.4f}",
        "tokens": episode.tokens,
        "turns": len(episode.messages),  # as in episode_frame and summarize
        "tool calls": len(episode.tool_calls),
        "duration": f"{episode.duration_s:.1f} s",
    }
    lines += [f"<div>{k}: {escape(str(v))}</div>" for k, v in facts.items() if v is not None]
    names = [n for n in failures.split(", ") if n]
    if names:
        items = "".join(
            f"<li><b>{escape(n)}</b>: {escape(FAILURE_TYPES.get(n, ''))}</li>" for n in names
        )
        lines.append(f"<p>failures:</p><ul>{items}</ul>")
    for violation in reward.details.get("violations", []) if reward else []:
        lines.append(f"<div>violation: {escape(str(violation.get('reason', violation)))}</div>")
    return "".join(lines)
