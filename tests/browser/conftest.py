"""Browser tests: JupyterLab servers and headless Chromium driven by Playwright.

Everything here runs on this machine only: JupyterLab listens on 127.0.0.1, Chromium is
Debian's ``/usr/bin/chromium`` (never a browser that Playwright downloads), and every
request a page makes to anything but the local server or a local file is aborted.

Fixtures
--------
browser_available : session
    Skips the test when Chromium or Playwright's Python package is missing; fails instead
    when ``CI=true`` (CI installs both, see ``.ci/run``).
chromium : session
    A headless Playwright ``Browser``.
jupyter_lab : function
    Factory ``jupyter_lab(root_dir, env=None) -> LabServer``: starts JupyterLab on a free
    port with a random token, serving ``root_dir``, and waits until it answers. Stopped
    (with its kernels) when the test ends.
lab_page : function
    Factory ``lab_page(server) -> LabPage``: a fresh browser page on that server, with the
    helpers below.
browser_page : function
    A plain Playwright ``Page`` (1280 x 900) for static HTML; external requests are aborted
    and listed in ``browser_page.external_requests``; console errors in
    ``browser_page.console_errors``.
copy_from_repo : function
    ``copy_from_repo(root, *paths)`` copies repository files (e.g. ``"jupytext.toml"``,
    ``"notebooks/06_mask_qa.md"``) into ``root``, keeping their relative layout.

LabPage helpers
---------------
``open(path)`` (by URL ``/lab/tree/<path>?token=...``), ``double_click_in_file_browser(path)``,
``wait_for_kernel_idle()``, ``run_all_cells()``, ``run_cell_containing(text)``,
``save()``, ``notebook_summary()``, ``console_errors``, and ``page`` (the Playwright page)
for anything else. JupyterLab is started with ``LabApp.expose_app_in_browser`` so that the
helpers can read the notebook model (``window.jupyterapp``) instead of guessing from pixels.

A widget test copies what it needs into ``tmp_path`` and uses these, e.g.::

    @pytest.mark.browser
    def test_mask_widget(tmp_path, jupyter_lab, lab_page, copy_from_repo):
        copy_from_repo(tmp_path, "jupytext.toml", "notebooks/06_mask_qa.md")
        (tmp_path / "data_manifest.yaml").write_text(...)   # a small cohort
        lab = lab_page(jupyter_lab(tmp_path, env={"QMRI_MANIFEST": "..."}))
        lab.open("notebooks/06_mask_qa.md")
        lab.wait_for_kernel_idle()
        outputs = lab.run_cell_containing("MaskSession(")
        lab.page.locator(".qmri-mask-widget button", has_text="Accept").click()
        assert not lab.console_errors

The kernel runs in the notebook's folder with this interpreter (the project's venv), so
``qmri_kernels`` imports as usual; ``env`` adds environment variables for server and kernel.
Put browser tests in ``tests/browser/`` (the fixtures live here) and mark them
``@pytest.mark.browser``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: how long JupyterLab may take to answer, a kernel to become idle, cells to run (s)
LAB_START_TIMEOUT_S = 90
KERNEL_TIMEOUT_S = 90
RUN_TIMEOUT_S = 600
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


# --------------------------------------------------------------------------- availability
def _missing_browser_parts() -> list[str]:
    missing = []
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"{CHROMIUM} (Debian package 'chromium': apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the Python package 'playwright' (pip install playwright; "
                       "no 'playwright install' needed: the tests use Debian's Chromium)")
    return missing


@pytest.fixture(scope="session")
def browser_available() -> None:
    """Skip (fail under CI=true) when Chromium or Playwright is missing."""
    missing = _missing_browser_parts()
    if missing:
        reason = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; CI must install them (.ci/run)")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium(browser_available):
    """A headless Chromium (Debian's) driven by Playwright, shared by the session."""
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=CHROMIUM_ARGS)
    except Exception:
        pw.stop()
        raise
    yield browser
    browser.close()
    pw.stop()


