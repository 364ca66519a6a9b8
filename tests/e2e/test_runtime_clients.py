"""Each official Lambda runtime client runs unmodified on Hako, and Hako's managed runtimes behave
the same way (issue 2, points 3, 5, 6, 7 and 8).

The clients under test, all deployed through boto3 exactly as on AWS:

    rust-echo    provided.al2023, a `bootstrap` built on the official `lambda_runtime` crate
    python-ric   provided.al2023, the official awslambdaric (PyPI), unmodified
    node-ric     provided.al2023, the official aws-lambda-ric (npm), unmodified
    python3.11   Hako's managed Python runtime (Hako's own client), same handler as python-ric
    nodejs20.x   Hako's managed Node.js runtime (Hako's own client), same handler as node-ric

Every fixture understands the same control keys (log, stderr, sleep_ms, exit, fail, env, context,
payload_bytes) and FIXTURE_INIT_FAIL; see tests/fixtures/*. Each test asserts what a user of AWS
Lambda would see through the API: payloads, FunctionError, error bodies, the context object, the
environment, the log tail and `hako logs`.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from conftest import (FIXTURES_BUILD, HAKO_BIN, REGION, ROLE, boto_lambda_client, create_function,
                      fixture_zip, unique_name)

ACCOUNT = "123456789012"
MEMORY_MB = 256
TIMEOUT_S = 10
STREAM_RE = re.compile(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$")
REQUEST_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# The function's own variables, set through CreateFunction's Environment.
OWN_VARS = {"MY_VAR": "hello from hako", "UNICODE_VAR": "grüße ✓ 日本", "EMPTY_VAR": ""}
# AWS's Runtime API limit on a response, as its error message words it.
RESPONSE_LIMIT = 6291556


@dataclass(frozen=True)
class Client:
    id: str
    fixture: str
    runtime: str
    handler: str
    # The key of the stack trace in an error body ("stackTrace" for Python, "trace" for Node.js);
    # None when the client sends none (lambda_runtime's Diagnostic has only type and message).
    trace_key: str | None
    # What a thrown error / an init failure looks like: (errorType, errorMessage fragment).
    init_error: tuple[str, str]
    # AWS_EXECUTION_ENV of a managed runtime.
    execution_env: str | None = None

    @property
    def managed(self) -> bool:
        return self.execution_env is not None


INIT_FAIL_VALUE = "kaboom"
CLIENTS = [
    Client("rust-echo", "rust-echo", "provided.al2023", "bootstrap", None,
           # The bootstrap exits with status 3 before asking for an event.
           ("Runtime.ExitError", "Runtime exited with error: exit status 3")),
    Client("python-ric", "python-ric", "provided.al2023", "app.handler", "stackTrace",
           ("RuntimeError", f"init failed on purpose: {INIT_FAIL_VALUE}")),
    Client("node-ric", "node-ric", "provided.al2023", "index.handler", "trace",
           ("Error", f"init failed on purpose: {INIT_FAIL_VALUE}")),
    Client("python3.11", "python-echo", "python3.11", "app.handler", "stackTrace",
           ("RuntimeError", f"init failed on purpose: {INIT_FAIL_VALUE}"), "AWS_Lambda_python3.11"),
    Client("nodejs20.x", "node-echo", "nodejs20.x", "index.handler", "trace",
           ("Error", f"init failed on purpose: {INIT_FAIL_VALUE}"), "AWS_Lambda_nodejs20.x"),
]
CLIENT_PARAMS = [pytest.param(c, id=c.id) for c in CLIENTS]


# -- helpers ----------------------------------------------------------------------------------
@dataclass
class Invocation:
    status: int
    function_error: str | None
    executed_version: str | None
    request_id: str
    raw: bytes
    log: str | None  # the decoded LogResult
    elapsed_s: float

    @property
    def body(self) -> Any:
        return json.loads(self.raw)


_NO_PAYLOAD = object()


def invoke(client, name: str, payload: Any = _NO_PAYLOAD, tail: bool = False, **kw) -> Invocation:
    args = {"FunctionName": name, **kw}
    if payload is not _NO_PAYLOAD:
        args["Payload"] = json.dumps(payload, ensure_ascii=False).encode()
    if tail:
        args["LogType"] = "Tail"
    t0 = time.monotonic()
    r = client.invoke(**args)
    raw = r["Payload"].read()
    elapsed = time.monotonic() - t0
    log = base64.b64decode(r["LogResult"]).decode() if "LogResult" in r else None
    return Invocation(r["StatusCode"], r.get("FunctionError"), r.get("ExecutedVersion"),
                      r["ResponseMetadata"]["RequestId"], raw, log, elapsed)


def assert_ok(inv: Invocation) -> None:
    assert inv.status == 200, inv
    assert inv.function_error is None, f"unexpected FunctionError {inv.function_error}: {inv.raw[:2000]!r}"
    assert inv.executed_version == "$LATEST"


def assert_unhandled(inv: Invocation, error_type: str) -> dict:
    assert inv.status == 200, inv
    assert inv.function_error == "Unhandled", f"FunctionError {inv.function_error!r}: {inv.raw[:2000]!r}"
    assert inv.executed_version == "$LATEST"
    body = inv.body
    assert isinstance(body, dict), body
    assert body.get("errorType") == error_type, body
    assert isinstance(body.get("errorMessage"), str), body
    return body


def deploy(lambda_client, client: Client, prefix: str | None = None, **kw) -> str:
    name = unique_name(prefix or client.id.replace(".", "-"))
    kw.setdefault("MemorySize", MEMORY_MB)
    kw.setdefault("Timeout", TIMEOUT_S)
    create_function(lambda_client, name, client.runtime, client.handler, fixture_zip(client.fixture), **kw)
    return name


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


REPORT_RE = (r"REPORT RequestId: {id}\s+Duration: \d+(\.\d+)? ms\s+Billed Duration: \d+ ms\s+"
             r"Memory Size: {mem} MB\s+Max Memory Used: \d+ MB")


def report_line(log: str, request_id: str) -> str:
    lines = [line for line in log.splitlines() if line.startswith(f"REPORT RequestId: {request_id}")]
    assert len(lines) == 1, f"expected one REPORT line for {request_id} in:\n{log}"
    return lines[0]


def assert_platform_lines(log: str, request_id: str, memory_mb: int = MEMORY_MB) -> str:
    """START / END / REPORT for request_id, in that order; returns the REPORT line."""
    lines = log.splitlines()
    start = f"START RequestId: {request_id} Version: $LATEST"
    end = f"END RequestId: {request_id}"
    assert start in lines, f"no {start!r} in:\n{log}"
    assert end in lines, f"no {end!r} in:\n{log}"
    report = report_line(log, request_id)
    assert re.match(REPORT_RE.format(id=re.escape(request_id), mem=memory_mb), report), report
    assert lines.index(start) < lines.index(end) < lines.index(report), log
    return report


@pytest.fixture(scope="module")
def echo_fn(lambda_client):
    """One shared echo function per client (created on first use): MemorySize 256, Timeout 10,
    with the function's own environment variables."""
    made: dict[str, str] = {}
    lock = threading.Lock()

    def get(client: Client) -> str:
        with lock:
            if client.id not in made:
                made[client.id] = deploy(lambda_client, client, Environment={"Variables": OWN_VARS})
            return made[client.id]

    return get


