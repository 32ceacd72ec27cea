"""The plotly figures of a run: pass^k curves and heatmap, failure breakdown, cost and turns.

pass^k is drawn with its 95% bootstrap interval over tasks: error bars on the curves, the
interval under each heatmap value.

plotly is imported by the figure functions only, keeping `import t2t` light.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from t2t.benchmark.passk import order_variants, pass_k_long
from t2t.benchmark.uncertainty import format_interval
from t2t.core.errors import ConfigError, DataError
from t2t.core.schema import Episode
from t2t.core.settings import chromium_override
from t2t.failures.taxonomy import FAILURE_TYPES, OUTCOMES, failure_counts, run_labels

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

__all__ = [
    "cost_vs_success",
    "failure_breakdown",
    "pass_k_curves",
    "pass_k_heatmap",
    "save_figures",
    "standard_figures",
    "turns_distribution",
]


def pass_k_curves(episodes: Iterable[Episode], *, max_k: int | None = None) -> go.Figure:
    """pass^k against k, one line per run, one panel per variant (how reliability decays), with
    95% bootstrap intervals over tasks as error bars.
    """
    import plotly.express as px

    long = _pass_k_by_run(episodes, max_k)
    long = long[long["variant"] != "all"]
    long = long.assign(
        above=long["pass_hat_k_hi"] - long["pass_hat_k"],
        below=long["pass_hat_k"] - long["pass_hat_k_lo"],
    )
    figure = px.line(
        long,
        x="k",
        y="pass_hat_k",
        color="run",
        facet_col="variant",
        markers=True,
        error_y="above",
        error_y_minus="below",
        hover_data={
            "pass_hat_k_lo": ":.2f",
            "pass_hat_k_hi": ":.2f",
            "above": False,
            "below": False,
        },
        category_orders={"variant": order_variants(long["variant"])},
        labels={
            "pass_hat_k": "pass^k",
            "pass_hat_k_lo": "95% interval from",
            "pass_hat_k_hi": "to",
        },
        title="pass^k over trials (bars: 95% bootstrap interval over tasks)",
    )
    figure.update_yaxes(range=[-0.05, 1.05])
    figure.update_xaxes(dtick=1)
    return _plain_facet_titles(figure)


def _pass_k_by_run(episodes: Iterable[Episode], max_k: int | None) -> pd.DataFrame:
    long = pass_k_long(episodes, max_k=max_k)
    long.insert(0, "run", run_labels(long))
    return long


def pass_k_heatmap(episodes: Iterable[Episode], *, k: int = 1) -> go.Figure:
    """Run × variant pass^k as a heatmap, each cell's value and 95% interval written in it."""
    import plotly.express as px

    long = _pass_k_by_run(episodes, k)
    long = long[long["k"] == k]
    if long.empty:
        raise DataError(f"no task has {k} valid trials: pass^{k} is undefined")
    runs = list(dict.fromkeys(long["run"]))
    grids = {
        value: long.pivot(index="run", columns="variant", values=value).loc[runs]
        for value in ("pass_hat_k", "pass_hat_k_lo", "pass_hat_k_hi")
    }
    variants = order_variants(grids["pass_hat_k"].columns)
    grid, lo, hi = (g[variants] for g in grids.values())
    text = [
        [
            format_interval(p, a, b).replace(" [", "<br>[", 1)
            for p, a, b in zip(points, lows, highs, strict=True)
        ]
        for points, lows, highs in zip(grid.to_numpy(), lo.to_numpy(), hi.to_numpy(), strict=True)
    ]
    figure = px.imshow(
        grid,
        zmin=0,
        zmax=1,
        color_continuous_scale="RdYlGn",
        aspect="auto",
        labels={"color": f"pass^{k}", "x": "variant", "y": "run"},
        title=f"pass^{k} per agent × variant [95% bootstrap interval over tasks]",
    )
    figure.update_traces(
        text=text,
        texttemplate="%{text}",
        hovertemplate="run: %{y}<br>variant: %{x}<br>pass^" + str(k) + ": %{text}<extra></extra>",
    )
    return figure


