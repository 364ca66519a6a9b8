"""Black-box test harness for the real `hako` binary.

Fixtures
    hako            a `hako serve` on 127.0.0.1 with its own data dir, one per test module
    hako_factory    starts more servers (own data dir, extra args, env) that stop at test end
    lambda_client   boto3 Lambda client for the module's `hako`
    aws             runs the real aws CLI (.venv/bin/aws) against the module's `hako`

Helpers (import them: `from conftest import make_zip, fixture_zip, create_function, ROLE`)
    make_zip, fixture_zip, create_function, unique_name, boto_lambda_client, ROLE, REGION,
    greeter (a TCP server on every host address that greets each connection)

A server's stdout and stderr go straight to a log file (no pipe that could fill up); when a
test fails, the tail of every log of a server still running is added to its report.
Environment: HAKO_BIN overrides the binary (default target/release/hako). HAKO_TEST_RUN_AS=USER
(pytest itself as root) runs every hako command the tests start as that ordinary user (rootless
mode): through `setpriv`, with a plain PATH and environment, its data dirs owned by it. The user,
its delegated cgroups and a copy of the binary it can read are set up by scripts/test.
Managed runtimes: every server shares one runtimes directory (`HAKO_RUNTIMES_DIR`, default
target/hako-runtimes), where the session installs MANAGED_RUNTIMES once if they are missing
(`hako runtimes install`; scripts/test does it before, with pip's and npm's caches).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pwd
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
import zipfile
from pathlib import Path
from typing import Callable, Iterable, Mapping

import boto3
import pytest
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
HAKO_BIN = Path(os.environ.get("HAKO_BIN", REPO / "target" / "release" / "hako"))
FIXTURES_BUILD = REPO / "tests" / "fixtures" / "build"
AWS_CLI = REPO / ".venv" / "bin" / "aws"

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
REGION = "us-east-1"
# The root credentials of every hako the tests start (HAKO_ACCESS_KEY_ID /
# HAKO_SECRET_ACCESS_KEY, kept by hako_env like every HAKO_ variable) and of every client they
# make: the one source of both.
CREDENTIALS = {"aws_access_key_id": "AKIAHAKOE2ETESTROOT1",
               "aws_secret_access_key": "hako-e2e-root-secret/0123456789abcdefghij"}
os.environ["HAKO_ACCESS_KEY_ID"] = CREDENTIALS["aws_access_key_id"]
os.environ["HAKO_SECRET_ACCESS_KEY"] = CREDENTIALS["aws_secret_access_key"]

RUN_AS = os.environ.get("HAKO_TEST_RUN_AS") or None
# What a rootless hako gets of the environment (besides HAKO_*, CI and the test's own variables):
# a PATH without root's own directories (e.g. /root/.pyenv), which that user cannot read.
RUN_AS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# The managed runtimes the tests use, installed once into the shared runtimes directory.
MANAGED_RUNTIMES = ("python3.11", "nodejs20.x", "nodejs22.x")
RUNTIMES_DIR = Path(os.environ.get("HAKO_RUNTIMES_DIR") or REPO / "target" / "hako-runtimes")
# Every hako the tests start uses it (hako_env keeps HAKO_* variables).
os.environ["HAKO_RUNTIMES_DIR"] = str(RUNTIMES_DIR)
INSTALL_TIMEOUT_S = 900

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
LISTENING = re.compile(r"hako listening on (http://127\.0\.0\.1:(\d+))")
LOG_TAIL_LINES = 200

# Servers started and not yet stopped, for failure reports and the final sweep.
_LIVE: list["HakoServer"] = []
# The servers a test started through hako_factory, kept on the test item for its report.
_FACTORY_SERVERS = pytest.StashKey[list]()


class HakoServer:
    """One `hako serve` process. Start with .start(); .stop() and .restart() are bounded."""

    def __init__(self, data_dir: Path, log_path: Path, extra_args: Iterable[str] = (),
                 env: Mapping[str, str] | None = None, listen: str = "127.0.0.1:0"):
        self.data_dir = Path(data_dir)
        self.log_path = Path(log_path)
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.listen = listen
        self.proc: subprocess.Popen | None = None
        self.endpoint: str | None = None
        self.port: int | None = None
        self._log_offset = 0

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "HakoServer":
        if not HAKO_BIN.exists():
            pytest.fail(f"{HAKO_BIN} does not exist: run `cargo build --release` (scripts/test does)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        give_to_run_as(self.data_dir)
        cmd = hako_cmd("serve", "--listen", self.listen, "--data-dir", str(self.data_dir),
                       *self.extra_args)
        # NO_COLOR: the log is a file, read by people and by tests, not a terminal.
        env = hako_env(self.env)
        with open(self.log_path, "ab") as log:
            self._log_offset = log.tell()
            log.write(f"==== {' '.join(cmd)}\n".encode())
            log.flush()
            # Its own session, so a terminal's ^C or a signal to pytest's group does not reach it
            # first, and so that anything it leaves behind can be found by its group id.
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=env, cwd=self.data_dir,
                                         start_new_session=True)
        _LIVE.append(self)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            m = LISTENING.search(self._read_log(self._log_offset))
            if m:
                self.endpoint, self.port = m.group(1), int(m.group(2))
                return self
            if self.proc.poll() is not None:
                out = self._read_log(self._log_offset)
                self._forget()
                pytest.fail(f"hako exited with status {self.proc.returncode} before listening:\n{out}")
            if time.monotonic() > deadline:
                out = self._read_log(self._log_offset)
                self.stop()
                pytest.fail(f"hako printed no 'hako listening on http://127.0.0.1:PORT' line "
                            f"within {START_TIMEOUT_S:.0f} s:\n{out}")
            time.sleep(0.05)

    def stop(self) -> int | None:
        """SIGTERM, a bounded wait, then SIGKILL; by the process's own pid. Returns its status."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_S)
        # Anything still in the session we created for it (a sandbox it failed to reap) goes too.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._forget()
        return proc.returncode

    def restart(self, same_port: bool = True) -> "HakoServer":
        """Stops and starts again on the same data dir (and by default the same port, so that
        clients made for .endpoint keep working)."""
        port = self.port
        self.stop()
        if same_port and port:
            self.listen = f"127.0.0.1:{port}"
        return self.start()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- logs ---------------------------------------------------------------------------------
    def log_text(self) -> str:
        """Everything the server printed, over all its starts."""
        return self._read_log(0)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def _read_log(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def _forget(self) -> None:
        if self in _LIVE:
            _LIVE.remove(self)

    def __repr__(self) -> str:
        return f"HakoServer(endpoint={self.endpoint!r}, data_dir={str(self.data_dir)!r})"


# -- rootless runs ----------------------------------------------------------------------------
def run_as_user() -> pwd.struct_passwd | None:
    """The user hako runs as in the rootless pass (HAKO_TEST_RUN_AS), else None."""
    if RUN_AS is None:
        return None
    try:
        return pwd.getpwnam(RUN_AS)
    except KeyError:
        pytest.fail(f"HAKO_TEST_RUN_AS={RUN_AS}: no such user (scripts/test creates it)")


def hako_cmd(*args: str) -> list[str]:
    """The command line that runs `hako ARGS...`: as HAKO_TEST_RUN_AS when set."""
    user = run_as_user()
    if user is None:
        return [str(HAKO_BIN), *args]
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", "--",
            str(HAKO_BIN), *args]


