"""Lifecycle of `hako serve` as a person running it sees it: what the first SIGINT/SIGTERM says,
the shutdown grace honoured, a second signal stopping at once, one server per data dir."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
import uuid

import botocore.exceptions
from conftest import (boto_lambda_client, create_function, hako_cmd, hako_env, unique_name,
                      wait_for)
from test_invoke import processes_with, py_runtime

# Every wait below is bounded; these are the bounds.
EXIT_WITHIN_S = 15.0


def sleeper(client, marker: str, timeout_s: int = 120) -> str:
    """A function that sleeps event['sleep'] seconds, with a child process carrying `marker`."""
    name = unique_name("sleeper")
    create_function(client, name, "provided.al2023", "x",
                    py_runtime("time.sleep(event.get('sleep', 0))\nresult = 'finished'",
                               child=f"exec python3 -c 'import time; time.sleep(600)' {marker}"),
                    Timeout=timeout_s)
    return name


def invoke_in_background(endpoint: str, name: str, seconds: float) -> tuple[threading.Thread, dict]:
    """Invokes `name` (sleeping `seconds`) in a thread; the dict gets 'out' and 'body', or 'error'."""
    result: dict = {}
    client = boto_lambda_client(endpoint, read_timeout=300)

    def run():
        try:
            out = client.invoke(FunctionName=name, Payload=f'{{"sleep": {seconds}}}'.encode())
            result["body"] = out.pop("Payload").read().decode()
            result["out"] = out
        except Exception as e:  # noqa: BLE001: the test asserts on what it was
            result["error"] = e
        result["at"] = time.monotonic()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, result


def wait_running(server, n: int = 1) -> None:
    """Waits until `n` invocations run (the engine's gauge at /metrics)."""
    import urllib.request

    def running():
        with urllib.request.urlopen(server.endpoint + "/metrics", timeout=5) as r:
            text = r.read().decode()
        m = re.search(r"^hako_lambda_account_concurrent_executions (\d+)", text, re.M)
        return m and int(m.group(1)) >= n
    wait_for(running, what=f"{n} running invocation(s)", timeout_s=30)


def test_grace_is_honoured_then_running_invocations_end_with_an_error(hako_factory):
    server = hako_factory(extra_args=["--shutdown-grace-seconds", "2"])
    client = boto_lambda_client(server.endpoint)
    marker = f"grace-{uuid.uuid4().hex}"
    name = sleeper(client, marker)
    t, result = invoke_in_background(server.endpoint, name, 60)
    wait_running(server)
    wait_for(lambda: processes_with(marker), what="the sandbox's child process", timeout_s=10)
    signalled = time.monotonic()
    server.proc.send_signal(signal.SIGINT)
    server.proc.wait(timeout=EXIT_WITHIN_S)
    stopped = time.monotonic() - signalled
    t.join(timeout=EXIT_WITHIN_S)
    assert not t.is_alive()
    assert server.proc.returncode == 0
    # The grace (2 s) is honoured, not the invocation's 60 s.
    assert 1.5 <= stopped < 8, stopped
    # The caller gets an answer, not a dropped connection: the runtime's exit error, as AWS
    # answers when a function's runtime dies mid-invocation.
    assert "error" not in result, result.get("error")
    assert result["out"]["FunctionError"] == "Unhandled"
    assert "Runtime.ExitError" in result["body"], result["body"]
    assert not processes_with(marker)
    log = server.log_text()
    assert ("SIGINT: shutting down: waiting up to 2 s for 1 running invocation; "
            "Ctrl-C again to stop now") in log, log
    assert "the grace of 2 s is over: ending 1 running invocation" in log, log
    assert "hako: stopped" in log, log


def test_a_second_signal_stops_at_once_and_leaves_no_sandbox(hako_factory):
    server = hako_factory(extra_args=["--shutdown-grace-seconds", "120"])
    client = boto_lambda_client(server.endpoint)
    marker = f"second-{uuid.uuid4().hex}"
    name = sleeper(client, marker)
    t, result = invoke_in_background(server.endpoint, name, 100)
    wait_running(server)
    server.proc.send_signal(signal.SIGINT)
    wait_for(lambda: "waiting up to 120 s for 1 running invocation" in server.log_text(),
             what="the first signal's message", timeout_s=10)
    # Still serving the running invocation: the grace is long.
    time.sleep(0.5)
    assert server.alive()
    signalled = time.monotonic()
    server.proc.send_signal(signal.SIGINT)
    server.proc.wait(timeout=EXIT_WITHIN_S)
    assert time.monotonic() - signalled < 5, "the second SIGINT did not stop hako at once"
    assert server.proc.returncode == 0
    assert not processes_with(marker)
    assert "SIGINT: stopping now: ending 1 running invocation and every sandbox" in server.log_text()
    t.join(timeout=EXIT_WITHIN_S)
    assert not t.is_alive()
    # Even then the caller got an answer, not a dropped connection.
    assert "error" not in result, result.get("error")
    assert result["out"]["FunctionError"] == "Unhandled"
    assert "Runtime.ExitError" in result["body"], result["body"]


def test_sigterm_with_nothing_running_stops_promptly(hako_factory):
    server = hako_factory()
    signalled = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(timeout=EXIT_WITHIN_S)
    assert time.monotonic() - signalled < 5
    assert server.proc.returncode == 0
    log = server.log_text()
    assert ("SIGTERM: shutting down (no running invocation); send SIGTERM or SIGINT again to "
            "stop now") in log, log


def test_a_second_server_on_one_data_dir_is_refused(hako_factory):
    first = hako_factory()
    cmd = hako_cmd("serve", "--listen", "127.0.0.1:0", "--data-dir", str(first.data_dir))
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                       env=hako_env(), cwd=first.data_dir)
    assert p.returncode != 0
    err = p.stderr.decode(errors="replace")
    assert (f"another hako (pid {first.proc.pid}) is already serving the data directory "
            f"{first.data_dir.resolve()}") in err, err
    assert "hako listening" not in p.stdout.decode(errors="replace")
    # The first one still serves.
    client = boto_lambda_client(first.endpoint)
    assert client.list_functions()["Functions"] == []
    # Once it stops, the data dir is free again.
    first.restart()
    assert boto_lambda_client(first.endpoint).list_functions()["Functions"] == []


def test_new_connections_are_refused_while_shutting_down(hako_factory):
    server = hako_factory(extra_args=["--shutdown-grace-seconds", "30"])
    client = boto_lambda_client(server.endpoint)
    marker = f"refuse-{uuid.uuid4().hex}"
    name = sleeper(client, marker)
    t, result = invoke_in_background(server.endpoint, name, 3)
    wait_running(server)
    server.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "waiting up to 30 s" in server.log_text(), what="the first signal's message",
             timeout_s=10)
    late = boto_lambda_client(server.endpoint, connect_timeout=2)
    try:
        late.list_functions()
        raise AssertionError("a new request was served during the shutdown")
    except botocore.exceptions.EndpointConnectionError:
        pass
    t.join(timeout=EXIT_WITHIN_S)
    assert result.get("body") == '"finished"', result
    server.proc.wait(timeout=EXIT_WITHIN_S)
    assert server.proc.returncode == 0
