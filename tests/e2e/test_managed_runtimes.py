"""Hako's managed runtimes (python3.11, nodejs20.x) behave like AWS's (issue 2, point 6).

Their runtime client is Hako's own, shipped inside the binary. A user deploys plain source in a zip,
exactly as for AWS, and sees AWS's behaviour: handler resolution (`module.function`, nested
packages, `file.export` for CommonJS and ES modules), the context object, errors turned into
errorType/errorMessage/stackTrace (trace for Node.js), init errors (Runtime.ImportModuleError,
Runtime.HandlerNotFound, Runtime.UserCodeSyntaxError, ...) and AWS's log line formats.
The behaviour the managed runtimes share with the official clients (echo, context, environment,
timeouts, exits, logs) is covered by test_runtime_clients.py.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import uuid
import zipfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import HAKO_BIN, ROLE, RUNTIMES_DIR, create_function, make_zip, unique_name

ISO_MS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"
CLIENT_CONTEXT = {
    "client": {"installation_id": "inst-1", "app_title": "My App", "app_version_name": "1.2.3",
               "app_version_code": "123", "app_package_name": "com.example.app"},
    "custom": {"tenant": "t-1", "n": 7},
    "env": {"platform": "Android", "locale": "de_DE"},
}


def deploy(client, runtime: str, handler: str, files: dict, **kw) -> str:
    name = unique_name(runtime.replace(".", "-"))
    create_function(client, name, runtime, handler, make_zip(files), **kw)
    return name


def invoke(client, name: str, payload=None, tail: bool = True, **kw):
    args = {"FunctionName": name, "Payload": json.dumps({} if payload is None else payload).encode(), **kw}
    if tail:
        args["LogType"] = "Tail"
    r = client.invoke(**args)
    raw = r["Payload"].read()
    log = base64.b64decode(r["LogResult"]).decode() if "LogResult" in r else ""
    return r, json.loads(raw), log


def ok(client, name, payload=None, **kw):
    r, body, log = invoke(client, name, payload, **kw)
    assert r["StatusCode"] == 200
    assert "FunctionError" not in r, f"FunctionError {r['FunctionError']}: {body}\n{log}"
    return body, log, r["ResponseMetadata"]["RequestId"]


def failed(client, name, error_type, payload=None, **kw):
    r, body, log = invoke(client, name, payload, **kw)
    assert r["StatusCode"] == 200
    assert r.get("FunctionError") == "Unhandled", (r.get("FunctionError"), body, log)
    assert body.get("errorType") == error_type, body
    assert isinstance(body.get("errorMessage"), str), body
    return body, log, r["ResponseMetadata"]["RequestId"]


def client_context_b64() -> str:
    return base64.b64encode(json.dumps(CLIENT_CONTEXT).encode()).decode()


# =============================================================================================
# Python
# =============================================================================================
PY = "python3.11"

PY_CONTEXT_APP = '''
import time

def handler(event, context):
    first = context.get_remaining_time_in_millis()
    time.sleep(0.3)
    second = context.get_remaining_time_in_millis()
    cc = context.client_context
    client = None
    if cc is not None and cc.client is not None:
        client = {k: getattr(cc.client, k) for k in
                  ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")}
    return {
        "first": first, "second": second,
        "client_context": None if cc is None else {"custom": cc.custom, "env": cc.env, "client": client},
        "identity": None if context.identity is None else [context.identity.cognito_identity_id,
                                                           context.identity.cognito_identity_pool_id],
        "request_id": context.aws_request_id,
    }
'''


@pytest.mark.parametrize("handler,files,expected_module", [
    pytest.param("app.handler", {"app.py": "def handler(event, context):\n    return {'mod': __name__, 'event': event}\n"},
                 "app", id="module.function"),
    pytest.param("pkg/sub/mod.handler",
                 {"pkg/__init__.py": "", "pkg/sub/__init__.py": "",
                  "pkg/sub/mod.py": "from pkg.sub import helper\n"
                                    "def handler(event, context):\n    return {'mod': __name__, 'event': event, 'h': helper.VALUE}\n",
                  "pkg/sub/helper.py": "VALUE = 'helped'\n"},
                 "pkg.sub.mod", id="slash-path"),
    pytest.param("pkg.sub.mod.handler",
                 {"pkg/sub/mod.py": "def handler(event, context):\n    return {'mod': __name__, 'event': event}\n"},
                 "pkg.sub.mod", id="dotted-namespace-package"),
    pytest.param("app.lambda_handler",
                 {"app.py": "import lib.util as u\n"
                            "def lambda_handler(event, context):\n    return {'mod': __name__, 'event': event, 'u': u.f()}\n",
                  "lib/util.py": "def f():\n    return 'from lib'\n"},
                 "app", id="imports-from-task-root"),
])
def test_python_handler_resolution(lambda_client, handler, files, expected_module):
    name = deploy(lambda_client, PY, handler, files)
    body, _, _ = ok(lambda_client, name, {"k": [1, 2]})
    assert body["mod"] == expected_module
    assert body["event"] == {"k": [1, 2]}
    if "h" in body:
        assert body["h"] == "helped"
    if "u" in body:
        assert body["u"] == "from lib"


@pytest.mark.parametrize("handler,files,error_type,message", [
    pytest.param("nope.handler", {"app.py": "def handler(e, c):\n    return 1\n"},
                 "Runtime.ImportModuleError", "Unable to import module 'nope': No module named 'nope'",
                 id="missing-module"),
    pytest.param("app.missing", {"app.py": "def handler(e, c):\n    return 1\n"},
                 "Runtime.HandlerNotFound", "Handler 'missing' missing on module 'app'", id="missing-handler"),
    pytest.param("app", {"app.py": "def handler(e, c):\n    return 1\n"},
                 "Runtime.MalformedHandlerName", "Bad handler 'app': not enough values to unpack (expected 2, got 1)",
                 id="malformed-handler"),
    pytest.param("app.handler", {"app.py": "import no_such_dependency\ndef handler(e, c):\n    return 1\n"},
                 "Runtime.ImportModuleError", "Unable to import module 'app': No module named 'no_such_dependency'",
                 id="missing-dependency"),
])
def test_python_init_errors(lambda_client, handler, files, error_type, message):
    name = deploy(lambda_client, PY, handler, files)
    body, log, _ = failed(lambda_client, name, error_type)
    assert body["errorMessage"] == message
    assert body.get("stackTrace") == [], body
    # The runtime logs the error as awslambdaric does.
    assert f"[ERROR] {error_type}: {message}" in log, log


def test_python_syntax_error(lambda_client):
    name = deploy(lambda_client, PY, "app.handler", {"app.py": "def handler(event, context):\n    return (\n"})
    body, _, _ = failed(lambda_client, name, "Runtime.UserCodeSyntaxError")
    assert body["errorMessage"].startswith("Syntax error in module 'app': "), body
    assert "(app.py, line 2)" in body["errorMessage"], body
    assert any("app.py" in t for t in body["stackTrace"]), body


def test_python_exception(lambda_client):
    app = ("class PaymentDeclined(ValueError):\n    pass\n\n"
           "def charge(amount):\n    raise PaymentDeclined(f'declined: {amount}')\n\n"
           "def handler(event, context):\n    return charge(event['amount'])\n")
    name = deploy(lambda_client, PY, "app.handler", {"app.py": app})
    body, log, request_id = failed(lambda_client, name, "PaymentDeclined", {"amount": 42})
    assert body["errorMessage"] == "declined: 42"
    assert body["requestId"] == request_id
    trace = body["stackTrace"]
    assert isinstance(trace, list) and len(trace) == 2, trace
    assert 'app.py", line 8, in handler' in trace[0], trace
    assert 'app.py", line 5, in charge' in trace[1], trace
    assert "[ERROR] PaymentDeclined: declined: 42" in log, log
    # A handled exception leaves the sandbox serving; a KeyError names itself.
    body, _, _ = failed(lambda_client, name, "KeyError", {})
    assert body["errorMessage"] == "'amount'"


def test_python_unserializable_result(lambda_client):
    name = deploy(lambda_client, PY, "app.handler", {"app.py": "def handler(e, c):\n    return {1, 2}\n"})
    body, _, _ = failed(lambda_client, name, "Runtime.MarshalError")
    assert body["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable", body


def test_python_return_values(lambda_client):
    app = ("def handler(event, context):\n"
           "    return {'none': None, 'str': 'x', 'tuple': (1, 2), 'nested': [{'a': 1.5}]}[event['k']]\n")
    name = deploy(lambda_client, PY, "app.handler", {"app.py": app})
    assert ok(lambda_client, name, {"k": "none"})[0] is None
    assert ok(lambda_client, name, {"k": "str"})[0] == "x"
    assert ok(lambda_client, name, {"k": "tuple"})[0] == [1, 2]
    assert ok(lambda_client, name, {"k": "nested"})[0] == [{"a": 1.5}]


def test_python_print_and_logging(lambda_client):
    marker = uuid.uuid4().hex
    app = (
        "import logging, sys\n"
        "logger = logging.getLogger()\n"
        "logger.setLevel(logging.INFO)\n"
        "def handler(event, context):\n"
        f"    print('print-{marker}')\n"
        f"    print('stderr-{marker}', file=sys.stderr)\n"
        f"    logger.info('info-{marker}')\n"
        f"    logging.getLogger('app.sub').warning('warn-%s', '{marker}')\n"
        f"    logger.debug('debug-{marker}')\n"
        "    return 'ok'\n")
    name = deploy(lambda_client, PY, "app.handler", {"app.py": app})
    _, log, request_id = ok(lambda_client, name)
    lines = log.splitlines()
    assert f"print-{marker}" in lines, log
    assert f"stderr-{marker}" in lines, log
    # awslambdaric's format: [LEVEL]\t<timestamp>\t<request id>\t<message>
    assert any(re.fullmatch(rf"\[INFO\]\t{ISO_MS}\t{request_id}\tinfo-{marker}", line) for line in lines), log
    assert any(re.fullmatch(rf"\[WARNING\]\t{ISO_MS}\t{request_id}\twarn-{marker}", line) for line in lines), log
    assert f"debug-{marker}" not in log, "DEBUG is below the level the function set"
    # Ordered within the invocation: START, the function's lines, END.
    start = lines.index(f"START RequestId: {request_id} Version: $LATEST")
    end = lines.index(f"END RequestId: {request_id}")
    assert start < lines.index(f"print-{marker}") < end


def test_python_logging_default_level_is_warning(lambda_client):
    marker = uuid.uuid4().hex
    app = ("import logging\n"
           "def handler(event, context):\n"
           f"    logging.info('info-{marker}')\n"
           f"    logging.warning('warn-{marker}')\n"
           "    return 'ok'\n")
    name = deploy(lambda_client, PY, "app.handler", {"app.py": app})
    _, log, request_id = ok(lambda_client, name)
    assert f"info-{marker}" not in log, log
    assert re.search(rf"^\[WARNING\]\t{ISO_MS}\t{request_id}\twarn-{marker}$", log, re.M), log


def test_python_context_methods_and_client_context(lambda_client):
    name = deploy(lambda_client, PY, "app.handler", {"app.py": PY_CONTEXT_APP}, Timeout=5)
    body, _, request_id = ok(lambda_client, name, ClientContext=client_context_b64())
    assert body["request_id"] == request_id
    assert 4000 < body["first"] <= 5000, body
    assert body["first"] - body["second"] >= 250, body  # the clock runs down while the handler works
    assert body["client_context"] == {"custom": CLIENT_CONTEXT["custom"], "env": CLIENT_CONTEXT["env"],
                                      "client": CLIENT_CONTEXT["client"]}
    assert body["identity"] is None or body["identity"] == [None, None], body
    # Without a ClientContext, context.client_context is None.
    body, _, _ = ok(lambda_client, name)
    assert body["client_context"] is None


def test_python_cwd_and_sys_path(lambda_client):
    app = ("import os, sys\n"
           "def handler(event, context):\n"
           "    return {'cwd': os.getcwd(), 'root': os.environ['LAMBDA_TASK_ROOT'], 'path': sys.path,\n"
           "            'files': sorted(os.listdir('.'))}\n")
    name = deploy(lambda_client, PY, "app.handler", {"app.py": app, "data/config.json": "{}"})
    body, _, _ = ok(lambda_client, name)
    assert body["cwd"] == body["root"], body
    assert body["root"] in body["path"], body
    assert body["files"] == ["app.py", "data"], body


def test_python_init_code_runs_once_per_sandbox(lambda_client):
    app = ("import time\nLOADED = time.time()\nCOUNT = 0\n"
           "def handler(event, context):\n    global COUNT\n    COUNT += 1\n    return [LOADED, COUNT]\n")
    name = deploy(lambda_client, PY, "app.handler", {"app.py": app})
    a = ok(lambda_client, name)[0]
    b = ok(lambda_client, name)[0]
    assert a[0] == b[0] and [a[1], b[1]] == [1, 2], (a, b)


# =============================================================================================
# Node.js
# =============================================================================================
NODE = "nodejs20.x"

NODE_CONTEXT_APP = '''
exports.handler = async (event, context) => {
  const first = context.getRemainingTimeInMillis();
  await new Promise((r) => setTimeout(r, 300));
  const second = context.getRemainingTimeInMillis();
  return {
    first, second,
    clientContext: context.clientContext ?? null,
    requestId: context.awsRequestId,
    functionName: context.functionName,
    memoryLimitInMB: context.memoryLimitInMB,
    callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
  };
};
'''


@pytest.mark.parametrize("handler,files,expected", [
    pytest.param("index.handler",
                 {"index.js": "exports.handler = async (event) => ({kind: 'cjs', event});\n"},
                 "cjs", id="commonjs-js"),
    pytest.param("index.handler",
                 {"index.mjs": "export const handler = async (event) => ({kind: 'esm', event});\n"},
                 "esm", id="esm-mjs"),
    pytest.param("index.handler",
                 {"index.js": "export const handler = async (event) => ({kind: 'esm-type-module', event});\n",
                  "package.json": '{"type": "module"}'},
                 "esm-type-module", id="esm-js-type-module"),
    pytest.param("index.handler",
                 {"index.cjs": "module.exports.handler = async (event) => ({kind: 'cjs-ext', event});\n"},
                 "cjs-ext", id="commonjs-cjs"),
    pytest.param("src/handlers/orders.create",
                 {"src/handlers/orders.js": "const {kind} = require('../lib/kind');\n"
                                            "exports.create = async (event) => ({kind, event});\n",
                  "src/lib/kind.js": "exports.kind = 'nested';\n"},
                 "nested", id="nested-dir"),
    pytest.param("index.handler",
                 {"index.js": "exports.handler = (event, context, callback) => {\n"
                              "  setTimeout(() => callback(null, {kind: 'callback', event}), 10);\n};\n"},
                 "callback", id="callback-handler"),
    pytest.param("index.handler",
                 {"index.js": "exports.handler = (event) => Promise.resolve({kind: 'promise', event});\n"},
                 "promise", id="promise-returning"),
])
def test_node_handler_resolution(lambda_client, handler, files, expected):
    name = deploy(lambda_client, NODE, handler, files)
    body, _, _ = ok(lambda_client, name, {"k": [1, 2]})
    assert body == {"kind": expected, "event": {"k": [1, 2]}}


@pytest.mark.parametrize("handler,files,error_type,fragment", [
    pytest.param("nope.handler", {"index.js": "exports.handler = async () => 1;\n"},
                 "Runtime.ImportModuleError", "Error: Cannot find module 'nope'", id="missing-module"),
    pytest.param("index.missing", {"index.js": "exports.handler = async () => 1;\n"},
                 "Runtime.HandlerNotFound", "index.missing is undefined or not exported", id="missing-handler"),
    pytest.param("index.handler", {"index.js": "exports.handler = async () => { return 1 +; };\n"},
                 "Runtime.UserCodeSyntaxError", "SyntaxError: Unexpected token", id="syntax-error"),
    pytest.param("index.handler", {"index.js": "require('left-pad');\nexports.handler = async () => 1;\n"},
                 "Runtime.ImportModuleError", "Cannot find module 'left-pad'", id="missing-dependency"),
    pytest.param("index", {"index.js": "exports.handler = async () => 1;\n"},
                 "Runtime.MalformedHandlerName", "Bad handler", id="malformed-handler"),
])
def test_node_init_errors(lambda_client, handler, files, error_type, fragment):
    name = deploy(lambda_client, NODE, handler, files)
    body, _, _ = failed(lambda_client, name, error_type)
    assert fragment in body["errorMessage"], body
    assert isinstance(body.get("trace"), list), body
    assert body["trace"][0].startswith(error_type), body


def test_node_thrown_errors(lambda_client):
    app = ("class PaymentDeclined extends Error {\n"
           "  constructor(m) { super(m); this.name = 'PaymentDeclined'; }\n}\n"
           "exports.handler = async (event) => {\n"
           "  if (event.kind === 'type') null.x;\n"
           "  if (event.kind === 'custom') throw new PaymentDeclined(`declined: ${event.amount}`);\n"
           "  if (event.kind === 'callback') return new Promise((_, reject) => reject(new RangeError('out of range')));\n"
           "  return 'fine';\n};\n")
    name = deploy(lambda_client, NODE, "index.handler", {"index.js": app})
    body, log, request_id = failed(lambda_client, name, "PaymentDeclined", {"kind": "custom", "amount": 42})
    assert body["errorMessage"] == "declined: 42"
    assert body["trace"][0] == "PaymentDeclined: declined: 42", body
    assert any("index.js" in t for t in body["trace"]), body
    # aws-lambda-ric logs the error with the request id.
    assert re.search(rf"^{ISO_MS}\t{request_id}\tERROR\tInvoke Error \t", log, re.M), log
    body, _, _ = failed(lambda_client, name, "TypeError", {"kind": "type"})
    assert "Cannot read properties of null" in body["errorMessage"], body
    body, _, _ = failed(lambda_client, name, "RangeError", {"kind": "callback"})
    assert body["errorMessage"] == "out of range"
    assert ok(lambda_client, name, {"kind": "none"})[0] == "fine"


def test_node_callback_error_and_non_error_throw(lambda_client):
    app = ("exports.handler = (event, context, callback) => {\n"
           "  if (event.kind === 'cb') return callback(new Error('cb-err'));\n"
           "  if (event.kind === 'string') return callback('just a string');\n"
           "  callback(null, {done: true});\n};\n")
    name = deploy(lambda_client, NODE, "index.handler", {"index.js": app})
    body, _, _ = failed(lambda_client, name, "Error", {"kind": "cb"})
    assert body["errorMessage"] == "cb-err"
    body, _, _ = failed(lambda_client, name, "string", {"kind": "string"})
    assert body["errorMessage"] == "just a string"
    assert ok(lambda_client, name, {})[0] == {"done": True}


def test_node_console_format(lambda_client):
    marker = uuid.uuid4().hex
    app = ("exports.handler = async () => {\n"
           f"  console.log('log-{marker}', {{a: 1}});\n"
           f"  console.info('info-{marker}');\n"
           f"  console.warn('warn-{marker}');\n"
           f"  console.error('error-{marker}');\n"
           f"  console.debug('debug-{marker}');\n"
           f"  process.stdout.write('raw-{marker}\\n');\n"
           "  return 'ok';\n};\n")
    name = deploy(lambda_client, NODE, "index.handler", {"index.js": app})
    _, log, request_id = ok(lambda_client, name)
    lines = log.splitlines()
    for level, text in (("INFO", f"log-{marker} {{ a: 1 }}"), ("INFO", f"info-{marker}"),
                        ("WARN", f"warn-{marker}"), ("ERROR", f"error-{marker}"), ("DEBUG", f"debug-{marker}")):
        pattern = rf"{ISO_MS}\t{request_id}\t{level}\t{re.escape(text)}"
        assert any(re.fullmatch(pattern, line) for line in lines), f"no line {pattern!r} in:\n{log}"
    assert f"raw-{marker}" in lines, log


def test_node_context_methods_and_client_context(lambda_client):
    name = deploy(lambda_client, NODE, "index.handler", {"index.js": NODE_CONTEXT_APP}, Timeout=5, MemorySize=512)
    body, _, request_id = ok(lambda_client, name, ClientContext=client_context_b64())
    assert body["requestId"] == request_id
    assert body["functionName"] == name
    assert str(body["memoryLimitInMB"]) == "512"
    assert body["callbackWaitsForEmptyEventLoop"] is True
    assert 4000 < body["first"] <= 5000, body
    assert body["first"] - body["second"] >= 250, body
    assert body["clientContext"] == CLIENT_CONTEXT
    body, _, _ = ok(lambda_client, name)
    assert body["clientContext"] is None


def test_node_module_state_survives_between_invocations(lambda_client):
    app = "let count = 0;\nconst loaded = Date.now();\nexports.handler = async () => [loaded, ++count];\n"
    name = deploy(lambda_client, NODE, "index.handler", {"index.js": app})
    a = ok(lambda_client, name)[0]
    b = ok(lambda_client, name)[0]
    assert a[0] == b[0] and [a[1], b[1]] == [1, 2], (a, b)


def test_node_cwd_is_task_root(lambda_client):
    app = ("const fs = require('fs');\n"
           "exports.handler = async () => ({cwd: process.cwd(), root: process.env.LAMBDA_TASK_ROOT,\n"
           "  config: JSON.parse(fs.readFileSync('data/config.json', 'utf8'))});\n")
    name = deploy(lambda_client, NODE, "index.handler", {"index.js": app, "data/config.json": '{"x": 1}'})
    body, _, _ = ok(lambda_client, name)
    assert body["cwd"] == body["root"], body
    assert body["config"] == {"x": 1}


# =============================================================================================
# Runtimes the host offers
# =============================================================================================
def hako_runtimes(runtimes_dir: Path | None = None) -> dict[str, tuple[str, str]]:
    """`hako runtimes`: {name: (state, detail)}."""
    args = [str(HAKO_BIN), "runtimes"]
    if runtimes_dir is not None:
        args += ["--runtimes-dir", str(runtimes_dir)]
    p = subprocess.run(args, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    out = {}
    for line in p.stdout.decode().splitlines()[1:]:
        m = re.match(r"(\S+)\s+(built in|installed \S+|not installed|unavailable)\s+(.*)", line)
        assert m, line
        out[m[1]] = (m[2], m[3])
    return out


def test_hako_runtimes_lists_the_managed_runtimes(tmp_path):
    found = hako_runtimes(RUNTIMES_DIR)
    for name in ("provided.al2", "provided.al2023"):
        assert found[name][0] == "built in", found
    # A deprecated runtime is not offered: AWS refuses it for a new function (test_errors.py).
    assert "provided" not in found and "python3.7" not in found, found
    # What conftest installed, with the interpreter's version and the SDK.
    assert re.fullmatch(r"installed 3\.11\.\d+", found["python3.11"][0]), found["python3.11"]
    assert "boto3" in found["python3.11"][1], found["python3.11"]
    for name, major in (("nodejs20.x", 20), ("nodejs22.x", 22)):
        assert re.fullmatch(rf"installed {major}\.\d+\.\d+", found[name][0]), found[name]
        assert "@aws-sdk" in found[name][1], found[name]
    # An empty runtimes directory: nothing installed, and each says how it would be.
    empty = hako_runtimes(tmp_path)
    assert empty["python3.11"][0] == "not installed", empty
    assert "hako runtimes install python3.11" in empty["python3.11"][1], empty
    assert empty["provided.al2023"][0] == "built in"


def test_unknown_runtime_is_rejected(lambda_client):
    name = unique_name("bad-runtime")
    with pytest.raises(ClientError) as e:
        lambda_client.create_function(FunctionName=name, Runtime="python3.99", Role=ROLE, Handler="app.handler",
                                      Code={"ZipFile": make_zip({"app.py": "def handler(e, c): return 1\n"})})
    err = e.value.response["Error"]
    # An unknown runtime is Lambda's own InvalidParameterValueException (the exact message is
    # asserted in test_errors.py, from AWS-recorded responses).
    assert err["Code"] == "InvalidParameterValueException", err
    assert "python3.99" in err["Message"] and "runtime" in err["Message"], err
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as e:
        lambda_client.get_function(FunctionName=name)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_runtime_not_installed_is_rejected_with_the_install_command(lambda_client):
    found = hako_runtimes(RUNTIMES_DIR)
    missing = next((r for r in ("python3.12", "python3.13", "python3.10", "nodejs24.x", "nodejs18.x")
                    if not found.get(r, ("",))[0].startswith("installed")), None)
    if missing is None:
        pytest.skip("every candidate runtime is installed")
    name = unique_name("no-interp")
    with pytest.raises(ClientError) as e:
        lambda_client.create_function(FunctionName=name, Runtime=missing, Role=ROLE, Handler="app.handler",
                                      Code={"ZipFile": make_zip({"app.py": "x = 1\n"})})
    err = e.value.response["Error"]
    # AWS's error type for a runtime it cannot run (InvalidParameterValueException), naming the
    # command that installs it.
    assert err["Code"] == "InvalidParameterValueException", err
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert f"hako runtimes install {missing}" in err["Message"], err
    with pytest.raises(ClientError) as e:
        lambda_client.get_function(FunctionName=name)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # The same for UpdateFunctionConfiguration of an existing function.
    existing = deploy(lambda_client, PY, "app.handler", {"app.py": "def handler(e, c):\n    return 1\n"})
    with pytest.raises(ClientError) as e:
        lambda_client.update_function_configuration(FunctionName=existing, Runtime=missing)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert f"hako runtimes install {missing}" in e.value.response["Error"]["Message"]


# =============================================================================================
# The runtimes' own environment: the AWS SDK inside, nothing of the host, AWS's variables
# =============================================================================================
# Whether functions run in the linux sandbox (which shows AWS's paths and hides the host); the
# process backend confines nothing (README).
LINUX = os.environ.get("HAKO_SANDBOX", "auto") != "process" and os.geteuid() == 0
# Host places no function may see: the host's Python and Node.js packages, the home directories.
HOST_PLACES = ["/usr/lib/python3/dist-packages", "/usr/lib/node_modules", "/usr/local/lib/node_modules",
               "/root", "/home"] + [str(p) for p in Path("/usr/local/lib").glob("python3*")]
# AWS's values (recorded in functions' environments on AWS, and AWS's base images,
# aws/aws-lambda-base-images: ENV PATH, LD_LIBRARY_PATH, LAMBDA_TASK_ROOT, LAMBDA_RUNTIME_DIR;
# AWS Lambda developer guide, "Defined runtime environment variables").
AWS_ENV = {
    "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
    "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
    "LAMBDA_TASK_ROOT": "/var/task",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
}

PY_INSPECT = """
import json, os, sys

