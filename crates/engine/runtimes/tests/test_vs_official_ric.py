"""Differential tests: Hako's runtime clients against AWS's official ones.

Opt-in; skipped unless the official clients are available:
  HAKO_OFFICIAL_PY_RIC    a directory holding the awslambdaric package (with its
                          native runtime_client and simplejson), put on PYTHONPATH
                          and run as `python -m awslambdaric <handler>`
  HAKO_OFFICIAL_NODE_RIC  aws-lambda-ric's bin/index.mjs (npm package, built)

Each case runs the same function under both clients against the in-test
Runtime API and compares what they post (path, body, error type) and what they
log, after normalizing timestamps, the task directory and stack frames that
belong to the runtimes themselves.

Known, deliberate differences are not exercised here: Hako's clients also send
Lambda-Runtime-Function-Error-Type with invocation errors (the official ones
only with init errors), the official Node client prints an "Executing ..."
line at start, and Hako's Node client reports a never-settling async handler
as Runtime.NodeJsExit (newer aws-lambda-ric) where 3.x answers null.
"""

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_runtime_api import NODE_CLIENT, PYTHON_CLIENT, FakeRuntimeAPI, node_binary, python_binary  # noqa: E402

PY_RIC = os.environ.get("HAKO_OFFICIAL_PY_RIC")
NODE_RIC = os.environ.get("HAKO_OFFICIAL_NODE_RIC")

TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?")


def run_client(kind, official, task, handler, events, env):
    api = FakeRuntimeAPI()
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(task),
        "AWS_LAMBDA_FUNCTION_NAME": "fn",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
        "AWS_LAMBDA_LOG_STREAM_NAME": "stream",
        "AWS_REGION": "us-east-1",
        "PYTHONUNBUFFERED": "1",
    }
    full_env.update(env or {})
    if kind == "python":
        if official:
            full_env["PYTHONPATH"] = PY_RIC
            cmd = [python_binary(), "-m", "awslambdaric", handler]
        else:
            cmd = [python_binary(), str(PYTHON_CLIENT)]
    else:
        cmd = [node_binary(), NODE_RIC, handler] if official else [node_binary(), str(NODE_CLIENT)]
    log_path = task.parent / ("%s-%s.log" % (kind, "official" if official else "hako"))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=str(task), env=full_env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        try:
            posts = []
            for i, ev in enumerate(events):
                api.add_event(ev.get("payload"), request_id="req-%d" % i, **ev.get("kw", {}))
                found = api.wait_for(
                    lambda: api.posts()[len(posts):] or (proc.poll() is not None and ["exit"]),
                    timeout=10, what="a post")
                if found == ["exit"]:
                    break
                posts.append(found[0])
            if not events:
                api.wait_for(lambda: api.posts() or proc.poll() is not None, timeout=10, what="an init error")
                posts = api.posts()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
            time.sleep(0.1)
            rc = proc.poll()
        finally:
            proc.kill()
            proc.wait()
            api.close()
    return posts, rc, log_path.read_bytes().decode("utf-8", "replace")


def _filter_stacks(obj, task):
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in ("trace", "stack", "stackTrace") and isinstance(v, list):
                v = [x for i, x in enumerate(v) if (i == 0 and not str(x).startswith("  File")) or "<TASK>" in str(x)]
            out[k] = _filter_stacks(v, task)
        return out
    if isinstance(obj, list):
        return [_filter_stacks(x, task) for x in obj]
    return obj


# the clients' own files (they show up in Node's "Require stack")
RUNTIME_FILES = [str(NODE_CLIENT), str(PYTHON_CLIENT)]
if NODE_RIC:
    _ric_index = os.path.join(os.path.dirname(os.path.dirname(NODE_RIC)), "dist", "index.mjs")
    # Node names modules by their real path (a symlinked node_modules shows its target).
    RUNTIME_FILES += [_ric_index, os.path.realpath(_ric_index)]


def _norm_text(s, task):
    s = s.replace(str(task), "<TASK>")
    for f in RUNTIME_FILES:
        s = s.replace(f, "<RUNTIME>")
    return TS.sub("<TS>", s)


def _norm_json(text, task):
    try:
        return _filter_stacks(json.loads(_norm_text(text, task)), task)
    except ValueError:
        return _norm_text(text, task)


def _norm_log(out, task):
    lines = []
    for line in out.splitlines():
        if line.startswith("Executing '"):
            continue
        line = _norm_text(line, task)
        m = re.match(r"^(.*?)(\{.*\})$", line)
        if m:
            try:
                line = m.group(1) + json.dumps(_filter_stacks(json.loads(m.group(2)), task))
            except ValueError:
                pass
        lines.append(line)
    return lines


def _norm_post(req, task):
    kind = req.path.rsplit("/", 1)[-1]
    return {
        "kind": kind,
        "content-type": req.headers.get("content-type"),
        "body": _norm_json(req.body.decode("utf-8", "replace"), task),
    }


