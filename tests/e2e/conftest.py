"""Fixtures for Slipway's end-to-end tests in the real window.

The tests drive the built app through tauri-driver and Debian's WebKitWebDriver under Xvfb. They
build nothing: SLIPWAY_APP_BIN names the app binary (cargo build -p slipway-app), and
SLIPWAY_TAURI_DRIVER may name tauri-driver when it is not at ~/.cache/slipway/tools/bin.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.remote.file_detector import UselessFileDetector

E2E_DIR = Path(__file__).resolve().parent
BASE_IMAGE = "slipway-test/base:1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float, ok=(200,)) -> None:
    """Polls url until it answers with one of `ok`; raises after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status in ok:
                    return
                last = r.status
        except urllib.error.HTTPError as e:
            if e.code in ok:
                return
            last = e
        except OSError as e:
            last = e
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer in {timeout}s (last: {last})")


def wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def kill_group(proc: subprocess.Popen) -> None:
    """Kills the whole process group, so the app cannot outlive the test (tauri-here.md pitfall 2)."""
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="session")
def out_dir() -> Path:
    d = Path(os.environ.get("SLIPWAY_E2E_OUT", E2E_DIR / "out"))
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="session")
def app_bin() -> str:
    path = os.environ.get("SLIPWAY_APP_BIN")
    if not path:
        pytest.fail("set SLIPWAY_APP_BIN to the built app, e.g. $CARGO_TARGET_DIR/debug/slipway-app")
    path = str(Path(path).resolve())
    if not os.access(path, os.X_OK):
        pytest.fail(f"SLIPWAY_APP_BIN={path} is not an executable file; build it with cargo build -p slipway-app")
    return path


@pytest.fixture(scope="session")
def app_home():
    """A private config and data dir, so the test never reads or writes the user's profiles."""
    d = tempfile.mkdtemp(prefix="slipway-e2e-home-")
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


def _tauri_driver() -> str:
    explicit = os.environ.get("SLIPWAY_TAURI_DRIVER")
    if explicit:
        return explicit
    cached = Path.home() / ".cache/slipway/tools/bin/tauri-driver"
    if cached.exists():
        return str(cached)
    found = shutil.which("tauri-driver")
    if found:
        return found
    pytest.fail("tauri-driver not found: cargo install tauri-driver --locked --root ~/.cache/slipway/tools")


class App:
    """The app under tauri-driver and Xvfb, and the WebDriver session that drives it.

    The tests share one window, so a crash in one test would otherwise fail every test after it
    with "invalid session id" and hide the one that matters. `driver` asks the window to answer
    before each test and opens a new one when it does not; the old log is kept beside the new.
    """

    def __init__(self, app_bin: str, home: Path, out_dir: Path, log_stem: str, env_overrides: dict):
        self.app_bin, self.home, self.out_dir = app_bin, home, out_dir
        self.log_stem, self.env_overrides = log_stem, env_overrides
        self.starts = 0
        self.proc = self.drv = self.log = self.log_path = None
        # (the test during which the window stopped answering, whether its process still ran,
        # the log's path, its last lines)
        self.lost = []

    def start(self) -> None:
        self.starts += 1
        suffix = "" if self.starts == 1 else f"-{self.starts}"
        self.log_path = self.out_dir / f"{self.log_stem}{suffix}.log"
        port, native_port = free_port(), free_port()
        env = dict(os.environ)
        env["XDG_CONFIG_HOME"] = str(self.home / "config")
        env["XDG_DATA_HOME"] = str(self.home / "data")
        # Registry logins go to docker's credential store; keep the test's apart from the user's.
        env["DOCKER_CONFIG"] = str(self.home / "docker")
        # The managed local registry must not be offered at the real 127.0.0.1:5000 during tests.
        env.setdefault("SLIPWAY_LOCAL_REGISTRY_ADDR", f"127.0.0.1:{free_port()}")
        # A panic in the app then says where it happened in the log the failure report shows.
        env.setdefault("RUST_BACKTRACE", "1")
        env.update(self.env_overrides)
        self.log = open(self.log_path, "wb")
        cmd = [
            "xvfb-run", "-a", "-s", "-screen 0 1280x800x24",
            _tauri_driver(), "--port", str(port), "--native-port", str(native_port),
        ]
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        # tauri-driver listens before WebKitWebDriver is ready (pitfall 1): wait for a real 200.
        wait_http(f"http://127.0.0.1:{port}/status", timeout=60)
        opts = ArgOptions()
        opts.set_capability("tauri:options", {"application": self.app_bin})
        opts.set_capability("browserName", "wry")
        self.drv = webdriver.Remote(f"http://127.0.0.1:{port}", options=opts)
        self.drv.implicitly_wait(0)
        # Typed paths (the CA file) are text for the app, not files to upload to the driver.
        self.drv.file_detector = UselessFileDetector()

    def answers(self) -> bool:
        if self.drv is None:  # a start that failed half-way
            return False
        try:
            return self.drv.execute_script("return 1") == 1
        except WebDriverException:
            return False

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_bytes().decode("utf-8", "replace").splitlines()
        return "\n".join(text[-lines:]) or "(the log is empty)"

    def app_running(self) -> bool:
        """Whether the app's process still runs: a crash and a hung page look alike to WebDriver."""
        if self.proc is None:
            return False
        found = subprocess.run(["pgrep", "-g", str(self.proc.pid), "-f", self.app_bin], capture_output=True)
        return found.returncode == 0

    def restart_after(self, test: str) -> None:
        state = "was still running" if self.app_running() else "had exited"
        self.lost.append((test, state, self.log_path, self.log_tail(15)))
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.drv is not None:
            try:
                self.drv.quit()
            except Exception:
                pass
        if self.proc is not None:
            kill_group(self.proc)
        if self.log is not None:
            self.log.close()
        self.proc = self.drv = self.log = None