def listing(p):
    try:
        return sorted(os.listdir(p))
    except OSError as e:
        return e.__class__.__name__

def handler(event, context):
    import boto3
    names = []
    for page in boto3.client("lambda").get_paginator("list_functions").paginate():
        names += [f["FunctionName"] for f in page["Functions"]]
    host = {}
    for m in ("yaml", "awscli", "requests", "apt"):
        try:
            __import__(m)
            host[m] = "imported"
        except ImportError:
            host[m] = "missing"
    return {"names": names, "boto3": boto3.__file__, "boto3_version": boto3.__version__,
            "path": sys.path, "prefix": sys.prefix, "executable": sys.executable,
            "user_site": __import__("site").ENABLE_USER_SITE, "host_modules": host,
            "places": {p: listing(p) for p in event["places"]}, "env": dict(os.environ)}
"""


def test_python_imports_boto3_unpackaged_and_sees_nothing_of_the_host(lambda_client):
    name = deploy(lambda_client, PY, "app.handler", {"app.py": PY_INSPECT}, Timeout=30, MemorySize=1024)
    body, _, _ = ok(lambda_client, name, {"places": HOST_PLACES})
    # boto3 comes with the runtime and calls Hako (AWS_ENDPOINT_URL_LAMBDA, set by Hako).
    assert name in body["names"], body["names"]
    assert body["boto3_version"] == "1.44.18", body
    # Nothing of the host's Python: no site-packages, no user site.
    assert body["host_modules"] == {m: "missing" for m in ("yaml", "awscli", "requests", "apt")}, body
    assert body["user_site"] is False, body
    assert not any("dist-packages" in p or "/root" in p or "/home" in p or "/usr/local" in p
                   for p in body["path"]), body["path"]
    env = body["env"]
    if not LINUX:
        # The process backend: the runtime's own interpreter and packages, at host paths.
        assert body["boto3"].startswith(str(RUNTIMES_DIR / "python3.11" / "lang")), body["boto3"]
        return
    # AWS's layout and sys.path: the task root, the layers' paths, /var/runtime, the standard
    # library, the runtime's site-packages (boto3's) last.
    assert body["boto3"] == "/var/lang/lib/python3.11/site-packages/boto3/__init__.py", body
    assert body["executable"] == "/var/lang/bin/python3.11" and body["prefix"] == "/var/lang", body
    assert body["path"][:4] == ["/var/task", "/opt/python/lib/python3.11/site-packages", "/opt/python",
                                "/var/runtime"], body["path"]
    assert body["path"][-1] == "/var/lang/lib/python3.11/site-packages", body["path"]
    assert all(p.startswith(("/var/", "/opt/", "/usr/lib/python3.11", "/usr/lib/python311.zip"))
               for p in body["path"]), body["path"]
    for place, seen in body["places"].items():
        assert seen in ([], "FileNotFoundError"), (place, seen)
    for k, v in {**AWS_ENV, "PYTHONPATH": "/var/runtime", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11"}.items():
        assert env.get(k) == v, (k, env.get(k))


NODE_INSPECT = """
import { LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);