def _watch_page(page) -> None:
    """Collect console errors, uncaught exceptions and external requests on ``page``."""
    page.console_errors = []
    page.external_requests = []
    page.on("console", lambda m: page.console_errors.append(f"console.{m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: page.console_errors.append(f"uncaught: {e}"))


@pytest.fixture
def browser_page(chromium):
    """A Playwright page for static HTML; requests leaving this machine are aborted."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    _watch_page(page)

    def _route(route):
        url = route.request.url
        if url.startswith(LOCAL_SCHEMES) or url.startswith(("http://127.0.0.1", "http://localhost")):
            route.continue_()
        else:
            page.external_requests.append(url)
            route.abort()

    page.route("**/*", _route)
    yield page
    context.close()


# --------------------------------------------------------------------------- JupyterLab
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LabServer:
    """A running JupyterLab: ``base_url`` (no trailing slash), ``token``, ``root_dir``."""

    base_url: str
    token: str
    root_dir: Path
    process: subprocess.Popen
    log_path: Path
    home: Path = field(repr=False)

    def url(self, path: str = "lab") -> str:
        """Absolute URL of ``path`` (e.g. ``"lab/tree/notebooks/x.md"``) with the token."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}token={self.token}"

    def get_json(self, path: str):
        """GET a Jupyter Server REST endpoint (e.g. ``"api/kernels"``) and decode it."""
        with urllib.request.urlopen(self.url(path), timeout=10) as r:
            return json.load(r)

    def log_tail(self, n: int = 40) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-n:])

    def stop(self) -> None:
        """Stop the server and everything it started (kernels), by process group."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        try:  # kernels live in the server's process group (start_new_session below)
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait(timeout=15)


def _lab_home(home: Path) -> dict[str, str]:
    """Private Jupyter directories so that no user or machine setting leaks in.

    The app-level settings of the environment's JupyterLab
    (``<venv>/share/jupyter/lab/settings``, written by ``scripts/setup-venv``) still apply:
    they are what is under test.
    """
    dirs = {name: home / name for name in
            ("config", "data", "runtime", "user-settings", "workspaces", "ipython")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    (dirs["config"] / "jupyter_server_config.json").write_text(json.dumps({
        "LabApp": {
            "expose_app_in_browser": True,  # window.jupyterapp, for the helpers
            "news_url": None,  # no fetching of news ...
            "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate",
        },
    }))
    notification = dirs["user-settings"] / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True, exist_ok=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    return {
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["user-settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
        "IPYTHONDIR": str(dirs["ipython"]),
        "JUPYTER_PREFER_ENV_PATH": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }


def start_lab(root_dir: Path, home: Path, env: dict[str, str] | None = None) -> LabServer:
    """Start JupyterLab (this interpreter's) serving ``root_dir``; wait until it answers."""
    root_dir = Path(root_dir).resolve()
    if not root_dir.is_dir():
        raise FileNotFoundError(f"root_dir {root_dir} is not a directory")
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("JUPYTER", "MPLBACKEND"))}
    full_env.update(_lab_home(home))
    full_env.update(env or {})
    token = secrets.token_hex(16)
    last_error = ""
    for attempt in range(3):  # a free port can be taken between probing and binding
        port = _free_port()
        log_path = home / f"lab-{attempt}.log"
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root_dir}"]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(cmd, cwd=root_dir, env=full_env, stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        server = LabServer(f"http://127.0.0.1:{port}", token, root_dir, process, log_path, home)
        deadline = time.monotonic() + LAB_START_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None:
            try:
                server.get_json("api/status")
                return server
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.3)
        last_error = server.log_tail()
        server.stop()
    raise RuntimeError(f"JupyterLab did not start on {root_dir}:\n{last_error}")


@pytest.fixture
def jupyter_lab(browser_available, tmp_path_factory):
    """Factory: ``jupyter_lab(root_dir, env=None)`` starts JupyterLab serving ``root_dir``."""
    servers: list[LabServer] = []

    def _start(root_dir: Path, env: dict[str, str] | None = None) -> LabServer:
        server = start_lab(root_dir, tmp_path_factory.mktemp("jupyter-home"), env)
        servers.append(server)
        return server

    yield _start
    for server in servers:
        server.stop()


# --------------------------------------------------------------------------- LabPage
_CURRENT = "window.jupyterapp.shell.currentWidget"
_KERNEL_IDLE = f"""() => {{
    const w = {_CURRENT};
    const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
    return !!(w && w.context && w.context.isReady && k && k.status === 'idle');
}}"""