_APPS: list = []


def _running(a: App):
    """Starts `a`, yields it, and stops it however the tests it served ended."""
    _APPS.append(a)
    try:
        a.start()
        yield a
    finally:
        a.stop()


@pytest.fixture(scope="session")
def app(app_bin, app_home, out_dir):
    """One app window for the whole session; see `App` for what happens when it stops answering."""
    yield from _running(App(app_bin, app_home, out_dir, "tauri-driver", {}))


@pytest.fixture(scope="module")
def app_without_engine(app_bin, out_dir):
    """A second window whose DOCKER_HOST points at a socket that does not exist."""
    home = Path(tempfile.mkdtemp(prefix="slipway-e2e-noengine-"))
    try:
        yield from _running(
            App(app_bin, home, out_dir, "tauri-driver-noengine", {"DOCKER_HOST": f"unix://{home}/no-such-docker.sock"})
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)


_last_test = {"id": "(before the first test)"}


def _driver_for(a: App, request):
    if not a.answers():
        a.restart_after(_last_test["id"])
    request.node.slipway_app = a
    _last_test["id"] = request.node.nodeid
    return a.drv


@pytest.fixture
def driver(app, request):
    return _driver_for(app, request)


@pytest.fixture
def driver_without_engine(app_without_engine, request):
    return _driver_for(app_without_engine, request)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report ends with the app's last log lines and whether it still answers."""
    outcome = yield
    rep = outcome.get_result()
    a = getattr(item, "slipway_app", None)
    if rep.when == "call" and rep.failed and a is not None:
        state = "answers" if a.answers() else "does not answer"
        process = "runs" if a.app_running() else "has exited"
        rep.sections.append((f"app log ({a.log_path}; the window {state}, the app {process})", a.log_tail()))


def pytest_terminal_summary(terminalreporter):
    """Printed last, where a CI summary that keeps only the end of the output still shows it."""
    for a in _APPS:
        for test, state, log_path, tail in a.lost:
            terminalreporter.write_sep(
                "-", f"the window stopped answering during {test} (its process {state}); a new one was opened"
            )
            terminalreporter.write_line(f"its log: {log_path}; last lines:")
            terminalreporter.write_line(tail)


