"""A results page: one self-contained HTML file with the tables and figures of one or more runs.

One section per results file (a domain's run, typically): pass^k matrix, the summary table (each
score with its 95% bootstrap interval over tasks), the failure breakdown and the five figures.
plotly.js is embedded once, so the page opens offline and can be mailed or attached to a paper's
artefacts as is.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from t2t.benchmark.passk import fold_intervals, pass_k_matrix, summarize
from t2t.benchmark.results import read_episodes
from t2t.core.errors import ConfigError
from t2t.core.files import prepare_output
from t2t.core.schema import Episode
from t2t.failures.figures import save_figures, standard_figures
from t2t.failures.taxonomy import episode_frame, failure_counts
from t2t.tasks.task_set import open_task_set

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ReportSection", "load_section", "write_report"]


@dataclass
class ReportSection:
    """The episodes of one run and their per-episode analysis (`analysis.episode_frame`)."""

    title: str
    episodes: list[Episode]
    frame: pd.DataFrame


def load_section(
    results: str | Path, tasks: str | Path | None = None, *, title: str | None = None
) -> ReportSection:
    """Read a results file (and the task set it ran, for the final-state failure types)."""
    results = Path(results)
    if not results.is_file():
        raise ConfigError(f"{results}: no such results file")
    episodes = read_episodes(results)
    if not episodes:
        raise ConfigError(f"{results}: no episodes yet")
    if tasks is None:
        frame = episode_frame(episodes)
    else:
        frame = episode_frame(episodes, *open_task_set(tasks))
    return ReportSection(title or results.stem, episodes, frame)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0 1.5rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
h2 { border-top: 2px solid #444; padding-top: 1rem; margin-top: 2.5rem; }
.note { color: #666; font-size: 0.85rem; } .wide { overflow-x: auto; }
"""


def _table(frame: pd.DataFrame, *, index: bool = False) -> str:
    table = frame.to_html(index=index, float_format=lambda x: f"{x:.3f}", na_rep="-", border=0)
    return f"<div class='wide'>{table}</div>"


def _section_html(
    section: ReportSection,
    title: str,
    figures_dir: Path | None,
    png: bool | None,
    max_k: int | None,
) -> str:
    figures = standard_figures(section.episodes, section.frame)
    if figures_dir is not None:
        save_figures(figures, figures_dir / title, png=png)
    table = summarize(section.episodes, max_k=max_k)
    matrix = pass_k_matrix(table)
    failures = failure_counts(section.frame)
    parts = [
        f"<h2>{html.escape(title)}</h2>",
        f"<p class='note'>{len(section.episodes)} episodes, "
        f"{section.frame['task_id'].nunique()} tasks.</p>",
        f"<h3>{html.escape(matrix.attrs['title'])}</h3>",
        _table(matrix, index=True),
        "<h3>Summary</h3>",
        "<p class='note'>value [lo, hi]: 95% bootstrap interval over tasks.</p>",
        _table(fold_intervals(table)),
        "<h3>Failures</h3>",
        _table(failures) if not failures.empty else "<p>No episode failed.</p>",
    ]
    parts += [f.to_html(full_html=False, include_plotlyjs=False) for f in figures.values()]
    return "\n".join(parts)


def write_report(
    sections: Sequence[ReportSection],
    path: str | Path,
    *,
    figures_dir: str | Path | None = None,
    png: bool | None = None,
    max_k: int | None = None,
) -> Path:
    """Write the page to `path`; with `figures_dir`, each figure also as HTML (and PNG).

    `max_k` caps the summary's pass^k columns (default: the fewest trials of any task).
    """
    from plotly.offline import get_plotlyjs

    if not sections:
        raise ConfigError("a report needs at least one results file")
    path = prepare_output(path, force=True)
    folder = Path(figures_dir) if figures_dir is not None else None
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    seen: dict[str, int] = {}
    titles = []
    for section in sections:  # one figure folder and heading per section, even for twin names
        seen[section.title] = seen.get(section.title, 0) + 1
        count = seen[section.title]
        titles.append(section.title if count == 1 else f"{section.title}-{count}")
    body = "\n".join(
        _section_html(s, title, folder, png, max_k)
        for s, title in zip(sections, titles, strict=True)
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>t2t report</title>"
        f"<style>{_STYLE}</style><script>{get_plotlyjs()}</script></head><body>"
        f"<h1>t2t report</h1><p class='note'>Written {stamp}.</p>{body}</body></html>"
    )
    path.write_text(page, encoding="utf-8")
    return path