function listing(p) {
  try { return readdirSync(p).sort(); } catch (e) { return e.code; }
}

export const handler = async (event) => {
  const out = await new LambdaClient({}).send(new ListFunctionsCommand({}));
  const resolve = {};
  for (const m of ['npm', 'corepack', '@aws-sdk/client-s3', '@aws-sdk/client-dynamodb', '@aws-sdk/credential-providers']) {
    try { resolve[m] = require.resolve(m); } catch (e) { resolve[m] = e.code; }
  }
  const cjs = require('@aws-sdk/client-lambda');
  return {
    names: out.Functions.map((f) => f.FunctionName), resolve, cjs: typeof cjs.LambdaClient,
    version: process.version, places: Object.fromEntries(event.places.map((p) => [p, listing(p)])),
    env: process.env,
  };
};
"""


@pytest.mark.parametrize("runtime", ["nodejs20.x", "nodejs22.x"])
def test_node_imports_the_aws_sdk_unpackaged_and_sees_nothing_of_the_host(lambda_client, runtime):
    name = deploy(lambda_client, runtime, "index.handler", {"index.mjs": NODE_INSPECT}, Timeout=30, MemorySize=1024)
    body, _, _ = ok(lambda_client, name, {"places": HOST_PLACES})
    # The SDK v3 comes with the runtime (ES module import and require) and calls Hako.
    assert name in body["names"], body
    assert body["cjs"] == "function", body
    major = runtime.removeprefix("nodejs").removesuffix(".x")
    assert body["version"].startswith(f"v{major}."), body
    # Nothing of the host's global node_modules.
    assert body["resolve"]["npm"] == "MODULE_NOT_FOUND" and body["resolve"]["corepack"] == "MODULE_NOT_FOUND", body
    env = body["env"]
    if not LINUX:
        return
    for m in ("@aws-sdk/client-s3", "@aws-sdk/client-dynamodb", "@aws-sdk/credential-providers"):
        assert body["resolve"][m].startswith(f"/var/runtime/node_modules/{m}/"), body["resolve"]
    for place, seen in body["places"].items():
        assert seen in ([], "ENOENT"), (place, seen)
    node_path = (f"/opt/nodejs/node{major}/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:"
                 "/var/runtime:/var/task")
    for k, v in {**AWS_ENV, "NODE_PATH": node_path, "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
                 "NODE_EXTRA_CA_CERTS": "/var/runtime/ca-cert.pem"}.items():
        assert env.get(k) == v, (k, env.get(k))


def test_node_es_module_imports_a_layer_package(lambda_client):
    # AWS: "Starting with Node.js 18, Lambda searches folders in the NODE_PATH environment
    # variable when loading ES modules ... You can also load ES modules from layers" (Lambda
    # developer guide, lambda-nodejs.html, "Designating a function handler as an ES module").
    pkg = {"nodejs/node_modules/greeter/package.json": json.dumps({"name": "greeter", "type": "module",
                                                                   "exports": "./index.js"}),
           "nodejs/node_modules/greeter/index.js": "export default (n) => `hello ${n}`;\n",
           "nodejs/node20/node_modules/cjs-greeter/index.js": "module.exports = (n) => `hi ${n}`;\n"}
    layer = lambda_client.publish_layer_version(LayerName=unique_name("esm-layer"),
                                                Content={"ZipFile": make_zip(pkg)})["LayerVersionArn"]
    app = ("import greet from 'greeter';\nimport hi from 'cjs-greeter';\n"
           "export const handler = async () => [greet('esm'), hi('cjs')];\n")
    name = deploy(lambda_client, "nodejs20.x", "index.handler", {"index.mjs": app}, Layers=[layer])
    body, _, _ = ok(lambda_client, name)
    assert body == ["hello esm", "hi cjs"], body
    # A package found nowhere still fails as it does on AWS: ERR_MODULE_NOT_FOUND.
    bad = deploy(lambda_client, "nodejs20.x", "index.handler",
                 {"index.mjs": "import x from 'no-such-package';\nexport const handler = async () => x;\n"},
                 Layers=[layer])
    r, body, _ = invoke(lambda_client, bad)
    assert r.get("FunctionError") == "Unhandled", body
    assert "no-such-package" in body["errorMessage"], body


@pytest.mark.skipif(not LINUX or bool(os.environ.get("HAKO_TEST_RUN_AS")),
                    reason="only the linux backend as root runs functions as a user that does not own "
                           "the package's files (rootless maps the sandbox user onto Hako's own)")
@pytest.mark.parametrize("runtime,handler,filename,source", [
    ("python3.11", "app.handler", "app.py", "def handler(e, c):\n    return 1\n"),
    ("nodejs20.x", "index.handler", "index.js", "exports.handler = async () => 1;\n"),
])
def test_unreadable_package_file_says_what_to_fix(lambda_client, runtime, handler, filename, source):
    # zipfile.writestr with a plain name stores mode 0600: the sandbox user cannot read the file
    # (AWS fails the same way, with Runtime.ImportModuleError for Python).
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(filename, source)
    name = unique_name(runtime.replace(".", "-"))
    create_function(lambda_client, name, runtime, handler, buf.getvalue())
    body, log, _ = failed(lambda_client, name, "Runtime.ImportModuleError")
    assert f"/var/task/{filename}" in body["errorMessage"], body
    assert "ermission denied" in body["errorMessage"] or "EACCES" in body["errorMessage"], body
    assert "readable by all users" in body["errorMessage"] and "0644" in body["errorMessage"], body