def hako_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a hako command the tests start."""
    if run_as_user() is None:
        return {**os.environ, "NO_COLOR": "1", **(extra or {})}
    keep = {k: v for k, v in os.environ.items() if k.startswith("HAKO_") or k in ("CI", "LANG")}
    return {**keep, "PATH": RUN_AS_PATH, "HOME": "/nonexistent", "NO_COLOR": "1", **(extra or {})}


def give_to_run_as(data_dir: Path) -> None:
    """Rootless: the data dir belongs to the user hako runs as, and the temporary directories
    above it let that user through (pytest makes them 0700)."""
    user = run_as_user()
    if user is None:
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    for root, dirs, files in os.walk(data_dir):
        for n in [root, *(os.path.join(root, f) for f in dirs + files)]:
            os.lchown(n, user.pw_uid, user.pw_gid)
    tmp = Path(tempfile.gettempdir()).resolve()
    for parent in data_dir.resolve().parents:
        if parent == tmp or tmp not in parent.parents:
            break
        parent.chmod(parent.stat().st_mode | 0o011)


def install_runtimes() -> None:
    """Installs the MANAGED_RUNTIMES missing from RUNTIMES_DIR, then lets `hako runtimes` bring
    the runtime clients of the installed ones up to this binary's (as the invoking user: a
    rootless hako cannot write there)."""
    missing = [r for r in MANAGED_RUNTIMES if not (RUNTIMES_DIR / r / "hako-runtime.json").exists()]
    cmds = [[str(HAKO_BIN), "runtimes", "install", *missing]] if missing else []
    cmds.append([str(HAKO_BIN), "runtimes"])
    for cmd in cmds:
        p = subprocess.run(cmd + ["--runtimes-dir", str(RUNTIMES_DIR)], capture_output=True,
                           timeout=INSTALL_TIMEOUT_S)
        if p.returncode != 0:
            pytest.exit(f"{' '.join(cmd)} failed:\n{p.stdout.decode(errors='replace')}"
                        f"{p.stderr.decode(errors='replace')}", returncode=1)


def pytest_sessionstart(session):
    if HAKO_BIN.exists():
        install_runtimes()


def pytest_configure(config):
    # Rootless: a base temp dir of its own. pytest keeps /tmp/pytest-of-<user> at 0700 (and makes
    # it so again at the start of every session, other people's included), which would lock the
    # hako user out of its data dirs.
    if RUN_AS is not None and config.option.basetemp is None:
        config.option.basetemp = Path(tempfile.gettempdir()) / f"hako-e2e-as-{RUN_AS}"


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hako(tmp_path_factory) -> Iterable[HakoServer]:
    """A running `hako serve`, shared by the tests of one module."""
    base = tmp_path_factory.mktemp("hako")
    server = HakoServer(base / "data", base / "hako.log").start()
    yield server
    server.stop()


@pytest.fixture
def hako_factory(request, tmp_path) -> Iterable[Callable[..., HakoServer]]:
    """Starts servers of the test's own: hako_factory(extra_args=[...], env={...}, data_dir=...)."""
    servers: list[HakoServer] = []
    request.node.stash[_FACTORY_SERVERS] = servers

    def start(extra_args: Iterable[str] = (), env: Mapping[str, str] | None = None,
              data_dir: Path | None = None) -> HakoServer:
        n = len(servers)
        server = HakoServer(data_dir or tmp_path / f"hako-{n}" / "data",
                            tmp_path / f"hako-{n}.log", extra_args, env)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