def compare(tmp_path, kind, files, handler, events, env=None):
    results = {}
    for official in (True, False):
        task = tmp_path / ("official" if official else "hako") / "task"
        task.mkdir(parents=True)
        for name, content in files.items():
            p = task / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(textwrap.dedent(content).lstrip("\n"))
        posts, rc, out = run_client(kind, official, task, handler, events, env)
        results[official] = {
            "posts": [_norm_post(p, task) for p in posts],
            "error-types": [p.headers.get("lambda-runtime-function-error-type") for p in posts],
            "rc": rc,
            "log": _norm_log(out, task),
        }
    off, hako = results[True], results[False]
    assert hako["posts"] == off["posts"]
    assert hako["rc"] == off["rc"]
    assert hako["log"] == off["log"]
    for mine, theirs in zip(hako["error-types"], off["error-types"]):
        if theirs is not None:
            assert mine == theirs


E1 = [{"payload": {"a": 1, "s": "h\u00e9"}}]

PY_CASES = {
    "echo": ({"app.py": "def handler(e, c):\n    return e\n"}, "app.handler", E1 + [{"payload": None}]),
    "exception-and-logging": ({"app.py": """
        import logging
        logging.getLogger().warning("at init")
        logging.getLogger().setLevel(logging.INFO)
        def helper():
            raise ValueError("boom")
        def handler(e, c):
            logging.info("hi %s", 1)
            print("printed")
            c.log("via context\\n")
            helper()
    """}, "app.handler", E1),
    "missing-module": ({}, "nope.handler", []),
    "missing-dependency": ({"app.py": "import notthere\n"}, "app.handler", []),
    "missing-handler": ({"app.py": "x = 1\n"}, "app.nope", []),
    "malformed": ({"app.py": "x = 1\n"}, "app", []),
    "syntax-error": ({"app.py": "def handler(e, c)\n    return 1\n"}, "app.handler", []),
    "raises-at-import": ({"app.py": "x = 1\nraise RuntimeError('init failed')\n"}, "app.handler", []),
    "builtin-module": ({}, "sys.handler", []),
    "nested": ({"pkg/sub/mod.py": "def handler(e, c):\n    return __name__\n"}, "pkg/sub/mod.handler", E1),
    "context": ({"app.py": """
        def handler(e, c):
            return [repr(c).split(",invoked_function_arn")[0], repr(c.client_context), repr(c.identity),
                    c.get_remaining_time_in_millis() > 0]
    """}, "app.handler", [
        {"payload": {}, "kw": {"client_context": {"custom": {"a": 1}, "client": {"app_title": "t"}},
                               "cognito_identity": {"cognitoIdentityId": "i"}}},
        {"payload": {}},
    ]),
    "marshal-error": ({"app.py": "def handler(e, c):\n    return {1, 2}\n"}, "app.handler", E1),
    "results": ({"app.py": """
        from decimal import Decimal
        def handler(e, c):
            return {1: b"raw", 2: {"a": Decimal("5"), "b": Decimal("1.5"), "c": float("nan")}}.get(e, "caf\\u00e9")
    """}, "app.handler", [{"payload": 1}, {"payload": 2}, {"payload": 3}]),
    "bad-client-context": ({"app.py": "def handler(e, c):\n    return e\n"}, "app.handler",
                           [{"payload": 1, "kw": {"extra_headers": [("Lambda-Runtime-Client-Context", "{no")]}}]),
    "trace-id": ({"app.py": "import os\ndef handler(e, c):\n    return os.environ.get('_X_AMZN_TRACE_ID')\n"},
                 "app.handler", [{"payload": 1, "kw": {"trace_id": "Root=1-2-3"}}, {"payload": 2}]),
}

JSON_LOG_CASE = ({"app.py": """
    import logging
    def handler(e, c):
        logging.getLogger().warning("hello %s", "json", extra={"k": 1})
        logging.getLogger().info({"a": 1})
        try:
            1 / 0
        except Exception:
            logging.getLogger("x").exception("oops")
        raise KeyError("k")
"""}, "app.handler", E1)

