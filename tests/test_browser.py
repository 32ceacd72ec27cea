"""The notebook front door in a real browser: JupyterLab, Chromium, the inspector and plotly.

Starts JupyterLab from the venv on a free port with throwaway config, data, settings and
workspace folders (the venv's share/jupyter stays on the path: the ipywidgets and plotly lab
extensions live there), opens a copy of notebooks/05_failures.ipynb with Playwright driving the
system Chromium (T2T_RESULTS points the kernel at a temporary results folder), runs all cells from
the Run menu, then sets the inspector's filters in the page and checks the episode list, the count
and the conversation follow, and that the plotly heatmap and bars drew their traces into SVG.

Skips without Playwright, Chromium or JupyterLab, unless T2T_REQUIRE_BROWSER=1 (CI): then missing
pieces fail. T2T_SCREENSHOTS=<dir> saves inspector.png and heatmap.png there (the README images).
"""

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "05_failures.ipynb"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 900}
# Generous: CI machines are small and run this beside the whole suite (pytest -n auto).
SERVER_TIMEOUT_S = 180
RUN_ALL_TIMEOUT_S = 600
UI_TIMEOUT_MS = 120_000

# User settings for the throwaway JupyterLab: no news or update checks (no network, no toasts).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "checkForUpdates": False,
        "fetchNews": "false",
    },
}

pytestmark = pytest.mark.slow