def boto_lambda_client(endpoint: str, **config):
    """A boto3 Lambda client for `endpoint`: dummy credentials, us-east-1, no retries."""
    cfg = {"retries": {"max_attempts": 1, "mode": "standard"}, "read_timeout": 60,
           "connect_timeout": 10, **config}
    return boto3.session.Session().client("lambda", endpoint_url=endpoint, region_name=REGION,
                                          config=Config(**cfg), **CREDENTIALS)


@pytest.fixture(scope="module")
def lambda_client(hako):
    return boto_lambda_client(hako.endpoint)


def aws_cli_env() -> dict[str, str]:
    """Environment for the aws CLI: dummy credentials, no config files, no retries, no pager."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"], "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION, "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard", "AWS_PAGER": "",
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    return env


def run_aws(endpoint: str, *args: str, parse_json: bool = False, timeout: float = 60,
            input: str | bytes | None = None, cwd: str | Path | None = None):
    """Runs `aws --endpoint-url ENDPOINT --region us-east-1 ARGS...`.

    Returns (returncode, stdout, stderr); with parse_json=True, stdout is the parsed JSON output
    (None when empty) when the command succeeded. A run past `timeout` fails the test."""
    if not AWS_CLI.exists():
        pytest.fail(f"{AWS_CLI} does not exist: scripts/test creates .venv")
    cmd = [str(AWS_CLI), "--endpoint-url", endpoint, "--region", REGION,
           "--cli-connect-timeout", "10", "--cli-read-timeout", "60", *map(str, args)]
    try:
        p = subprocess.run(cmd, input=input.encode() if isinstance(input, str) else input,
                           capture_output=True, timeout=timeout, env=aws_cli_env(), cwd=cwd)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"aws {' '.join(map(str, args))} ran past {timeout} s; output so far:\n"
                    f"{(e.stdout or b'').decode(errors='replace')}\n{(e.stderr or b'').decode(errors='replace')}")
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    if parse_json and p.returncode == 0:
        return p.returncode, (json.loads(out) if out.strip() else None), err
    return p.returncode, out, err


@pytest.fixture(scope="module")
def aws(hako):
    """aws(*args, parse_json=False, timeout=60, input=None) -> (returncode, stdout, stderr)."""

    def call(*args, **kw):
        return run_aws(hako.endpoint, *args, **kw)

    return call


# -- helpers ----------------------------------------------------------------------------------
def make_zip(files: Mapping[str, bytes | str], modes: Mapping[str, int] | None = None,
             links: Mapping[str, str] | None = None) -> bytes:
    """An in-memory zip of {name: content}, and of symlinks {name: target} (as `zip -y` stores
    them: mode S_IFLNK, the target as content). Unix modes come from `modes`, else 0o755 for a
    file named `bootstrap` (at any depth) and 0o644 for the rest. Timestamps are fixed, so the
    same files always give the same bytes (and the same CodeSha256)."""
    modes = dict(modes or {})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.create_system = 3  # unix, so external_attr carries the mode
            default = 0o755 if name.rsplit("/", 1)[-1] == "bootstrap" else 0o644
            info.external_attr = (0o100000 | modes.get(name, default)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, content.encode() if isinstance(content, str) else content)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = 0o120777 << 16
            z.writestr(info, target)
    return buf.getvalue()


def fixture_zip(name: str) -> bytes:
    """The bytes of tests/fixtures/build/<name>.zip (built by tests/fixtures/build.sh)."""
    path = FIXTURES_BUILD / (name if name.endswith(".zip") else f"{name}.zip")
    if not path.exists():
        pytest.fail(f"{path} does not exist: run tests/fixtures/build.sh (scripts/test does)")
    return path.read_bytes()


def unique_name(prefix: str = "fn") -> str:
    """A function name no other test uses: prefix + 8 hex digits."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_function(client, name: str, runtime: str, handler: str, zip_bytes: bytes,
                    wait_s: float = 60, **kw) -> dict:
    """CreateFunction, then waits (bounded by wait_s) for State=Active with boto3's
    function_active_v2 waiter. Extra keyword arguments go to CreateFunction (Role defaults to
    ROLE). Returns CreateFunction's response."""
    kw.setdefault("Role", ROLE)
    resp = client.create_function(FunctionName=name, Runtime=runtime, Handler=handler,
                                  Code={"ZipFile": zip_bytes}, **kw)
    delay = 0.5
    client.get_waiter("function_active_v2").wait(
        FunctionName=name,
        WaiterConfig={"Delay": delay, "MaxAttempts": max(1, int(wait_s / delay))})
    return resp