# -- echo ---------------------------------------------------------------------------------------
PAYLOADS = {
    "object": {"a": 1, "nested": {"list": [1, 2, {"b": None}], "t": True, "f": False}},
    "array": [1, "two", 3.5, None, {"x": []}],
    "string": "just a string",
    "number": 42,
    "float": 3.25,
    "null": None,
    "unicode": {"text": "héllo wörld ✓ 日本語 🎉", "emoji": "🚀"},
}


@pytest.mark.parametrize("client", CLIENT_PARAMS)
def test_echo_payloads(lambda_client, echo_fn, client):
    name = echo_fn(client)
    for label, payload in PAYLOADS.items():
        inv = invoke(lambda_client, name, payload)
        assert_ok(inv)
        assert REQUEST_ID_RE.match(inv.request_id), inv.request_id
        assert inv.body == payload, f"{label}: sent {payload!r}, got {inv.raw[:500]!r}"


@pytest.mark.parametrize("client", CLIENT_PARAMS)
def test_echo_one_megabyte(lambda_client, echo_fn, client):
    payload = {"data": "é" + "x" * (1024 * 1024), "tail": "end"}
    inv = invoke(lambda_client, echo_fn(client), payload)
    assert_ok(inv)
    assert inv.body == payload


@pytest.mark.parametrize("client", CLIENT_PARAMS)
def test_invoke_without_payload_gets_an_empty_object(lambda_client, echo_fn, client):
    # AWS hands the function `{}` when Invoke carries no payload.
    inv = invoke(lambda_client, echo_fn(client))
    assert_ok(inv)
    assert inv.body == {}


