"""An in-test Lambda Runtime API (2018-06-01) and a driver for runtime clients.

FakeRuntimeAPI speaks the real protocol over HTTP/1.1 keep-alive
(http.server.ThreadingHTTPServer), hands out queued events on
GET /invocation/next and records every request it gets, with the connection it
came on. ClientProcess starts one of Hako's runtime clients the way Hako does
(cwd = task root, AWS_LAMBDA_* environment) and keeps its output in a file.

Used by test_runtime_clients.py and bench_runtime_clients.py.
"""

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RUNTIMES_DIR = Path(__file__).resolve().parent.parent
PYTHON_CLIENT = RUNTIMES_DIR / "python" / "bootstrap.py"
NODE_CLIENT = RUNTIMES_DIR / "node" / "bootstrap.mjs"

PREFIX = "/2018-06-01/runtime"


class Request:
    def __init__(self, method, path, headers, body, conn, t):
        self.method = method
        self.path = path
        self.headers = headers  # lower-case names
        self.body = body
        self.conn = conn  # client (host, port): one per TCP connection
        self.t = t  # time.monotonic() when the request was complete

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "Request(%s %s %r %r)" % (self.method, self.path, self.headers, self.body[:300])


class FakeRuntimeAPI:
    def __init__(self):
        self.events = queue.Queue()
        self.requests = []
        self.cond = threading.Condition()
        self.closed = False
        # request id -> HTTP status to answer POST .../response with
        self.response_status = {}
        # close every connection after one request, without saying so
        # (a kept-alive connection dropped by the server)
        self.drop_connections = False
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _record(self, body):
                req = Request(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    self.client_address,
                    time.monotonic(),
                )
                with api.cond:
                    api.requests.append(req)
                    api.cond.notify_all()
                return req

            def _send(self, status, body, headers=()):
                if api.drop_connections:
                    self.close_connection = True
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers:
                    self.send_header(k, v)
                # head and body in one write, as real servers do
                self._headers_buffer.append(b"\r\n")
                self._headers_buffer.append(body)
                self.flush_headers()

            def do_GET(self):
                self._record(b"")
                if self.path != PREFIX + "/invocation/next":
                    self._send(404, b'{"errorType":"InvalidPath"}')
                    return
                while True:
                    try:
                        ev = api.events.get(timeout=0.05)
                        break
                    except queue.Empty:
                        if api.closed:
                            self._send(500, b'{"errorType":"ServiceException"}')
                            self.close_connection = True
                            return
                self._send(200, ev["body"], ev["headers"])

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                req = self._record(body)
                status = 202
                parts = self.path[len(PREFIX) + 1 :].split("/")
                if len(parts) == 3 and parts[0] == "invocation" and parts[2] == "response":
                    status = api.response_status.get(parts[1], 202)
                if status == 202:
                    self._send(202, b'{"status":"OK"}')
                else:
                    self._send(status, b'{"errorType":"RequestEntityTooLarge","errorMessage":"too large"}')
                del req

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.daemon = True
        self.thread.start()

    @property
    def address(self):
        host, port = self.httpd.server_address[:2]
        return "%s:%d" % (host, port)

    def add_event(self, payload, request_id=None, deadline_ms=None, trace_id=None,
                  client_context=None, cognito_identity=None, arn=None, raw=None, extra_headers=()):
        """Queue one invocation; returns its request id."""
        request_id = request_id or str(uuid.uuid4())
        if deadline_ms is None:
            deadline_ms = int(time.time() * 1000) + 30000
        headers = [
            ("Lambda-Runtime-Aws-Request-Id", request_id),
            ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn",
             arn or "arn:aws:lambda:us-east-1:000000000000:function:fn"),
        ]
        if trace_id is not None:
            headers.append(("Lambda-Runtime-Trace-Id", trace_id))
        if client_context is not None:
            headers.append(("Lambda-Runtime-Client-Context", json.dumps(client_context)))
        if cognito_identity is not None:
            headers.append(("Lambda-Runtime-Cognito-Identity", json.dumps(cognito_identity)))
        headers.extend(extra_headers)
        body = raw if raw is not None else json.dumps(payload).encode()
        self.events.put({"body": body, "headers": headers})
        return request_id

    def wait_for(self, pred, timeout=10.0, what="condition"):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                r = pred()
                if r:
                    return r
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for %s; requests: %r" % (what, self.requests))
                self.cond.wait(left)

    def posts(self, suffix=None):
        with self.cond:
            return [r for r in self.requests if r.method == "POST" and (suffix is None or r.path.endswith(suffix))]

    def result(self, request_id, timeout=10.0):
        """The POST .../response or .../error for request_id."""
        base = "%s/invocation/%s/" % (PREFIX, request_id)

        def find():
            for r in self.requests:
                if r.method == "POST" and r.path.startswith(base):
                    return r
            return None

        return self.wait_for(find, timeout, "the result of " + request_id)

    def init_error(self, timeout=10.0):
        def find():
            for r in self.requests:
                if r.method == "POST" and r.path == PREFIX + "/init/error":
                    return r
            return None

        return self.wait_for(find, timeout, "an init error")

    def gets(self):
        with self.cond:
            return [r for r in self.requests if r.method == "GET"]

    def connections(self):
        with self.cond:
            return {r.conn for r in self.requests}

    def close(self):
        self.closed = True
        self.httpd.shutdown()
        self.httpd.server_close()


def node_binary():
    return shutil.which("node")


def python_binary():
    return os.environ.get("HAKO_TEST_PYTHON") or sys.executable


class ClientProcess:
    """One runtime client process, started the way Hako starts it."""

    def __init__(self, kind, api, task_root, handler, env=None, log_path=None, interpreter=None):
        task_root = Path(task_root)
        if kind == "python":
            cmd = [interpreter or python_binary(), str(PYTHON_CLIENT)]
            runtime_dir = PYTHON_CLIENT.parent
        elif kind == "node":
            cmd = [interpreter or node_binary(), str(NODE_CLIENT)]
            runtime_dir = NODE_CLIENT.parent
        else:
            raise ValueError(kind)
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_RUNTIME_DIR": str(runtime_dir),
            "AWS_LAMBDA_FUNCTION_NAME": "fn",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]0123456789abcdef",
            "AWS_REGION": "us-east-1",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "PYTHONUNBUFFERED": "1",
        }
        if env:
            full_env.update(env)
        self.log_path = Path(log_path) if log_path else task_root.parent / ("%s-%s.log" % (kind, uuid.uuid4().hex[:8]))
        self._log = open(self.log_path, "wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            cmd, cwd=str(task_root), env=full_env, stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def wait(self, timeout=10.0):
        return self.proc.wait(timeout=timeout)

    def output(self):
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_bytes().decode("utf-8", "replace")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._log.close()