def client_error(excinfo) -> tuple[str, int, str]:
    """(error code, HTTP status, message) of a botocore ClientError caught by pytest.raises."""
    e = excinfo.value.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Message"]


def expect_client_error(code: str, status: int, fn, *args, **kw) -> str:
    """Calls fn(*args, **kw), which must fail with `code` and `status`; returns the message."""
    import botocore.exceptions
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        fn(*args, **kw)
    got = client_error(ei)
    assert got[:2] == (code, status), got
    return got[2]


def wait_for(pred, what="condition", timeout_s=10.0, step_s=0.05):
    """Polls pred() every step_s until it returns something truthy, and returns that; fails the
    test after timeout_s (every wait in these tests is bounded)."""
    deadline = time.monotonic() + timeout_s
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(step_s)


@contextlib.contextmanager
def greeter():
    """A TCP server on every address of the host that greets each connection; yields its port."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("0.0.0.0", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            with c:
                c.sendall(b"hello from the host\n")

    t = threading.Thread(target=serve, name="greeter", daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        t.join(timeout=5)
        srv.close()


def scrape_metrics(endpoint: str) -> str:
    """GET /metrics: Prometheus/OpenMetrics text."""
    import urllib.request
    with urllib.request.urlopen(f"{endpoint}/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers["content-type"].startswith("application/openmetrics-text")
        return r.read().decode()


def metric_sample(text: str, metric: str, function: str | None = None) -> float:
    """The value of `metric` in a /metrics text (for one function, summed over its resources),
    0 when absent."""
    total = 0.0
    for line in text.splitlines():
        m = re.match(r"^([a-z_]+)(\{[^}]*\})? (\S+)$", line)
        if not m or m.group(1) != metric:
            continue
        if function is not None and f'function_name="{function}"' not in (m.group(2) or ""):
            continue
        total += float(m.group(3))
    return total


# -- failure reports --------------------------------------------------------------------------
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        # The servers this test used (through any fixture), else every one still running.
        funcargs = getattr(item, "funcargs", {}) or {}
        mine = [v for v in funcargs.values() if isinstance(v, HakoServer)]
        mine += item.stash.get(_FACTORY_SERVERS, [])
        for server in mine or list(_LIVE):
            report.sections.append((f"hako log ({server.log_path}, last {LOG_TAIL_LINES} lines)",
                                    server.log_tail()))


def pytest_sessionfinish(session, exitstatus):
    # A server a fixture could not stop (an interrupted run) must not outlive the session.
    for server in list(_LIVE):
        server.stop()