# -- handler errors -----------------------------------------------------------------------------
@pytest.mark.parametrize("client", CLIENT_PARAMS)
def test_handler_error(lambda_client, echo_fn, client):
    name = echo_fn(client)
    inv = invoke(lambda_client, name, {"fail": "boom"})
    body = assert_unhandled(inv, "EchoError")
    assert body["errorMessage"] == "boom"
    if client.trace_key:
        trace = body.get(client.trace_key)
        assert isinstance(trace, list) and trace, body
        assert all(isinstance(t, str) for t in trace), body
        source = "app.py" if client.trace_key == "stackTrace" else "index.mjs"
        assert any(source in t for t in trace), trace
    if client.trace_key == "trace":
        assert body["trace"][0] == "EchoError: boom", body
    if client.trace_key == "stackTrace":
        # awslambdaric's error body also carries the request id.
        assert body.get("requestId") == inv.request_id, body
    # A handled error leaves the sandbox alive: the next invocation works.
    ok = invoke(lambda_client, name, {"after": "error"})
    assert_ok(ok)
    assert ok.body == {"after": "error"}


# -- context ------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["name", "arn", "qualified"])
@pytest.mark.parametrize("client", CLIENT_PARAMS)
def test_context(lambda_client, echo_fn, client, how):
    name = echo_fn(client)
    target, qualifier = {
        "name": (name, None),
        "arn": (function_arn(name), None),
        "qualified": (name, "$LATEST"),
    }[how]
    kw = {"Qualifier": qualifier} if qualifier else {}
    inv = invoke(lambda_client, target, {"context": True}, **kw)
    assert_ok(inv)
    ctx = inv.body
    assert ctx["request_id"] == inv.request_id, ctx
    assert ctx["function_name"] == name
    assert ctx["function_version"] == "$LATEST"
    expected_arn = {"name": function_arn(name), "arn": function_arn(name),
                    "qualified": f"{function_arn(name)}:$LATEST"}[how]
    assert ctx["invoked_function_arn"] == expected_arn
    assert ctx["memory_limit_in_mb"] == MEMORY_MB
    assert ctx["log_group_name"] == f"/aws/lambda/{name}"
    assert STREAM_RE.match(ctx["log_stream_name"]), ctx["log_stream_name"]
    assert 0 < ctx["remaining_time_ms"] <= TIMEOUT_S * 1000, ctx
    # Nearly all of the 10 s are left: the deadline counts from when the event was handed over.
    assert ctx["remaining_time_ms"] > TIMEOUT_S * 1000 - 2000, ctx
    assert re.match(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24}", ctx["trace_id"] or ""), ctx