NODE_CASES = {
    "echo": ({"app.js": "exports.handler = async (e) => e;\n"}, "app.handler", E1 + [{"payload": None}]),
    "sync-return-is-null": ({"app.js": "exports.handler = (e) => 42;\n"}, "app.handler", E1),
    "exception-and-console": ({"app.js": """
        console.log('at init');
        exports.handler = async (e) => {
          console.log('hi', {x: 1}, 'a\\nb');
          console.warn('w'); console.error('e'); console.debug('d'); console.trace('t'); console.info('i');
          throw new TypeError('boom');
        };
    """}, "app.handler", E1),
    "throw-string": ({"app.js": "exports.handler = async () => { throw 'oops'; };\n"}, "app.handler", E1),
    "reject-undefined": ({"app.js": "exports.handler = async () => Promise.reject();\n"}, "app.handler", E1),
    "callback-error-object": ({"app.js": "exports.handler = (e, c, cb) => cb({a: 1});\n"}, "app.handler", E1),
    "callback-waits": ({"app.js": """
        exports.handler = (e, c, cb) => { setTimeout(() => console.log('timer'), 100); cb(null, 'done'); };
    """}, "app.handler", E1),
    "legacy-context": ({"app.js": "exports.handler = (e, c) => c.succeed({ok: e});\n"}, "app.handler", E1),
    "missing-module": ({}, "nope.handler", []),
    "missing-dependency": ({"app.js": "require('notthere');\n"}, "app.handler", []),
    "esm-missing-dependency": ({"app.mjs": "import x from 'notthere';\nexport const handler = async () => x;\n"},
                               "app.handler", []),
    "missing-handler": ({"app.js": "exports.x = 1;\n"}, "app.nope", []),
    "not-a-function": ({"app.js": "exports.x = 1;\n"}, "app.x", []),
    "malformed": ({"app.js": "exports.x = 1;\n"}, "app", []),
    "relative-path": ({"app.js": "exports.x = 1;\n"}, "../app.x", []),
    "syntax-error": ({"app.js": "exports.handler = async (e) => { return e;\n"}, "app.handler", []),
    "esm-syntax-error": ({"app.mjs": "export const handler = async (e) => { return e;\n"}, "app.handler", []),
    "throws-at-load": ({"app.js": "throw new RangeError('init failed');\n"}, "app.handler", []),
    "nested": ({"src/h/app.js": "exports.o = {m: async () => 'ok'};\n"}, "src/h/app.o.m", E1),
    "esm": ({"app.mjs": "export const handler = async (e) => ({esm: e});\n"}, "app.handler", E1),
    "type-module": ({"package.json": '{"type": "module"}', "app.js": "export const handler = async () => 1;\n"},
                    "app.handler", E1),
    "context": ({"app.js": """
        exports.handler = async (e, c) => ({keys: Object.keys(c), json: JSON.parse(JSON.stringify(c)),
                                            rem: c.getRemainingTimeInMillis() > 0});
    """}, "app.handler", [
        {"payload": {}, "kw": {"client_context": {"custom": {"a": 1}}, "cognito_identity": {"cognitoIdentityId": "i"}}},
        {"payload": {}},
    ]),
    "unserializable": ({"app.js": "exports.handler = async () => { const o = {}; o.o = o; return o; };\n"},
                       "app.handler", E1),
    "unhandled-rejection": ({"app.js": """
        exports.handler = async () => { Promise.reject(new Error('nobody')); await new Promise(r => setTimeout(r, 1000)); };
    """}, "app.handler", E1 + [{"payload": 2}]),
    "bad-event-json": ({"app.js": "exports.handler = async (e) => e;\n"}, "app.handler", [{"kw": {"raw": b"{bad"}}]),
    "trace-id": ({"app.js": "exports.handler = async () => process.env._X_AMZN_TRACE_ID ?? null;\n"}, "app.handler",
                 [{"payload": 1, "kw": {"trace_id": "Root=1-2-3"}}, {"payload": 2}]),
}

NODE_JSON_LOG_CASE = ({"app.js": """
    exports.handler = async (e) => {
      console.log('hello', 1); console.log({a: 1}); console.error(new Error('logged')); console.debug('hidden');
      throw new Error('x');
    };
"""}, "app.handler", E1)


@pytest.mark.skipif(not PY_RIC, reason="HAKO_OFFICIAL_PY_RIC is not set")
@pytest.mark.parametrize("case", sorted(PY_CASES))
def test_python_matches_awslambdaric(tmp_path, case):
    compare(tmp_path, "python", *PY_CASES[case])


@pytest.mark.skipif(not PY_RIC, reason="HAKO_OFFICIAL_PY_RIC is not set")
def test_python_json_logs_match_awslambdaric(tmp_path):
    compare(tmp_path, "python", *JSON_LOG_CASE, env={"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"})


@pytest.mark.skipif(not NODE_RIC or not node_binary(), reason="HAKO_OFFICIAL_NODE_RIC is not set")
@pytest.mark.parametrize("case", sorted(NODE_CASES))
def test_node_matches_aws_lambda_ric(tmp_path, case):
    compare(tmp_path, "node", *NODE_CASES[case])


@pytest.mark.skipif(not NODE_RIC or not node_binary(), reason="HAKO_OFFICIAL_NODE_RIC is not set")
def test_node_json_logs_match_aws_lambda_ric(tmp_path):
    compare(tmp_path, "node", *NODE_JSON_LOG_CASE, env={"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "info"})