def failure_breakdown(frame: pd.DataFrame) -> go.Figure:
    """Share of each variant's episodes failing for each reason, one panel per run."""
    import plotly.express as px

    table = failure_counts(frame)
    figure = px.bar(
        table,
        x="variant",
        y="share",
        color="failure",
        facet_col="run",
        category_orders={
            "variant": order_variants(frame["variant"]),
            "failure": list(FAILURE_TYPES),
        },
        hover_data=["episodes", "of"],
        labels={"share": "share of episodes"},
        title="Why episodes fail, per variant",
    )
    return _plain_facet_titles(figure)


def _plain_facet_titles(figure: go.Figure) -> go.Figure:
    """Panel titles "t2t/eager" rather than plotly's "agent=t2t/eager"."""
    return figure.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))


def cost_vs_success(frame: pd.DataFrame) -> go.Figure:
    """Mean cost per episode against success rate, one point per run × variant."""
    import plotly.express as px

    scored = frame[frame["outcome"] != "infra_error"]
    points = (
        scored.groupby(["run", "variant"], observed=True)
        .agg(success=("reward", "mean"), cost_usd=("cost_usd", "mean"), episodes=("reward", "size"))
        .reset_index()
    )
    return px.scatter(
        points,
        x="cost_usd",
        y="success",
        color="run",
        symbol="variant",
        size="episodes",
        size_max=18,
        labels={"cost_usd": "mean cost per episode (USD)", "success": "success rate"},
        title="Cost vs success",
    )


def turns_distribution(frame: pd.DataFrame) -> go.Figure:
    """Conversation length (messages, tool messages included) per variant, pass vs fail, per run."""
    import plotly.express as px

    figure = px.box(
        frame,
        x="variant",
        y="turns",
        color="outcome",
        facet_col="run",
        category_orders={"variant": order_variants(frame["variant"]), "outcome": list(OUTCOMES)},
        labels={"turns": "messages"},
        title="Conversation length per episode",
    )
    return _plain_facet_titles(figure)


def standard_figures(episodes: Sequence[Episode], frame: pd.DataFrame) -> dict[str, go.Figure]:
    """The five figures of a results page, by file name; those with nothing to show are left out
    (pass^k and cost when every episode was an infra error, the breakdown when none failed).
    """
    figures = {}
    if (frame["outcome"] != "infra_error").any():
        figures["pass_k_curves"] = pass_k_curves(episodes)
        figures["pass_k_heatmap"] = pass_k_heatmap(episodes)
    if (frame["outcome"] != "pass").any():
        figures["failure_breakdown"] = failure_breakdown(frame)
    if (frame["outcome"] != "infra_error").any():
        figures["cost_vs_success"] = cost_vs_success(frame)
    figures["turns_distribution"] = turns_distribution(frame)
    return figures


def save_figures(
    figures: Mapping[str, go.Figure], folder: str | Path, *, png: bool | None = None
) -> list[Path]:
    """Write each figure as `<name>.html` (plotly.js copied beside them once, works offline).

    PNGs are written too when `png` is True, or when None and kaleido finds a Chromium; a
    missing Chromium with `png=True` is an error that says what to install.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot write figures to {folder}: {exc.strerror or exc}") from None
    written = []
    for name, figure in figures.items():
        path = folder / f"{name}.html"
        figure.write_html(path, include_plotlyjs="directory")
        written.append(path)
    if png is None:
        png = _chromium() is not None and importlib.util.find_spec("kaleido") is not None
    if png:
        written += _write_pngs(figures, folder)
    return written


def _chromium() -> str | None:
    import shutil

    if chosen := chromium_override():
        return chosen
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if found := shutil.which(name):
            return found
    return None


def _write_pngs(figures: Mapping[str, go.Figure], folder: Path) -> list[Path]:
    import os

    from t2t.core.errors import MissingDependencyError

    browser = _chromium()
    if browser is None:
        raise ConfigError(
            "PNG export needs Chromium (Debian: apt-get install chromium); HTML needs nothing"
        )
    os.environ.setdefault("BROWSER_PATH", browser)  # where kaleido's choreographer looks first
    try:
        import kaleido  # noqa: F401
    except ImportError:
        raise MissingDependencyError("kaleido", "notebooks") from None
    import plotly.io as pio

    paths = [folder / f"{name}.png" for name in figures]
    pio.write_images(list(figures.values()), paths, width=1000, height=500)  # one browser for all
    return paths