class LabPage:
    """A browser page on one JupyterLab server, with notebook helpers.

    Parameters
    ----------
    page : playwright.sync_api.Page
    server : LabServer
    """

    def __init__(self, page, server: LabServer):
        self.page = page
        self.server = server

    @property
    def console_errors(self) -> list[str]:
        """Console errors and uncaught exceptions seen on the page so far."""
        return self.page.console_errors

    def goto(self, path: str = "lab") -> None:
        """Load ``path`` (e.g. ``"lab/tree/notebooks"``) and wait until Lab is restored."""
        self.page.goto(self.server.url(path))
        self.page.wait_for_function("() => window.jupyterapp !== undefined",
                                    timeout=LAB_START_TIMEOUT_S * 1000)
        self.page.evaluate("() => window.jupyterapp.restored.then(() => null)")

    def open(self, path: str) -> None:
        """Open ``path`` (relative to the server root) by URL, with its default viewer."""
        self.goto(f"lab/tree/{path}")
        self._wait_for_document(path)

    def double_click_in_file_browser(self, path: str) -> None:
        """Show the folder of ``path`` in the file browser and double-click the file."""
        folder, _, name = path.rpartition("/")
        self.goto(f"lab/tree/{folder}" if folder else "lab")
        item = self.page.locator(".jp-DirListing-item").filter(
            has=self.page.get_by_text(name, exact=True))
        item.dblclick()
        self._wait_for_document(path)

    def _wait_for_document(self, path: str) -> None:
        self.page.wait_for_function(
            f"""(path) => {{ const w = {_CURRENT};
                return !!(w && w.context && w.context.path === path && w.context.isReady); }}""",
            arg=path, timeout=KERNEL_TIMEOUT_S * 1000)

    def notebook_summary(self) -> dict:
        """What the current tab shows: path, whether it is a notebook, kernel, cells."""
        return self.page.evaluate(f"""() => {{
            const w = {_CURRENT};
            const isNotebook = !!(w && w.node.classList.contains('jp-NotebookPanel'));
            const k = isNotebook && w.sessionContext.session && w.sessionContext.session.kernel;
            return {{
                path: w && w.context ? w.context.path : null,
                is_notebook: isNotebook,
                kernel_name: k ? k.name : null,
                kernel_status: k ? k.status : null,
                cell_types: isNotebook ? w.content.widgets.map(c => c.model.type) : [],
                dirty: w && w.context ? w.context.model.dirty : null,
            }}; }}""")

    def wait_for_kernel_idle(self, timeout_s: float = KERNEL_TIMEOUT_S) -> None:
        """Wait until the current notebook has a kernel and that kernel is idle."""
        self.page.wait_for_function(_KERNEL_IDLE, timeout=timeout_s * 1000)

    def _run(self, command: str, timeout_s: float) -> None:
        self.page.evaluate(
            """([command, ms]) => Promise.race([
                window.jupyterapp.commands.execute(command).then(() => null),
                new Promise((_, reject) => setTimeout(
                    () => reject(new Error(command + ' still running after ' + ms + ' ms')), ms)),
            ])""", [command, int(timeout_s * 1000)])
        self.wait_for_kernel_idle(timeout_s)

    def errors_in_outputs(self) -> list[str]:
        """``ename: evalue`` of every error output in the current notebook."""
        return self.page.evaluate(f"""() => {{
            const out = [];
            for (const cell of {_CURRENT}.content.widgets) {{
                if (cell.model.type !== 'code') continue;
                for (const o of cell.model.outputs.toJSON())
                    if (o.output_type === 'error') out.push(o.ename + ': ' + o.evalue);
            }}
            return out; }}""")

    def run_all_cells(self, timeout_s: float = RUN_TIMEOUT_S, allow_errors: bool = False) -> None:
        """Run every cell of the current notebook and wait until the kernel is idle.

        Raises
        ------
        AssertionError
            If a cell raised (unless ``allow_errors``).
        """
        self._run("notebook:run-all-cells", timeout_s)
        errors = self.errors_in_outputs()
        if errors and not allow_errors:
            raise AssertionError(f"cells raised: {errors}")

    def run_cell_containing(self, text: str, timeout_s: float = RUN_TIMEOUT_S) -> list[dict]:
        """Run the first cell whose source contains ``text``; return its outputs (nbformat).

        Raises
        ------
        LookupError
            If no cell contains ``text``.
        """
        index = self.page.evaluate(
            f"(text) => {_CURRENT}.content.widgets.findIndex("
            "c => c.model.sharedModel.getSource().includes(text))", text)
        if index < 0:
            raise LookupError(f"no cell of the current notebook contains {text!r}")
        self.page.evaluate(f"(i) => {{ {_CURRENT}.content.activeCellIndex = i; }}", index)
        self._run("notebook:run-cell", timeout_s)
        return self.page.evaluate(
            f"(i) => {_CURRENT}.content.widgets[i].model.outputs.toJSON()", index)

    def save(self) -> None:
        """Save the current document with Ctrl+S, as a reader would; wait until written."""
        self.page.evaluate(f"""() => {{
            const c = {_CURRENT}.context;
            window.__qmriSaved = new Promise((resolve, reject) => {{
                const on = (_, state) => {{
                    if (state === 'started') return;
                    c.saveState.disconnect(on);
                    state === 'completed' ? resolve(null) : reject(new Error('save ' + state));
                }};
                c.saveState.connect(on);
            }});
            {_CURRENT}.content.node.focus(); }}""")
        self.page.keyboard.press("Control+s")
        self.page.evaluate("() => window.__qmriSaved")


@pytest.fixture
def lab_page(chromium):
    """Factory: ``lab_page(server) -> LabPage`` on a fresh browser context."""
    contexts = []

    def _open(server: LabServer) -> LabPage:
        context = chromium.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        _watch_page(page)
        allowed = (server.base_url, "http://127.0.0.1", "http://localhost") + LOCAL_SCHEMES

        def _route(route):
            if route.request.url.startswith(allowed):
                route.continue_()
            else:
                page.external_requests.append(route.request.url)
                route.abort()

        page.route("**/*", _route)
        return LabPage(page, server)

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture
def copy_from_repo():
    """Function ``copy_from_repo(root, *paths)``: copy repository files (paths relative to
    the repository) into ``root`` with the same layout; returns ``root``."""

    def _copy(root: Path, *relative_paths: str) -> Path:
        for rel in relative_paths:
            target = Path(root) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, target)
        return Path(root)

    return _copy
