"""Measures Hako's runtime clients: cold start and warm round trip.

  python3 crates/engine/runtimes/tests/bench_runtime_clients.py [--python PATH] [--node PATH] [-n N]

cold start: from just before spawning the client to the moment its first
  GET /invocation/next has arrived at the Runtime API (trivial handler).
warm round trip: on a raw-socket Runtime API that does nothing but answer, the
  time from the last byte of the /next response being written to the
  /response POST being fully received, for a handler that returns its event.
  That is the client's whole per-invocation overhead plus two loopback hops.

Not a test (pytest does not collect it).
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_runtime_api import NODE_CLIENT, PYTHON_CLIENT, ClientProcess, FakeRuntimeAPI  # noqa: E402

HANDLERS = {
    "python": ("app.py", "def handler(event, context):\n    return event\n", "app.handler"),
    "node": ("app.js", "exports.handler = async (event) => event;\n", "app.handler"),
}


def cold_start(kind, interpreter, n):
    times = []
    with tempfile.TemporaryDirectory() as d:
        task = Path(d) / "task"
        task.mkdir()
        name, code, handler = HANDLERS[kind]
        (task / name).write_text(code)
        for _ in range(n):
            api = FakeRuntimeAPI()
            proc = ClientProcess(kind, api, task, handler, interpreter=interpreter)
            try:
                first = api.wait_for(lambda: api.gets(), timeout=10, what="first GET")[0]
                times.append((first.t - proc.started) * 1000)
            finally:
                proc.kill()
                api.close()
    return times


def _read_request(conn, buf):
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            raise EOFError
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(rest) < length:
        rest += conn.recv(65536)
    return head, rest[:length], rest[length:]


ACCEPTED = (b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
            b'{"status":"OK"}')


def warm_round_trip(kind, interpreter, n, event=b'{"key1": "value1", "key2": "value2", "key3": "value3"}'):
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    port = lsock.getsockname()[1]
    with tempfile.TemporaryDirectory() as d:
        task = Path(d) / "task"
        task.mkdir()
        name, code, handler = HANDLERS[kind]
        (task / name).write_text(code)
        client = PYTHON_CLIENT if kind == "python" else NODE_CLIENT
        env = dict(os.environ, AWS_LAMBDA_RUNTIME_API="127.0.0.1:%d" % port, _HANDLER=handler,
                   LAMBDA_TASK_ROOT=str(task), PYTHONUNBUFFERED="1")
        proc = subprocess.Popen([interpreter, str(client)], cwd=str(task), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            lsock.settimeout(10)
            conn, _ = lsock.accept()
            conn.settimeout(10)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buf = b""
            times = []
            for i in range(n):
                head, _, buf = _read_request(conn, buf)
                assert head.startswith(b"GET "), head
                rid = "req-%d" % i
                resp = (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: %s\r\n"
                    "Lambda-Runtime-Deadline-Ms: %d\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:"
                    "us-east-1:000000000000:function:fn\r\nLambda-Runtime-Trace-Id: Root=1-0-0\r\n"
                    "Content-Length: %d\r\n\r\n" % (rid, int(time.time() * 1000) + 60000, len(event))
                ).encode() + event
                t0 = time.perf_counter()
                conn.sendall(resp)
                head, body, buf = _read_request(conn, buf)
                t1 = time.perf_counter()
                assert head.startswith(b"POST /2018-06-01/runtime/invocation/%s/response" % rid.encode()), head
                conn.sendall(ACCEPTED)
                times.append((t1 - t0) * 1e6)
            conn.close()
            return times
        finally:
            proc.kill()
            proc.wait()
            lsock.close()


def summary(xs, unit):
    xs = sorted(xs)
    return "min %.1f %s, median %.1f %s, p90 %.1f %s (n=%d)" % (
        xs[0], unit, statistics.median(xs), unit, xs[int(len(xs) * 0.9) - 1], unit, len(xs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=shutil.which("python3.11") or sys.executable)
    ap.add_argument("--node", default=shutil.which("node"))
    ap.add_argument("-n", type=int, default=20, help="cold starts per client")
    ap.add_argument("--warm", type=int, default=3000, help="warm invocations per client")
    args = ap.parse_args()
    for kind, interp in (("python", args.python), ("node", args.node)):
        if not interp:
            print("%s: no interpreter" % kind)
            continue
        print("%s (%s)" % (kind, interp))
        print("  cold start to first GET /next: " + summary(cold_start(kind, interp, args.n), "ms"))
        times = warm_round_trip(kind, interp, args.warm)[args.warm // 10:]  # drop warm-up
        print("  warm round trip (next -> response): " + summary(times, "us"))


if __name__ == "__main__":
    main()