def _missing(reason: str):
    """Skip locally; fail when CI says the browser test must run."""
    if os.environ.get("T2T_REQUIRE_BROWSER") == "1":
        pytest.fail(f"T2T_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _chromium() -> str | None:
    if path := os.environ.get("T2T_CHROMIUM"):
        return path if Path(path).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def _jupyter() -> Path | None:
    jupyter = Path(sys.executable).with_name("jupyter")
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        return None
    return jupyter if jupyter.exists() else None


def _get(url: str, timeout: float = 10) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


@contextmanager
def jupyter_lab(root: Path, home: Path, env: dict[str, str | None]):
    """JupyterLab serving `root` with `env` (None unsets); yields its base URL and token. Always
    stops it and its kernels (shutdown request, then SIGTERM, then SIGKILL of its group)."""
    token = secrets.token_hex(16)
    dirs = {
        "JUPYTER_CONFIG_DIR": home / "config",
        "JUPYTER_DATA_DIR": home / "data",
        "JUPYTER_RUNTIME_DIR": home / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": home / "settings",
        "JUPYTERLAB_WORKSPACES_DIR": home / "workspaces",
        "IPYTHONDIR": home / "ipython",
    }
    for folder in dirs.values():
        folder.mkdir(parents=True, exist_ok=True)
    for name, settings in LAB_SETTINGS.items():
        path = dirs["JUPYTERLAB_SETTINGS_DIR"] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    env = {**os.environ, **{k: str(v) for k, v in dirs.items()}, **env}
    # JUPYTER_PATH dropped: the venv's share/jupyter (lab extensions, kernel spec) comes from
    # sys.prefix, and nothing of the caller's own Jupyter setup leaks in
    env = {k: v for k, v in env.items() if v is not None and k != "JUPYTER_PATH"}
    log = (home / "server.log").open("w")
    server = subprocess.Popen(
        [
            str(_jupyter()),
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={free_port()}",
            "--ServerApp.port_retries=50",  # another worker may take the port first
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.terminals_enabled=False",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",  # no PyPI queries from the extension manager
            *(["--allow-root"] if os.geteuid() == 0 else []),  # CI containers run as root
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    base = None
    try:
        base = _wait_for_server(server, dirs["JUPYTER_RUNTIME_DIR"], home / "server.log")
        yield base, token
    finally:
        _stop_server(server, base, token)
        log.close()


def _die_with_parent() -> None:
    """Linux: SIGTERM the server if pytest dies without cleaning up (it then stops its kernels)."""
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _wait_for_server(server: subprocess.Popen, runtime: Path, log: Path) -> str:
    deadline = time.monotonic() + SERVER_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"JupyterLab exited ({server.returncode}):\n{log.read_text()}")
        for info_file in runtime.glob(f"jpserver-{server.pid}.json"):
            try:
                info = json.loads(info_file.read_text())
            except (json.JSONDecodeError, OSError):
                continue  # being written
            base = info["url"].rstrip("/")
            try:
                if _get(f"{base}/api/status?token={info['token']}") == 200:
                    return base
            except OSError:
                pass
        time.sleep(0.5)
    raise AssertionError(f"JupyterLab not up after {SERVER_TIMEOUT_S}s:\n{log.read_text()}")


def _stop_server(server: subprocess.Popen, base: str | None, token: str) -> None:
    if server.poll() is None and base:
        request = urllib.request.Request(
            f"{base}/api/shutdown", method="POST", headers={"Authorization": f"token {token}"}
        )
        try:
            urllib.request.urlopen(request, timeout=30).close()
        except OSError:
            pass
    for sig, wait_s in ((None, 60), (signal.SIGTERM, 60), (signal.SIGKILL, 30)):
        if sig is not None and server.poll() is None:
            try:
                os.killpg(server.pid, sig)
            except ProcessLookupError:
                pass
        try:
            server.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


KERNEL_IDLE_JS = """() => {
    // the status bar reads "Python 3 (ipykernel) | Idle" once the kernel is connected and idle;
    // before that it reads "No Kernel | Initializing", "… | Connecting" or "… | Busy"
    const bar = document.querySelector('#jp-main-statusbar')?.innerText ?? '';
    return bar.split('\\n').some(line => / \\| Idle$/.test(line) && !line.startsWith('No Kernel'));
}"""
# Errors and stderr share a mime type in JupyterLab; a traceback tells them apart. Run All stops at
# a failing cell, leaving the later prompts empty: the wait ends there too.
ERRORS = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
RAN_OR_FAILED_JS = """([n, errors]) => {
    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
    const failed = [...document.querySelectorAll(errors)]
        .some(e => e.textContent.includes('Traceback'));
    return prompts.length === n && (failed || prompts.every(p => /\\[\\d+\\]/.test(p.textContent)));
}"""


def _run_all(page, path: Path) -> None:
    """Run all cells from the Run menu and wait until every code cell has run."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.locator(".jp-Notebook").first.wait_for(timeout=UI_TIMEOUT_MS)
    page.wait_for_function(KERNEL_IDLE_JS, timeout=UI_TIMEOUT_MS)
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(
        ".lm-Menu-item:not(.lm-mod-disabled) .lm-Menu-itemLabel",
        has_text=re.compile(r"^Run All Cells$"),
    ).click()
    n_code = sum(c["cell_type"] == "code" for c in json.loads(path.read_text())["cells"])
    try:
        page.wait_for_function(
            RAN_OR_FAILED_JS, arg=[n_code, ERRORS], timeout=RUN_ALL_TIMEOUT_S * 1000
        )
        page.wait_for_function(KERNEL_IDLE_JS, timeout=RUN_ALL_TIMEOUT_S * 1000)
    except PlaywrightTimeout:
        prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_text_contents()
        status = page.locator("#jp-main-statusbar").inner_text()
        raise AssertionError(
            f"cells did not all run in {RUN_ALL_TIMEOUT_S}s: prompts {prompts}, status {status!r}"
        ) from None
    tracebacks = [t for t in page.locator(ERRORS).all_text_contents() if "Traceback" in t]
    assert not tracebacks, "a cell failed:\n" + "\n\n".join(tracebacks)
    prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_text_contents()
    assert all(re.search(r"\[\d+\]", p) for p in prompts), prompts


def _numbers(text: str) -> list[int]:
    """The count's numbers: "37 of 200 episodes match (showing 37)" -> [37, 200, 37]."""
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    assert len(numbers) >= 2, f"the count reads {text!r}"
    return numbers


def _choose(inspector, name: str, label: str) -> None:
    """Pick `label` in the inspector's `name` filter, as a user does (an ipywidgets Dropdown
    renders a <select>); the kernel answers through the widget comm."""
    inspector.locator(f".t2t-filter-{name} select").select_option(label=label)


def _screenshot(page, element, path: Path) -> None:
    """`element` alone, centred in the notebook first (clear of the toolbar's shadow)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    element.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(500)  # let the scroll settle before the capture
    element.screenshot(path=path)


def test_notebook_in_jupyterlab(tmp_path):
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
    chromium = _chromium()
    if chromium is None:
        _missing("no Chromium (Debian: apt-get install chromium; or set T2T_CHROMIUM)")
    if _jupyter() is None:
        _missing("JupyterLab is not installed (pip install -e '.[notebooks]')")

    root = tmp_path / "root"
    root.mkdir()
    notebook = root / NOTEBOOK.name
    shutil.copy(NOTEBOOK, notebook)
    shots = Path(os.environ["T2T_SCREENSHOTS"]) if os.environ.get("T2T_SCREENSHOTS") else None
    # the notebook's defaults only: no T2T_MODELS (real models) or sizes from the caller's shell
    scrub = {k: None for k in os.environ if k.startswith("T2T_")}
    env = {**scrub, "T2T_RESULTS": str(tmp_path / "results")}

    with jupyter_lab(root, tmp_path / "jupyter", env) as (base, token), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        try:
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.goto(f"{base}/lab/tree/{notebook.name}?token={token}&reset")
            page.locator(".jp-Notebook").first.wait_for()
            # fold the file browser away: the notebook gets the width, as in the screenshots
            if (sidebar := page.locator(".jp-SideBar.jp-mod-left .lm-mod-current")).count():
                sidebar.first.click()
            _run_all(page, notebook)

            # the inspector: filters changed in the page drive the list and the count
            inspector = page.locator(".t2t-inspector").first
            inspector.scroll_into_view_if_needed()
            options = inspector.locator(".t2t-episode-list select option")
            count = inspector.locator(".t2t-count")
            expect(count).to_contain_text("episodes", timeout=UI_TIMEOUT_MS)
            for name in ("model", "variant", "outcome", "failure"):
                _choose(inspector, name, "all")
            everything = re.compile(r"^(\d+) of \1 episodes")
            expect(count).to_have_text(everything, timeout=UI_TIMEOUT_MS)
            matched, total, showing = _numbers(count.inner_text())[:3]
            expect(options).to_have_count(showing, timeout=UI_TIMEOUT_MS)
            all_text = count.inner_text()

            _choose(inspector, "outcome", "fail")
            expect(count).not_to_have_text(all_text, timeout=UI_TIMEOUT_MS)
            failing, total_after, showing_failing = _numbers(count.inner_text())[:3]
            assert total_after == total and 0 < failing < matched, (all_text, count.inner_text())
            expect(options).to_have_count(showing_failing, timeout=UI_TIMEOUT_MS)
            assert showing_failing == min(failing, showing)  # fewer, unless both fill a page
            labels = options.all_text_contents()
            assert not any(label.rstrip().endswith("✓") for label in labels), labels[:5]

            # picking another task's episode in the list shows its conversation
            conversation = inspector.locator(".t2t-conversation")
            expect(conversation.locator(".t2t-turn").first).to_be_attached(timeout=UI_TIMEOUT_MS)
            shown = conversation.inner_text()
            other = next(
                (i for i, label in enumerate(labels) if label.split()[0] != labels[0].split()[0]),
                None,
            )
            assert other is not None, f"all failing episodes are of one task: {labels[:5]}"
            inspector.locator(".t2t-episode-list select").select_option(index=other)
            expect(conversation).not_to_have_text(shown, timeout=UI_TIMEOUT_MS)
            if shots:
                if "t2t/eager" in inspector.locator(".t2t-filter-model option").all_text_contents():
                    _choose(inspector, "model", "t2t/eager")  # the case the notebook explains
                    expect(options.first).to_contain_text("t2t/eager", timeout=UI_TIMEOUT_MS)
                _screenshot(page, inspector, shots / "inspector.png")

            # plotly: the figures drew their traces into SVG, not just an output placeholder
            plots = page.locator(".jp-OutputArea .js-plotly-plot")
            expect(plots.first).to_be_attached(timeout=UI_TIMEOUT_MS)
            heatmap = plots.filter(has=page.locator(".heatmaplayer image")).first
            heatmap.scroll_into_view_if_needed()
            expect(heatmap.locator("svg.main-svg").first).to_be_visible(timeout=UI_TIMEOUT_MS)
            box = heatmap.bounding_box()
            assert box and box["width"] > 300 and box["height"] > 200, box
            bars = page.locator(".js-plotly-plot .barlayer .point path")
            expect(bars.first).to_be_attached(timeout=UI_TIMEOUT_MS)
            if shots:
                _screenshot(page, heatmap, shots / "heatmap.png")
        except Exception:
            with suppress(Exception):  # the page as it was, for the failure report
                page.screenshot(path=tmp_path / "failure.png")
            print(
                f"page at failure: {tmp_path / 'failure.png'}; server log: {tmp_path / 'jupyter'}"
            )
            raise
        finally:
            browser.close()
