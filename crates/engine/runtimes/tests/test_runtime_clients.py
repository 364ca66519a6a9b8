"""Tests for Hako's runtime clients (python/bootstrap.py, node/bootstrap.mjs).

Each test writes a small function into a temporary task root, starts the
client against an in-test Runtime API (fake_runtime_api.FakeRuntimeAPI), feeds
it events and checks what it posts back. Every wait is bounded and every
client process is killed at the end of its test.

Run: python3 -m pytest crates/engine/runtimes/tests   (needs pytest; node for
the Node tests, which are skipped without it).
"""

import json
import os
import re
import sys
import textwrap
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_runtime_api import PREFIX, ClientProcess, FakeRuntimeAPI, node_binary  # noqa: E402

needs_node = pytest.mark.skipif(node_binary() is None, reason="node is not installed")

TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@pytest.fixture
def api():
    a = FakeRuntimeAPI()
    yield a
    a.close()


@pytest.fixture
def run(api, tmp_path):
    """run(kind, files, handler, env=None) -> ClientProcess, with files written to the task root."""
    procs = []
    task = tmp_path / "task"
    task.mkdir()

    def start(kind, files, handler, env=None):
        for name, content in files.items():
            p = task / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(textwrap.dedent(content).lstrip("\n"))
        proc = ClientProcess(kind, api, task, handler, env=env)
        procs.append(proc)
        return proc

    start.task = task
    yield start
    for p in procs:
        p.kill()


def wait_exit(proc, timeout=10):
    try:
        return proc.wait(timeout)
    except Exception:
        raise AssertionError("client did not exit; output:\n" + proc.output())