# -- environment --------------------------------------------------------------------------------
@pytest.mark.parametrize("client", CLIENT_PARAMS)
def test_environment(lambda_client, echo_fn, hako, client):
    name = echo_fn(client)
    names = [*OWN_VARS, "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME",
             "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_LOG_GROUP_NAME",
             "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_RUNTIME_API",
             "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "_HANDLER", "TZ", "LANG", "PATH",
             "AWS_ENDPOINT_URL_LAMBDA", "AWS_EXECUTION_ENV", "AWS_ACCESS_KEY_ID",
             "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "NOT_SET_ANYWHERE"]
    env = {}
    for var in names:
        inv = invoke(lambda_client, name, {"env": var})
        assert_ok(inv)
        env[var] = inv.body
    for k, v in OWN_VARS.items():
        assert env[k] == v, (k, env[k])
    assert env["NOT_SET_ANYWHERE"] is None
    assert env["AWS_REGION"] == REGION
    assert env["AWS_DEFAULT_REGION"] == REGION
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == str(MEMORY_MB)
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert STREAM_RE.match(env["AWS_LAMBDA_LOG_STREAM_NAME"]), env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert re.match(r"^[A-Za-z0-9.\-]+:\d{1,5}$", env["AWS_LAMBDA_RUNTIME_API"]), env["AWS_LAMBDA_RUNTIME_API"]
    assert env["LAMBDA_TASK_ROOT"].startswith("/"), env["LAMBDA_TASK_ROOT"]
    assert env["LAMBDA_RUNTIME_DIR"].startswith("/"), env["LAMBDA_RUNTIME_DIR"]
    assert env["_HANDLER"] == client.handler
    assert env["TZ"] == ":UTC"
    assert env["LANG"] == "en_US.UTF-8"
    # AWS writes /usr/bin/ with its slash in a managed runtime's PATH.
    path = [d.rstrip("/") or "/" for d in env["PATH"].split(":")]
    for d in ("/usr/local/bin", "/usr/bin", "/bin", "/opt/bin"):
        assert d in path, env["PATH"]
    assert path.index("/usr/local/bin") < path.index("/usr/bin"), env["PATH"]
    if "sandbox backend: linux" in hako.log_text():
        # A private network: Hako serves its API inside the sandbox, on Hako's default port.
        assert env["AWS_ENDPOINT_URL_LAMBDA"] == "http://127.0.0.1:9000"
    else:
        assert env["AWS_ENDPOINT_URL_LAMBDA"] == hako.endpoint
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert env[k], f"{k} is {env[k]!r}"
    if client.managed:
        assert env["AWS_EXECUTION_ENV"] == client.execution_env
    # All of it came from one warm sandbox: its stream name is the context's.
    ctx = invoke(lambda_client, name, {"context": True}).body
    assert ctx["log_stream_name"] == env["AWS_LAMBDA_LOG_STREAM_NAME"]


# -- logs ---------------------------------------------------------------------------------------
def hako_logs(hako, name: str, timeout_s: float = 10) -> str:
    p = subprocess.run([str(HAKO_BIN), "logs", name, "--endpoint-url", hako.endpoint],
                       capture_output=True, timeout=timeout_s)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return p.stdout.decode(errors="replace")


def wait_for_logs(hako, name: str, needles: list[str], within_s: float = 5.0) -> str:
    """Polls `hako logs` (the writer flushes every ~20 ms) until every needle is printed."""
    deadline = time.monotonic() + within_s
    while True:
        out = hako_logs(hako, name)
        if all(n in out for n in needles):
            return out
        if time.monotonic() > deadline:
            missing = [n for n in needles if n not in out]
            pytest.fail(f"`hako logs {name}` lacks {missing} after {within_s} s; it printed:\n{out}")
        time.sleep(0.05)


@pytest.mark.parametrize("client", CLIENT_PARAMS)
def test_logs_tail_and_hako_logs(lambda_client, hako, client):
    name = deploy(lambda_client, client)
    text = f"hello-{uuid.uuid4()}"
    err_text = f"oops-{uuid.uuid4()}"
    first = invoke(lambda_client, name, {"log": text, "stderr": err_text}, tail=True)
    assert_ok(first)
    assert first.log is not None, "LogType=Tail gave no LogResult"
    report = assert_platform_lines(first.log, first.request_id)
    assert re.search(r"\bInit Duration: \d+(\.\d+)? ms", report), f"a cold start's REPORT lacks Init Duration: {report}"
    lines = first.log.splitlines()
    out_lines = [line for line in lines if text in line]
    err_lines = [line for line in lines if err_text in line]
    assert out_lines and err_lines, first.log
    start = lines.index(f"START RequestId: {first.request_id} Version: $LATEST")
    end = lines.index(f"END RequestId: {first.request_id}")
    assert start < lines.index(out_lines[0]) < end, first.log
    assert start < lines.index(err_lines[0]) < end, first.log

    second = invoke(lambda_client, name, {"log": "second"}, tail=True)
    assert_ok(second)
    report2 = assert_platform_lines(second.log, second.request_id)
    assert "Init Duration" not in report2, f"a warm invocation's REPORT has Init Duration: {report2}"
    # The tail is this invocation's log only.
    assert first.request_id not in second.log, second.log

    out = wait_for_logs(hako, name, [f"START RequestId: {first.request_id} Version: $LATEST", text, err_text,
                                     f"END RequestId: {first.request_id}",
                                     f"REPORT RequestId: {first.request_id}",
                                     f"REPORT RequestId: {second.request_id}"])
    printed = out.splitlines()
    # In order, and every line names the sandbox's stream.
    idx = [next(i for i, line in enumerate(printed) if needle in line)
           for needle in (f"START RequestId: {first.request_id}", text, f"END RequestId: {first.request_id}",
                          f"REPORT RequestId: {first.request_id}", f"START RequestId: {second.request_id}")]
    assert idx == sorted(idx), out
    ctx_stream = invoke(lambda_client, name, {"context": True}).body["log_stream_name"]
    for line in printed:
        if first.request_id in line or text in line:
            assert ctx_stream in line, f"line not in the sandbox's stream {ctx_stream}: {line}"


# -- timeout, exit, init failure, oversize response ----------------------------------------------
@pytest.mark.parametrize("client", CLIENT_PARAMS)
def test_timeout(lambda_client, client):
    name = deploy(lambda_client, client, Timeout=1)
    inv = invoke(lambda_client, name, {"sleep_ms": 6000}, tail=True)
    body = assert_unhandled(inv, "Sandbox.Timedout")
    assert "Task timed out after 1.00 seconds" in body["errorMessage"], body
    assert inv.request_id in body["errorMessage"], body
    # 1 s after the (cold) init, not after the handler's 6 s.
    assert inv.elapsed_s < 5, f"the invocation took {inv.elapsed_s:.2f} s: the timeout did not stop it"
    assert "Task timed out after 1.00 seconds" in inv.log, inv.log
    assert_platform_lines(inv.log, inv.request_id)
    # A new sandbox serves the next invocation.
    ok = invoke(lambda_client, name, {"after": "timeout"})
    assert_ok(ok)
    assert ok.body == {"after": "timeout"}


@pytest.mark.parametrize("client", CLIENT_PARAMS)
def test_exit_mid_invocation(lambda_client, client):
    name = deploy(lambda_client, client)
    before = invoke(lambda_client, name, {"context": True}).body["log_stream_name"]
    inv = invoke(lambda_client, name, {"exit": 1}, tail=True)
    body = assert_unhandled(inv, "Runtime.ExitError")
    assert "Runtime exited with error: exit status 1" in body["errorMessage"], body
    assert inv.request_id in body["errorMessage"], body
    assert_platform_lines(inv.log, inv.request_id)
    ok = invoke(lambda_client, name, {"context": True})
    assert_ok(ok)
    assert ok.body["log_stream_name"] != before, "the dead sandbox was reused"


@pytest.mark.parametrize("client", CLIENT_PARAMS)
def test_init_failure(lambda_client, echo_fn, client):
    name = deploy(lambda_client, client, Environment={"Variables": {"FIXTURE_INIT_FAIL": INIT_FAIL_VALUE}})
    error_type, fragment = client.init_error
    for _ in range(2):  # every invocation tries a fresh init, and fails the same way
        inv = invoke(lambda_client, name, {"x": 1})
        body = assert_unhandled(inv, error_type)
        assert fragment in body["errorMessage"], body
        if client.trace_key:
            assert isinstance(body.get(client.trace_key), list), body
    # Hako keeps serving other functions.
    ok = invoke(lambda_client, echo_fn(client), {"still": "serving"})
    assert_ok(ok)
    assert ok.body == {"still": "serving"}


@pytest.mark.parametrize("client", CLIENT_PARAMS)
def test_response_too_large(lambda_client, client):
    name = deploy(lambda_client, client)
    inv = invoke(lambda_client, name, {"payload_bytes": 7_000_000})
    body = assert_unhandled(inv, "Function.ResponseSizeTooLarge")
    assert body["errorMessage"] == (
        f"Response payload size exceeded maximum allowed payload size ({RESPONSE_LIMIT} bytes).")
    # The function keeps working at once (on AWS too when its runtime dies of the 413, as
    # awslambdaric does: the next event goes to a fresh sandbox, never to the dying one).
    ok = invoke(lambda_client, name, {"after": "too-large"})
    assert_ok(ok)
    assert ok.body == {"after": "too-large"}
    # Just under the limit is fine (a JSON string of N chars is N + 2 bytes).
    big = invoke(lambda_client, name, {"payload_bytes": RESPONSE_LIMIT - 2 - 100})
    assert_ok(big)
    assert len(big.raw) == RESPONSE_LIMIT - 100


# -- sandboxes: warm reuse and concurrency -----------------------------------------------------
@pytest.mark.parametrize("client", CLIENT_PARAMS)
def test_warm_sandbox_is_reused(lambda_client, client):
    name = deploy(lambda_client, client)
    first = invoke(lambda_client, name, {"context": True}, tail=True)
    second = invoke(lambda_client, name, {"context": True}, tail=True)
    assert_ok(first)
    assert_ok(second)
    assert "Init Duration" in report_line(first.log, first.request_id)
    assert "Init Duration" not in report_line(second.log, second.request_id)
    assert first.body["log_stream_name"] == second.body["log_stream_name"]
    assert first.request_id != second.request_id


@pytest.mark.parametrize("client", CLIENT_PARAMS)
def test_concurrent_invocations_get_separate_sandboxes(hako, lambda_client, client):
    name = deploy(lambda_client, client)
    n = 4
    barrier = threading.Barrier(n, timeout=30)
    clients = [boto_lambda_client(hako.endpoint) for _ in range(n)]

    def one(i: int) -> Invocation:
        barrier.wait()
        return invoke(clients[i], name, {"sleep_ms": 500, "context": True, "i": i})

    with ThreadPoolExecutor(n) as pool:
        results = [f.result(timeout=60) for f in [pool.submit(one, i) for i in range(n)]]
    for inv in results:
        assert_ok(inv)
        assert inv.body["request_id"] == inv.request_id
    streams = {inv.body["log_stream_name"] for inv in results}
    assert len(streams) == n, f"{n} concurrent invocations ran in {len(streams)} sandboxes: {streams}"
    assert len({inv.request_id for inv in results}) == n


# -- the real aws CLI ------------------------------------------------------------------------
@pytest.mark.parametrize("client", CLIENT_PARAMS)
def test_aws_cli_create_invoke_tail(aws, client, tmp_path):
    name = unique_name(f"cli-{client.id.replace('.', '-')}")
    rc, out, err = aws("lambda", "create-function", "--function-name", name, "--runtime", client.runtime,
                       "--handler", client.handler, "--role", ROLE, "--memory-size", str(MEMORY_MB),
                       "--zip-file", f"fileb://{FIXTURES_BUILD / (client.fixture + '.zip')}", parse_json=True)
    assert rc == 0, err
    assert out["FunctionName"] == name and out["Runtime"] == client.runtime
    rc, _, err = aws("lambda", "wait", "function-active-v2", "--function-name", name)
    assert rc == 0, err

    text = f"cli-{uuid.uuid4()}"
    outfile = tmp_path / "out.json"
    rc, out, err = aws("lambda", "invoke", "--function-name", name,
                       "--payload", json.dumps({"log": text, "k": "v"}), "--log-type", "Tail", str(outfile),
                       parse_json=True)
    assert rc == 0, err
    assert out["StatusCode"] == 200
    assert out["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in out, out
    assert json.loads(outfile.read_bytes()) == {"log": text, "k": "v"}
    log = base64.b64decode(out["LogResult"]).decode()
    assert text in log, log
    assert re.search(r"^START RequestId: \S+ Version: \$LATEST$", log, re.M), log
    assert re.search(r"^REPORT RequestId: \S+\s+Duration: ", log, re.M), log

    errfile = tmp_path / "err.json"
    rc, out, err = aws("lambda", "invoke", "--function-name", name,
                       "--payload", '{"fail": "cli-boom"}', str(errfile), parse_json=True)
    assert rc == 0, err  # a function error is not a CLI error
    assert out["FunctionError"] == "Unhandled", out
    body = json.loads(errfile.read_bytes())
    assert body["errorType"] == "EchoError" and body["errorMessage"] == "cli-boom", body