@pytest.fixture(scope="session")
def base_image() -> str:
    """The offline base image: a busybox-static rootfs imported with `docker import`, like the harness."""
    if subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True).returncode == 0:
        return BASE_IMAGE
    busybox = "/bin/busybox"
    if not os.path.exists(busybox):
        pytest.fail("busybox-static is needed for the offline base image: apt-get install busybox-static")
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "rootfs"
        for sub in ("bin", "etc", "tmp", "root", "opt"):
            (root / sub).mkdir(parents=True)
        shutil.copy2(busybox, root / "bin/busybox")
        applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
        for name in applets:
            link = root / "bin" / name
            if not link.exists():
                link.symlink_to("busybox")
        (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        (root / "etc/group").write_text("root:x:0:\n")
        tar = subprocess.run(["tar", "-C", str(root), "-c", "."], capture_output=True, check=True).stdout
        subprocess.run(
            ["docker", "import", "-c", 'CMD ["/bin/sh"]', "-", BASE_IMAGE], input=tar, check=True, capture_output=True
        )
    return BASE_IMAGE


DEBIAN_IMAGE = "slipway-test/debian:bookworm"
DEBIAN_ROOTFS = Path.home() / ".cache/slipway/debian/bookworm-minbase.tar"


@pytest.fixture(scope="session")
def debian_image() -> str:
    """The Debian base the terminal test installs packages in: the harness's
    `debootstrap --variant=minbase bookworm` rootfs (tests/harness/debian.rs, cached once per
    machine), imported with bash as its CMD, as the harness imports it."""
    if subprocess.run(["docker", "image", "inspect", DEBIAN_IMAGE], capture_output=True).returncode == 0:
        return DEBIAN_IMAGE
    if not DEBIAN_ROOTFS.exists():
        pytest.fail(
            f"{DEBIAN_ROOTFS} is missing; the Rust scenarios make it first "
            "(cargo test -p slipway-tests --test workshop_terminal, as ./dev test runs before the e2e tests)"
        )
    subprocess.run(
        ["docker", "import", "--change", 'CMD ["/bin/bash"]', str(DEBIAN_ROOTFS), DEBIAN_IMAGE],
        check=True, capture_output=True,
    )
    return DEBIAN_IMAGE


class Registry:
    """Debian's docker-registry on loopback with a temp root dir and deletes enabled; with
    `secure=True` it serves TLS from a CA made here and wants htpasswd Basic auth."""

    USER, PASSWORD = "slipway", "e2e-secret-pw"

    def __init__(self, secure: bool = False):
        self.dir = tempfile.mkdtemp(prefix="slipway-e2e-registry-")
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        d = Path(self.dir)
        http_extra, auth = "", ""
        if secure:
            self._make_pki(d)
            http_extra = f"  tls:\n    certificate: {d}/server.crt\n    key: {d}/server.key\n"
            htpasswd = subprocess.run(
                ["htpasswd", "-Bbn", self.USER, self.PASSWORD], capture_output=True, text=True, check=True
            ).stdout
            (d / "htpasswd").write_text(htpasswd)
            auth = f"auth:\n  htpasswd:\n    realm: slipway-e2e\n    path: {d}/htpasswd\n"
        self.ca_file = d / "ca.crt" if secure else None
        config = d / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n"
            "storage:\n"
            f"  filesystem:\n    rootdirectory: {self.dir}/data\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.addr}\n" + http_extra + auth
        )
        self.proc = subprocess.Popen(
            ["/usr/bin/docker-registry", "serve", str(config)],
            stdout=open(Path(self.dir) / "registry.log", "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if secure:
            wait_port(self.port, timeout=30)
        else:
            wait_http(f"http://{self.addr}/v2/", timeout=30)

    @staticmethod
    def _make_pki(d: Path):
        """A CA and a server certificate for 127.0.0.1 signed by it, with openssl as an admin would."""
        def run(*args):
            subprocess.run(["openssl", *args], cwd=d, capture_output=True, check=True)

        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Slipway E2E CA",
            "-keyout", "ca.key", "-out", "ca.crt")
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr")
        (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
        run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "ext.cnf", "-out", "server.crt")

    def close(self):
        kill_group(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def registry():
    if not os.path.exists("/usr/bin/docker-registry"):
        pytest.fail("docker-registry is needed: apt-get install docker-registry")
    reg = Registry()
    yield reg
    reg.close()


@pytest.fixture(scope="module")
def secure_registry():
    reg = Registry(secure=True)
    yield reg
    reg.close()


def skopeo_digest(ref: str) -> str:
    out = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{ref}"], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)["Digest"]


@pytest.fixture
def cleanup():
    """Containers and images a test made; removed even when the test fails half-way."""
    made = {"containers": [], "images": []}
    yield made
    for c in made["containers"]:
        subprocess.run(["docker", "rm", "-f", c], capture_output=True)
    for i in made["images"]:
        subprocess.run(["docker", "rmi", i], capture_output=True)