def wait_output(proc, pattern, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        out = proc.output()
        m = re.search(pattern, out, re.M)
        if m:
            return m
        if time.monotonic() > deadline:
            raise AssertionError("no %r in output:\n%s" % (pattern, out))
        time.sleep(0.02)


# ===========================================================================
# Python
# ===========================================================================

PY_ECHO = {"app.py": "def handler(event, context):\n    return event\n"}


def test_py_echo(api, run):
    run("python", PY_ECHO, "app.handler")
    event = {"a": 1, "s": "h\u00e9llo \u2603", "n": [1, 2.5, None, True, False], "o": {"x": {}}}
    rid = api.add_event(event)
    res = api.result(rid)
    assert res.path == "%s/invocation/%s/response" % (PREFIX, rid)
    assert res.body == json.dumps(event).encode()
    assert res.headers["content-type"] == "application/json"


def test_py_return_none_and_scalars(api, run):
    run("python", {"app.py": """
        def handler(event, context):
            return {"none": None, "str": "x", "int": 7, "list": [1]}[event["kind"]]
    """}, "app.handler")
    expected = {"none": b"null", "str": b'"x"', "int": b"7", "list": b"[1]"}
    for kind, body in expected.items():
        rid = api.add_event({"kind": kind})
        assert api.result(rid).body == body


def test_py_exception(api, run):
    proc = run("python", {"app.py": """
        def helper(x):
            raise ValueError("boom " + x)

        def handler(event, context):
            if event.get("ok"):
                return "fine"
            helper("here")
    """}, "app.handler")
    rid = api.add_event({})
    res = api.result(rid)
    assert res.path.endswith("/%s/error" % rid)
    assert res.headers["lambda-runtime-function-error-type"] == "ValueError"
    app = str(run.task / "app.py")
    assert res.json() == {
        "errorMessage": "boom here",
        "errorType": "ValueError",
        "requestId": rid,
        "stackTrace": [
            '  File "%s", line 7, in handler\n    helper("here")\n' % app,
            '  File "%s", line 2, in helper\n    raise ValueError("boom " + x)\n' % app,
        ],
    }
    # key order is awslambdaric's
    assert list(res.json()) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    cause = json.loads(res.headers["lambda-runtime-function-xray-error-cause"])
    assert cause["exceptions"][0]["type"] == "ValueError"
    assert cause["exceptions"][0]["stack"][0] == {"label": "handler", "path": app, "line": 7}
    # the error is logged like awslambdaric: \r-separated, NBSP-indented
    wait_output(proc, re.escape(
        "[ERROR] ValueError: boom here\rTraceback (most recent call last):\r"
        "\u00a0\u00a0File \"%s\", line 7, in handler\r\u00a0\u00a0\u00a0\u00a0helper(\"here\")\r" % app))
    # and the client goes on
    rid2 = api.add_event({"ok": True})
    assert api.result(rid2).body == b'"fine"'


INIT_ERRORS = [
    pytest.param({}, "nope.handler", "Runtime.ImportModuleError",
                 "Unable to import module 'nope': No module named 'nope'", id="missing-module"),
    pytest.param({"app.py": "import notthere\n"}, "app.handler", "Runtime.ImportModuleError",
                 "Unable to import module 'app': No module named 'notthere'", id="missing-dependency"),
    pytest.param(PY_ECHO, "app.nope", "Runtime.HandlerNotFound",
                 "Handler 'nope' missing on module 'app'", id="missing-handler"),
    pytest.param(PY_ECHO, "app", "Runtime.MalformedHandlerName",
                 "Bad handler 'app': not enough values to unpack (expected 2, got 1)", id="malformed"),
    pytest.param({"app.py": "def handler(event, context)\n    return 1\n"}, "app.handler",
                 "Runtime.UserCodeSyntaxError", "Syntax error in module 'app': ", id="syntax-error"),
    pytest.param({"app.py": "raise RuntimeError('init failed')\n"}, "app.handler", "RuntimeError",
                 "init failed", id="raises-at-import"),
    pytest.param({}, "sys.handler", "Runtime.BuiltInModuleConflict",
                 "Cannot use built-in module sys as a handler module", id="builtin-module"),
]


@pytest.mark.parametrize("files,handler,error_type,message", INIT_ERRORS)
def test_py_init_errors(api, run, files, handler, error_type, message):
    proc = run("python", files, handler)
    err = api.init_error()
    body = err.json()
    assert err.headers["lambda-runtime-function-error-type"] == error_type
    assert body["errorType"] == error_type
    assert body["errorMessage"].startswith(message)
    if not message.endswith(": "):
        assert body["errorMessage"] == message
    assert body["requestId"] == ""
    assert isinstance(body["stackTrace"], list)
    assert wait_exit(proc) == 1
    assert api.gets() == []
    out = proc.output()
    assert "LAMBDA_WARNING: Unhandled exception." in out
    assert "[ERROR] %s: %s" % (error_type, body["errorMessage"].splitlines()[0]) in out


def test_py_init_error_details(api, run):
    run("python", {"app.py": "x = 1\nraise RuntimeError('init failed')\n"}, "app.handler")
    body = api.init_error().json()
    # the traceback starts at importlib (as on AWS) and ends in the user's module
    assert body["stackTrace"][-1] == '  File "%s", line 2, in <module>\n    raise RuntimeError(\'init failed\')\n' % (
        run.task / "app.py")
    assert not any("bootstrap.py" in f for f in body["stackTrace"])


def test_py_syntax_error_trace(api, run):
    run("python", {"app.py": "def handler(event, context)\n    return 1\n"}, "app.handler")
    body = api.init_error().json()
    assert body["stackTrace"] == [
        '  File "%s" Line 1\n    def handler(event, context)\n' % (run.task / "app.py")]


@pytest.mark.parametrize("handler", ["pkg/sub/mod.handler", "pkg.sub.mod.handler", "pkg/sub.mod.handler"])
def test_py_nested_handler(api, run, handler):
    run("python", {
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "",
        "pkg/sub/mod.py": "def handler(event, context):\n    return {'mod': __name__}\n",
    }, handler)
    rid = api.add_event({})
    assert api.result(rid).json() == {"mod": "pkg.sub.mod"}


def test_py_task_root_first_on_sys_path(api, run):
    run("python", {"app.py": """
        import os, sys
        def handler(event, context):
            return [sys.path[0], os.getcwd()]
    """}, "app.handler")
    rid = api.add_event({})
    assert api.result(rid).json() == [str(run.task), str(run.task)]


def test_py_context(api, run):
    run("python", {"app.py": """
        def handler(event, context):
            cc = context.client_context
            return {
                "function_name": context.function_name,
                "function_version": context.function_version,
                "invoked_function_arn": context.invoked_function_arn,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "aws_request_id": context.aws_request_id,
                "log_group_name": context.log_group_name,
                "log_stream_name": context.log_stream_name,
                "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
                "client_context": None if cc is None else {
                    "custom": cc.custom, "env": cc.env,
                    "client": None if cc.client is None else [cc.client.installation_id, cc.client.app_title],
                },
                "remaining": context.get_remaining_time_in_millis(),
            }
    """}, "app.handler")
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:fn:live"
    rid = api.add_event(
        {}, arn=arn, deadline_ms=int(time.time() * 1000) + 5000,
        client_context={"client": {"installation_id": "inst", "app_title": "title"},
                        "custom": {"k": "v"}, "env": {"platform": "x"}},
        cognito_identity={"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"},
    )
    got = api.result(rid).json()
    remaining = got.pop("remaining")
    assert 0 < remaining <= 5000
    assert got == {
        "function_name": "fn",
        "function_version": "$LATEST",
        "invoked_function_arn": arn,
        "memory_limit_in_mb": "256",  # a string, as in awslambdaric
        "aws_request_id": rid,
        "log_group_name": "/aws/lambda/fn",
        "log_stream_name": "2024/01/01/[$LATEST]0123456789abcdef",
        "identity": ["id-1", "pool-1"],
        "client_context": {"custom": {"k": "v"}, "env": {"platform": "x"}, "client": ["inst", "title"]},
    }
    # without the optional headers
    rid = api.add_event({}, deadline_ms=int(time.time() * 1000) - 10)
    got = api.result(rid).json()
    assert got["client_context"] is None
    assert got["identity"] == [None, None]
    assert got["remaining"] == 0


def test_py_bad_client_context(api, run):
    run("python", PY_ECHO, "app.handler")
    rid = api.add_event({}, extra_headers=[("Lambda-Runtime-Client-Context", "{nope")])
    res = api.result(rid)
    assert res.headers["lambda-runtime-function-error-type"] == "Runtime.LambdaContextUnmarshalError"
    assert res.json()["errorMessage"].startswith("Unable to parse Client Context JSON: ")


def test_py_trace_id(api, run):
    run("python", {"app.py": """
        import os
        def handler(event, context):
            return os.environ.get("_X_AMZN_TRACE_ID")
    """}, "app.handler")
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    rid = api.add_event({}, trace_id=trace)
    assert api.result(rid).json() == trace
    rid = api.add_event({})
    assert api.result(rid).json() is None


def test_py_one_connection(api, run):
    run("python", PY_ECHO, "app.handler")
    for i in range(6):
        rid = api.add_event({"i": i})
        assert api.result(rid).json() == {"i": i}
    assert len(api.connections()) == 1
    assert len(api.gets()) >= 6


def test_py_logging(api, run):
    proc = run("python", {"app.py": """
        import logging
        logger = logging.getLogger()
        logger.warning("at init")
        logger.setLevel(logging.INFO)

        def handler(event, context):
            logger.info("hello %s", 42)
            logging.getLogger("child").error("two\\nlines")
            print("plain print")
            context.log("via context\\n")
            return None
    """}, "app.handler")
    rid = api.add_event({})
    api.result(rid)
    wait_output(proc, "via context")
    out = proc.output()
    assert re.search(r"^\[WARNING\]\t%s\t\tat init$" % TS, out, re.M), out
    assert re.search(r"^\[INFO\]\t%s\t%s\thello 42$" % (TS, rid), out, re.M), out
    assert re.search(r"^\[ERROR\]\t%s\t%s\ttwo\nlines$" % (TS, rid), out, re.M), out
    assert re.search(r"^plain print$", out, re.M)
    # handler added exactly once, nothing else (no basicConfig stderr handler)
    assert out.count("hello 42") == 1


def test_py_log_level_env(api, run):
    proc = run("python", {"app.py": """
        import logging
        def handler(event, context):
            logging.getLogger().debug("dbg")
            logging.getLogger().info("inf")
            return None
    """}, "app.handler", env={"AWS_LAMBDA_LOG_LEVEL": "DEBUG"})
    api.result(api.add_event({}))
    wait_output(proc, r"\[INFO\].*inf")
    assert re.search(r"^\[DEBUG\]\t%s\t\S+\tdbg$" % TS, proc.output(), re.M)


def test_py_json_log_format(api, run):
    proc = run("python", {"app.py": """
        import logging
        def handler(event, context):
            logging.getLogger().warning("hello %s", "json", extra={"k": 1})
            return None
    """}, "app.handler", env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    rid = api.add_event({})
    api.result(rid)
    line = wait_output(proc, r"^\{.*hello json.*\}$").group(0)
    rec = json.loads(line)
    assert rec["level"] == "WARNING" and rec["message"] == "hello json" and rec["requestId"] == rid
    assert rec["logger"] == "root" and rec["k"] == 1
    # awslambdaric's JSON timestamps have no milliseconds
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rec["timestamp"]), rec


def test_py_marshal_error(api, run):
    run("python", {"app.py": "def handler(event, context):\n    return {1, 2}\n"}, "app.handler")
    res = api.result(api.add_event({}))
    assert res.headers["lambda-runtime-function-error-type"] == "Runtime.MarshalError"
    assert res.json()["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable"
    assert res.json()["stackTrace"] == []


def test_py_unmarshal_error(api, run):
    run("python", PY_ECHO, "app.handler")
    rid = api.add_event(None, raw=b"{bad json")
    res = api.result(rid)
    assert res.headers["lambda-runtime-function-error-type"] == "Runtime.UnmarshalError"
    assert res.json()["errorMessage"].startswith(
        "Unable to unmarshal input: Expecting property name enclosed in double quotes")


def test_py_special_results(api, run):
    run("python", {"app.py": """
        from decimal import Decimal
        def handler(event, context):
            k = event["kind"]
            if k == "bytes":
                return b"\\x00raw"
            if k == "decimal":
                return {"int": Decimal("5"), "frac": Decimal("1.5")}
            if k == "nan":
                return float("nan")
            return "caf\\u00e9"
    """}, "app.handler")
    res = api.result(api.add_event({"kind": "bytes"}))
    assert res.body == b"\x00raw" and res.headers["content-type"] == "application/unknown"
    assert api.result(api.add_event({"kind": "decimal"})).body == b'{"int": 5, "frac": 1.5}'
    assert api.result(api.add_event({"kind": "nan"})).body == b"NaN"
    assert api.result(api.add_event({"kind": "str"})).body == b'"caf\\u00e9"'


def test_py_event_edge_cases(api, run):
    run("python", {"app.py": "def handler(event, context):\n    return [type(event).__name__, event]\n"},
        "app.handler")
    assert api.result(api.add_event(None, raw=b" \n[1, 2]\n ")).json() == ["list", [1, 2]]
    assert api.result(api.add_event(None, raw=b'"s"')).json() == ["str", "s"]
    assert api.result(api.add_event(None, raw=b"\xef\xbb\xbf{}")).json() == ["dict", {}]  # UTF-8 BOM
    big = {"data": "x" * (3 * 1024 * 1024)}
    res = api.result(api.add_event(big))
    assert json.loads(res.body) == ["dict", big]


def test_py_413_then_next(api, run):
    run("python", PY_ECHO, "app.handler")
    rid = api.add_event({"n": 1})
    api.response_status[rid] = 413
    api.result(rid)
    rid2 = api.add_event({"n": 2})
    assert api.result(rid2).json() == {"n": 2}


def test_py_exits_when_api_fails(api, run):
    proc = run("python", PY_ECHO, "app.handler")
    api.wait_for(lambda: api.gets(), what="GET next")
    api.closed = True  # the fake answers 500 to GET next from now on
    assert wait_exit(proc) == 1


# ===========================================================================
# Node.js
# ===========================================================================

NODE_ECHO = {"app.js": "exports.handler = async (event) => event;\n"}


@needs_node
def test_node_echo(api, run):
    run("node", NODE_ECHO, "app.handler")
    event = {"a": 1, "s": "h\u00e9llo \u2603", "n": [1, 2.5, None, True, False], "o": {"x": {}}}
    rid = api.add_event(event)
    res = api.result(rid)
    assert res.path == "%s/invocation/%s/response" % (PREFIX, rid)
    assert res.body == json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    assert res.headers["content-type"] == "application/json"


@needs_node
def test_node_undefined_and_sync_results(api, run):
    run("node", {"app.js": """
        exports.asyncUndef = async () => undefined;
        exports.syncValue = () => 42;  // non-async, no callback: AWS answers null
    """, "other.js": "exports.handler = async (e) => e.v;\n"}, "app.asyncUndef")
    assert api.result(api.add_event({})).body == b"null"


@needs_node
def test_node_sync_return_is_null(api, run):
    run("node", {"app.js": "exports.handler = () => 42;\n"}, "app.handler")
    assert api.result(api.add_event({})).body == b"null"


@needs_node
def test_node_exception(api, run):
    proc = run("node", {"app.js": """
        exports.handler = async (event) => {
          if (event.ok) return 'fine';
          throw new Error('boom');
        };
    """}, "app.handler")
    rid = api.add_event({})
    res = api.result(rid)
    assert res.path.endswith("/%s/error" % rid)
    assert res.headers["lambda-runtime-function-error-type"] == "Error"
    body = res.json()
    assert list(body) == ["errorType", "errorMessage", "trace"]
    assert body["errorType"] == "Error" and body["errorMessage"] == "boom"
    assert body["trace"][0] == "Error: boom"
    assert body["trace"][1].startswith("    at ") and "%s:3:" % (run.task / "app.js") in body["trace"][1]
    cause = json.loads(res.headers["lambda-runtime-function-xray-error-cause"])
    assert cause["exceptions"][0]["type"] == "Error"
    assert cause["exceptions"][0]["stack"][0]["path"] == str(run.task / "app.js")
    m = wait_output(proc, r"^(%s)\t%s\tERROR\tInvoke Error \t(\{.*\})$" % (TS, rid))
    logged = json.loads(m.group(2))
    assert logged["errorType"] == "Error" and logged["stack"][0] == "Error: boom"
    rid2 = api.add_event({"ok": True})
    assert api.result(rid2).body == b'"fine"'


@needs_node
@pytest.mark.parametrize("code,error_type,message", [
    ("throw 'oops'", "string", "oops"),
    ("throw {a: 1}", "object", "[object Object]"),
    ("class MyError extends Error {}; MyError.prototype.name = 'MyError'; throw new MyError('mine')",
     "MyError", "mine"),
    ("return Promise.reject()", "string", "handled"),
])
def test_node_thrown_values(api, run, code, error_type, message):
    run("node", {"app.js": "exports.handler = async () => { %s; };\n" % code}, "app.handler")
    res = api.result(api.add_event({}))
    body = res.json()
    assert (body["errorType"], body["errorMessage"]) == (error_type, message)
    assert res.headers["lambda-runtime-function-error-type"] == error_type
    if error_type in ("string", "object"):
        assert body["trace"] == []


@needs_node
def test_node_callback_handlers(api, run):
    run("node", {"app.js": """
        exports.handler = (event, context, callback) => {
          if (event.mode === 'error') return callback(new TypeError('bad input'));
          if (event.mode === 'nowait') context.callbackWaitsForEmptyEventLoop = false;
          if (event.timer) setTimeout(() => {}, event.timer);
          callback(null, {mode: event.mode});
        };
    """}, "app.handler")
    res = api.result(api.add_event({"mode": "error"}))
    assert res.json()["errorType"] == "TypeError" and res.json()["errorMessage"] == "bad input"

    rid = api.add_event({"mode": "wait", "timer": 400})
    res = api.result(rid)
    assert res.json() == {"mode": "wait"}
    got = [r for r in api.gets() if r.t < res.t][-1]
    assert res.t - got.t >= 0.35, "callbackWaitsForEmptyEventLoop=true must wait for the timer"

    rid = api.add_event({"mode": "nowait", "timer": 1500})
    res = api.result(rid)
    assert res.json() == {"mode": "nowait"}
    got = [r for r in api.gets() if r.t < res.t][-1]
    assert res.t - got.t < 0.8, "callbackWaitsForEmptyEventLoop=false must answer at once"


@needs_node
def test_node_legacy_context_methods(api, run):
    run("node", {"app.js": """
        exports.handler = (event, context) => {
          if (event.m === 'succeed') context.succeed({ok: 1});
          else if (event.m === 'fail') context.fail(new Error('failed'));
          else context.done(null, 'done');
        };
    """}, "app.handler")
    assert api.result(api.add_event({"m": "succeed"})).json() == {"ok": 1}
    assert api.result(api.add_event({"m": "fail"})).json()["errorMessage"] == "failed"
    assert api.result(api.add_event({"m": "done"})).json() == "done"


NODE_INIT_ERRORS = [
    pytest.param({}, "nope.handler", "Runtime.ImportModuleError", "Error: Cannot find module 'nope'",
                 id="missing-module"),
    pytest.param({"app.js": "require('notthere');\n"}, "app.handler", "Runtime.ImportModuleError",
                 "Error: Cannot find module 'notthere'", id="missing-dependency"),
    pytest.param(NODE_ECHO, "app.nope", "Runtime.HandlerNotFound", "app.nope is undefined or not exported",
                 id="missing-handler"),
    pytest.param({"app.js": "exports.x = 1;\n"}, "app.x", "Runtime.HandlerNotFound", "app.x is not a function",
                 id="not-a-function"),
    pytest.param(NODE_ECHO, "app", "Runtime.MalformedHandlerName", "Bad handler", id="malformed"),
    pytest.param(NODE_ECHO, "../app.handler", "Runtime.MalformedHandlerName",
                 "'../app.handler' is not a valid handler name. Use absolute paths when specifying root "
                 "directories in handler names.", id="relative-path"),
    pytest.param({"app.js": "exports.handler = async (e) => { return e;\n"}, "app.handler",
                 "Runtime.UserCodeSyntaxError", "SyntaxError: ", id="syntax-error"),
    pytest.param({"app.mjs": "export const handler = async (e) => { return e;\n"}, "app.handler",
                 "Runtime.UserCodeSyntaxError", "SyntaxError: ", id="esm-syntax-error"),
    pytest.param({"app.js": "throw new RangeError('init failed');\n"}, "app.handler", "RangeError",
                 "init failed", id="throws-at-load"),
]


@needs_node
@pytest.mark.parametrize("files,handler,error_type,message", NODE_INIT_ERRORS)
def test_node_init_errors(api, run, files, handler, error_type, message):
    proc = run("node", files, handler)
    err = api.init_error()
    body = err.json()
    assert err.headers["lambda-runtime-function-error-type"] == error_type
    assert body["errorType"] == error_type
    assert body["errorMessage"].startswith(message)
    assert body["trace"][0].startswith(error_type)
    assert wait_exit(proc) == 129
    assert api.gets() == []
    assert re.search(r"^%s\tundefined\tERROR\tUncaught Exception \t\{\"errorType\":\"%s\"" % (
        TS, re.escape(error_type)), proc.output(), re.M), proc.output()


@needs_node
def test_node_import_error_message_shape(api, run):
    run("node", {}, "nope.handler")
    msg = api.init_error().json()["errorMessage"]
    assert msg.startswith("Error: Cannot find module 'nope'\nRequire stack:\n- ")


@needs_node
@pytest.mark.parametrize("files,handler", [
    ({"src/handlers/app.js": "exports.handler = async () => 'nested-dir';\n"}, "src/handlers/app.handler"),
    ({"app.js": "exports.obj = {inner: {method: async () => 'nested-dir'}};\n"}, "app.obj.inner.method"),
    ({"app.mjs": "export const handler = async () => 'nested-dir';\n"}, "app.handler"),
    ({"src/app.mjs": "export default {h: async () => 'nested-dir'};\n"}, "src/app.default.h"),
    ({"app.cjs": "module.exports.handler = async () => 'nested-dir';\n"}, "app.handler"),
    ({"package.json": '{"type": "module"}', "app.js": "export const handler = async () => 'nested-dir';\n"},
     "app.handler"),
    ({"node_modules/pkgmod/index.js": "exports.handler = async () => 'nested-dir';\n"}, "pkgmod.handler"),
], ids=["subdir", "nested-export", "esm-mjs", "esm-default", "cjs", "type-module-js", "node-resolution"])
def test_node_handler_resolution(api, run, files, handler):
    run("node", files, handler)
    assert api.result(api.add_event({})).json() == "nested-dir"


@needs_node
def test_node_esm_handler(api, run):
    run("node", {"index.mjs": """
        import { readFileSync } from 'node:fs';
        const started = Date.now();
        export const handler = async (event, context) => ({event, esm: typeof require, started: started > 0});
    """}, "index.handler")
    assert api.result(api.add_event({"x": 1})).json() == {"event": {"x": 1}, "esm": "undefined", "started": True}


@needs_node
def test_node_context(api, run):
    run("node", {"app.js": """
        exports.handler = async (event, context) => ({
          functionName: context.functionName,
          functionVersion: context.functionVersion,
          invokedFunctionArn: context.invokedFunctionArn,
          memoryLimitInMB: context.memoryLimitInMB,
          awsRequestId: context.awsRequestId,
          logGroupName: context.logGroupName,
          logStreamName: context.logStreamName,
          identity: context.identity === undefined ? 'undefined' : context.identity,
          clientContext: context.clientContext === undefined ? 'undefined' : context.clientContext,
          callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
          legacy: [typeof context.succeed, typeof context.fail, typeof context.done],
          remaining: context.getRemainingTimeInMillis(),
        });
    """}, "app.handler")
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:fn:live"
    cc = {"client": {"installation_id": "inst"}, "custom": {"k": "v"}, "env": {"platform": "x"}}
    ci = {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
    rid = api.add_event({}, arn=arn, deadline_ms=int(time.time() * 1000) + 5000,
                        client_context=cc, cognito_identity=ci)
    got = api.result(rid).json()
    remaining = got.pop("remaining")
    assert 0 < remaining <= 5000
    assert got == {
        "functionName": "fn",
        "functionVersion": "$LATEST",
        "invokedFunctionArn": arn,
        "memoryLimitInMB": "256",
        "awsRequestId": rid,
        "logGroupName": "/aws/lambda/fn",
        "logStreamName": "2024/01/01/[$LATEST]0123456789abcdef",
        "identity": ci,
        "clientContext": cc,
        "callbackWaitsForEmptyEventLoop": True,
        "legacy": ["function", "function", "function"],
    }
    got = api.result(api.add_event({})).json()
    assert got["identity"] == "undefined" and got["clientContext"] == "undefined"


@needs_node
def test_node_trace_id(api, run):
    run("node", {"app.js": "exports.handler = async () => process.env._X_AMZN_TRACE_ID ?? null;\n"},
        "app.handler")
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    assert api.result(api.add_event({}, trace_id=trace)).json() == trace
    assert api.result(api.add_event({})).json() is None


@needs_node
def test_node_one_connection(api, run):
    run("node", NODE_ECHO, "app.handler")
    for i in range(6):
        rid = api.add_event({"i": i})
        assert api.result(rid).json() == {"i": i}
    assert len(api.connections()) == 1
    assert len(api.gets()) >= 6


@needs_node
def test_node_console(api, run):
    proc = run("node", {"app.js": """
        console.log('at init');
        exports.handler = async (event) => {
          console.log('hello %s', 'world', {a: 1});
          console.info('info');
          console.warn('warn');
          console.error('two\\nlines');
          console.debug('debug');
          console.trace('trace');
          return null;
        };
    """}, "app.handler")
    rid = api.add_event({})
    api.result(rid)
    wait_output(proc, r"\tTRACE\ttrace$")
    out = proc.output()
    assert re.search(r"^%s\tundefined\tINFO\tat init$" % TS, out, re.M), out
    for level, msg in [("INFO", "hello world { a: 1 }"), ("INFO", "info"), ("WARN", "warn"),
                       ("ERROR", "two\rlines"), ("DEBUG", "debug"), ("TRACE", "trace")]:
        assert re.search(r"^%s\t%s\t%s\t%s$" % (TS, rid, level, re.escape(msg)), out, re.M), (level, out)


@needs_node
def test_node_log_level_and_json(api, run):
    proc = run("node", {"app.js": """
        exports.handler = async () => { console.debug('hidden'); console.warn('shown', 1); return null; };
    """}, "app.handler", env={"AWS_LAMBDA_LOG_LEVEL": "WARN", "AWS_LAMBDA_LOG_FORMAT": "JSON"})
    rid = api.add_event({})
    api.result(rid)
    line = wait_output(proc, r"^\{.*shown.*\}$").group(0)
    rec = json.loads(line)
    assert rec["level"] == "WARN" and rec["message"] == "shown 1" and rec["requestId"] == rid
    assert "hidden" not in proc.output()


@needs_node
def test_node_unhandled_rejection(api, run):
    proc = run("node", {"app.js": """
        exports.handler = async () => {
          Promise.reject(new Error('nobody caught me'));
          await new Promise((r) => setTimeout(r, 2000));
          return 'too late';
        };
    """}, "app.handler")
    rid = api.add_event({})
    res = api.result(rid)
    assert res.path.endswith("/error")
    body = res.json()
    assert body["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert body["errorMessage"] == "Error: nobody caught me"
    assert wait_exit(proc) == 128
    assert "Unhandled Promise Rejection" in proc.output()


@needs_node
def test_node_uncaught_exception(api, run):
    proc = run("node", {"app.js": """
        exports.handler = (event, context, callback) => {
          setTimeout(() => { throw new SyntaxError('async throw'); }, 10);
        };
    """}, "app.handler")
    rid = api.add_event({})
    body = api.result(rid).json()
    assert body["errorType"] == "SyntaxError" and body["errorMessage"] == "async throw"
    assert wait_exit(proc) == 129


@needs_node
def test_node_never_settled_promise(api, run):
    run("node", {"app.js": "exports.handler = async () => { await new Promise(() => {}); };\n"}, "app.handler")
    res = api.result(api.add_event({}))
    body = res.json()
    assert body["errorType"] == "Runtime.NodeJsExit"
    assert body["errorMessage"].startswith("The Lambda runtime client detected an unexpected Node.js exit code.")
    # and it keeps serving
    assert api.result(api.add_event({})).path.endswith("/error")


@needs_node
def test_node_unserializable_result(api, run):
    run("node", {"app.js": "exports.handler = async () => { const o = {}; o.o = o; return o; };\n"},
        "app.handler")
    body = api.result(api.add_event({})).json()
    assert (body["errorType"], body["errorMessage"]) == ("Error", "Unable to stringify response body")


@needs_node
def test_node_413_then_next_and_big_event(api, run):
    run("node", NODE_ECHO, "app.handler")
    rid = api.add_event({"n": 1})
    api.response_status[rid] = 413
    api.result(rid)
    big = {"data": "x" * (3 * 1024 * 1024)}
    res = api.result(api.add_event(big))
    assert json.loads(res.body) == big


@needs_node
def test_node_bad_event_json(api, run):
    run("node", NODE_ECHO, "app.handler")
    body = api.result(api.add_event(None, raw=b"{bad")).json()
    assert body["errorType"] == "SyntaxError"


@needs_node
def test_node_exits_when_api_fails(api, run):
    proc = run("node", NODE_ECHO, "app.handler")
    api.wait_for(lambda: api.gets(), what="GET next")
    api.closed = True
    assert wait_exit(proc) == 1


@needs_node
def test_node_uncaught_exception_after_response(api, run):
    # The GET /next for the following invocation is already pending when the
    # exception fires: the error report must not queue behind it.
    proc = run("node", {"app.js": """
        exports.handler = async () => {
          setTimeout(() => { throw new Error('after the response'); }, 100);
          return 'answered';
        };
    """}, "app.handler")
    rid = api.add_event({})
    assert api.result(rid).json() == "answered"
    assert wait_exit(proc) == 129
    errors = api.posts("/%s/error" % rid)
    assert errors and errors[0].json()["errorMessage"] == "after the response"
    assert re.search(r"\tERROR\tUncaught Exception \t\{\"errorType\":\"Error\",\"errorMessage\":\"after the response\"",
                     proc.output())


@needs_node
def test_node_async_init_failure(api, run):
    proc = run("node", {"app.js": """
        setTimeout(() => Promise.reject(new Error('late init failure')), 100);
        exports.handler = async () => 'never';
    """}, "app.handler")
    err = api.init_error()
    assert err.json()["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert err.json()["errorMessage"] == "Error: late init failure"
    assert wait_exit(proc) == 128


@pytest.mark.parametrize("kind", ["python", pytest.param("node", marks=needs_node)])
def test_reconnects_when_server_drops_idle_connection(api, run, kind):
    api.drop_connections = True
    run(kind, PY_ECHO if kind == "python" else NODE_ECHO, "app.handler")
    for i in range(3):
        rid = api.add_event({"i": i})
        assert api.result(rid).json() == {"i": i}
    # every request came on a fresh connection
    api.wait_for(lambda: len(api.gets()) >= 4, what="the 4th GET")
    assert len(api.connections()) >= 7
