"""Provisioned concurrency through boto3 and the aws CLI (issue 5, point 1).

One module server with --account-concurrency 110 (so that 10 can be provisioned or reserved
while 100 stay unreserved, AWS's rule): test_concurrency_metrics's fixture. Which sandboxes run
is read from /proc: every sandbox's processes carry AWS_LAMBDA_FUNCTION_NAME,
AWS_LAMBDA_INITIALIZATION_TYPE and a log stream of their own in their environment. Every wait
is bounded.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import boto_lambda_client, create_function, fixture_zip, run_aws, unique_name
# The module server of the reserved-concurrency tests (--account-concurrency 110), and helpers.
from test_concurrency_metrics import LIMIT, client, scrape, server, wait_for  # noqa: F401

WAIT_S = 30.0
SLOW_MS = 2000
ARN = "arn:aws:lambda:us-east-1:123456789012:function:"
MIN_UNRESERVED_MESSAGE = ("Specified ConcurrentExecutions for function decreases account's "
                          "UnreservedConcurrentExecution below its minimum value of [100].")


@pytest.fixture(scope="module")
def raw(server):
    """A client that sends what it is given (no client-side validation), to reach the server's."""
    return boto_lambda_client(server.endpoint, parameter_validation=False)


def new_function(client, prefix="pc", env=None, versions=1, fixture="rust-echo", **kw) -> str:
    """A function with `versions` published versions (1, 2, ...); `kw` go to CreateFunction."""
    name = unique_name(prefix)
    if env:
        kw["Environment"] = {"Variables": env}
    if fixture == "rust-echo":
        create_function(client, name, "provided.al2023", "bootstrap", fixture_zip(fixture), **kw)
    else:
        create_function(client, name, "python3.11", "app.handler", fixture_zip(fixture), **kw)
    for i in range(versions):
        if i:
            variables = {**(env or {}), "VERSION": str(i + 1)}
            client.update_function_configuration(FunctionName=name,
                                                 Environment={"Variables": variables})
            client.get_waiter("function_updated_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 40})
        assert client.publish_version(FunctionName=name)["Version"] == str(i + 1)
    return name


def error_of(call) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as e:
        call()
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def wait_status(client, name, qualifier, status="READY", timeout=WAIT_S) -> dict:
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = client.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        if got["Status"] == status:
            return got
        time.sleep(0.1)
    pytest.fail(f"{name}:{qualifier} not {status} within {timeout} s: {got}")


def invoke(client, name, event, qualifier=None, tail=False) -> tuple[object, str]:
    kw = {"Qualifier": qualifier} if qualifier else {}
    if tail:
        kw["LogType"] = "Tail"
    r = client.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **kw)
    assert "FunctionError" not in r, r["Payload"].read()
    log = base64.b64decode(r["LogResult"]).decode() if tail else ""
    return json.loads(r["Payload"].read()), log


def init_type(client, name, qualifier=None, sleep_ms=0) -> str:
    event = {"env": "AWS_LAMBDA_INITIALIZATION_TYPE"}
    if sleep_ms:
        event["sleep_ms"] = sleep_ms
    return invoke(client, name, event, qualifier)[0]


def sandboxes(name, init="provisioned-concurrency") -> set[str]:
    """The log streams (one per sandbox) of the live processes of `name` started with `init`."""
    return set(sandbox_pids(name, init))


def sandbox_pids(name, init="provisioned-concurrency") -> dict[str, list[int]]:
    """The pids of the live processes of `name` started with `init`, by log stream."""
    streams: dict[str, list[int]] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            raw = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        env = dict(kv.split("=", 1) for kv in raw.decode(errors="replace").split("\0") if "=" in kv)
        if (env.get("AWS_LAMBDA_FUNCTION_NAME") == name
                and env.get("AWS_LAMBDA_INITIALIZATION_TYPE") == init):
            streams.setdefault(env.get("AWS_LAMBDA_LOG_STREAM_NAME", pid), []).append(int(pid))
    return streams


def sample(text, metric, resource) -> float:
    """The value of `metric` for one resource (`name` or `name:version`), 0 when absent."""
    for line in text.splitlines():
        m = re.match(r"^([a-z_]+)\{([^}]*)\} (\S+)$", line)
        if m and m.group(1) == metric and f'resource="{resource}"' in m.group(2):
            return float(m.group(3))
    return 0.0


def unreserved(client) -> int:
    return client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]


def test_put_get_list_delete(client, server):
    name = new_function(client, versions=2)
    client.create_alias(FunctionName=name, Name="live", FunctionVersion="2")
    try:
        put = client.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                                        ProvisionedConcurrentExecutions=2)
        assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
        assert put["RequestedProvisionedConcurrentExecutions"] == 2
        assert put["Status"] == "IN_PROGRESS"
        assert put["AllocatedProvisionedConcurrentExecutions"] in (0, 1)
        assert "FunctionArn" not in put and "StatusReason" not in put
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", put["LastModified"])
        got = wait_status(client, name, "1")
        assert (got["RequestedProvisionedConcurrentExecutions"],
                got["AllocatedProvisionedConcurrentExecutions"],
                got["AvailableProvisionedConcurrentExecutions"]) == (2, 2, 2)
        assert got["LastModified"] == put["LastModified"]
        assert len(sandboxes(name)) == 2
        # It comes out of the account's unreserved pool.
        assert unreserved(client) == LIMIT - 2
        # The aws CLI reads the same.
        rc, out, err = run_aws(server.endpoint, "lambda", "get-provisioned-concurrency-config",
                               "--function-name", name, "--qualifier", "1", parse_json=True)
        assert rc == 0, err
        assert out["Status"] == "READY" and out["AllocatedProvisionedConcurrentExecutions"] == 2
        # On an alias: it provisions the alias's version.
        client.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live",
                                                  ProvisionedConcurrentExecutions=1)
        wait_status(client, name, "live")
        listed = client.list_provisioned_concurrency_configs(FunctionName=name)
        items = listed["ProvisionedConcurrencyConfigs"]
        assert [i["FunctionArn"] for i in items] == [f"{ARN}{name}:1", f"{ARN}{name}:live"]
        assert [i["RequestedProvisionedConcurrentExecutions"] for i in items] == [2, 1]
        assert all(i["Status"] == "READY" for i in items)
        assert "NextMarker" not in listed
        first = client.list_provisioned_concurrency_configs(FunctionName=name, MaxItems=1)
        assert len(first["ProvisionedConcurrencyConfigs"]) == 1
        rest = client.list_provisioned_concurrency_configs(FunctionName=name,
                                                           Marker=first["NextMarker"])
        assert [i["FunctionArn"] for i in rest["ProvisionedConcurrencyConfigs"]] == [
            f"{ARN}{name}:live"]
        assert unreserved(client) == LIMIT - 3
        # Shrinking a configuration stops the extra sandbox.
        client.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                                  ProvisionedConcurrentExecutions=1)
        assert wait_status(client, name, "1")["AllocatedProvisionedConcurrentExecutions"] == 1
        wait_for(lambda: len(sandboxes(name)) == 2, "2 provisioned sandboxes (1 + live's 1)")
        # Delete: 204, then not found; deleting again is no error.
        d = client.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
        assert d["ResponseMetadata"]["HTTPStatusCode"] == 204
        assert error_of(lambda: client.get_provisioned_concurrency_config(
            FunctionName=name, Qualifier="1")) == (
            "ProvisionedConcurrencyConfigNotFoundException", 404,
            "No Provisioned Concurrency Config found for this function")
        client.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
        wait_for(lambda: len(sandboxes(name)) == 1, "version 1's sandbox to stop")
        assert unreserved(client) == LIMIT - 1
    finally:
        client.delete_function(FunctionName=name)
    # Deleting the function stops its sandboxes and gives its concurrency back.
    wait_for(lambda: not sandboxes(name), "the alias's sandbox to stop")
    assert unreserved(client) == LIMIT


def test_validation_errors(client, raw):
    name = new_function(client, versions=2)
    client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    client.create_alias(FunctionName=name, Name="split", FunctionVersion="1",
                        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    missing = unique_name("missing")
    try:
        put = client.put_provisioned_concurrency_config
        get = client.get_provisioned_concurrency_config
        delete = client.delete_provisioned_concurrency_config

        def refused(qualifier, n=1):
            return error_of(lambda: put(FunctionName=name, Qualifier=qualifier,
                                        ProvisionedConcurrentExecutions=n))

        assert refused("$LATEST") == (
            "InvalidParameterValueException", 400,
            "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
        for call in (get, delete):
            assert error_of(lambda: call(FunctionName=name, Qualifier="$LATEST")) == (
                "InvalidParameterValueException", 400,
                "The function resource provided must be an alias or a published version.")
        assert error_of(lambda: raw.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=0)) == (
            "ValidationException", 400,
            "1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed to "
            "satisfy constraint: Member must have value greater than or equal to 1")
        assert error_of(lambda: raw.list_provisioned_concurrency_configs(
            FunctionName=name, MaxItems=51))[:2] == ("ValidationException", 400)
        for call in (lambda: put(FunctionName=name, Qualifier="9", ProvisionedConcurrentExecutions=1),
                     lambda: get(FunctionName=name, Qualifier="9"),
                     lambda: delete(FunctionName=name, Qualifier="9")):
            assert error_of(call) == ("ResourceNotFoundException", 404,
                                      f"Function not found: {ARN}{name}:9")
        assert error_of(lambda: get(FunctionName=name, Qualifier="nope")) == (
            "ResourceNotFoundException", 404, f"Cannot find alias arn: {ARN}{name}:nope")
        assert error_of(lambda: client.list_provisioned_concurrency_configs(
            FunctionName=missing)) == ("ResourceNotFoundException", 404,
                                       f"Function not found: {ARN}{missing}")
        assert error_of(lambda: get(FunctionName=name, Qualifier="1")) == (
            "ProvisionedConcurrencyConfigNotFoundException", 404,
            "No Provisioned Concurrency Config found for this function")
        assert refused("split") == (
            "InvalidParameterValueException", 400,
            "Alias with weights can not be used with Provisioned Concurrency")
        # A version has one configuration: on itself or on one alias of it.
        put(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1)
        assert refused("live") == (
            "ResourceConflictException", 409,
            "Alias can't be used for Provisioned Concurrency configuration on an already "
            "Provisioned version")
        delete(FunctionName=name, Qualifier="1")
        put(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1)
        assert refused("1") == (
            "ResourceConflictException", 409,
            "Version is pointed by a Provisioned Concurrency alias")
        # An alias with a configuration cannot move onto a version provisioned otherwise.
        put(FunctionName=name, Qualifier="2", ProvisionedConcurrentExecutions=1)
        assert error_of(lambda: client.update_alias(FunctionName=name, Name="live",
                                                    FunctionVersion="2"))[:2] == (
            "ResourceConflictException", 409)
        delete(FunctionName=name, Qualifier="2")
        # Without a reservation: 100 must stay unreserved (1 is provisioned by `live`).
        assert refused("2", LIMIT - 100) == (
            "InvalidParameterValueException", 400, MIN_UNRESERVED_MESSAGE)
        put(FunctionName=name, Qualifier="2", ProvisionedConcurrentExecutions=LIMIT - 101)
        assert unreserved(client) == 100
        # ... and another function cannot reserve what provisioned concurrency took.
        other = new_function(client, versions=0)
        try:
            assert error_of(lambda: client.put_function_concurrency(
                FunctionName=other, ReservedConcurrentExecutions=1))[0] == (
                "InvalidParameterValueException")
        finally:
            client.delete_function(FunctionName=other)
        delete(FunctionName=name, Qualifier="2")
        # With a reservation: the function's configurations together stay within it.
        client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=3)
        assert unreserved(client) == LIMIT - 3
        assert refused("2", 3) == (
            "InvalidParameterValueException", 400,
            "Requested Provisioned Concurrency should not be greater than the "
            "reservedConcurrentExecution for function")
        put(FunctionName=name, Qualifier="2", ProvisionedConcurrentExecutions=2)
        # Provisioned inside a reservation takes nothing more from the account.
        assert unreserved(client) == LIMIT - 3
        # Nothing a refused call touched was stored.
        items = client.list_provisioned_concurrency_configs(
            FunctionName=name)["ProvisionedConcurrencyConfigs"]
        assert [(i["FunctionArn"], i["RequestedProvisionedConcurrentExecutions"]) for i in items] == [
            (f"{ARN}{name}:2", 2), (f"{ARN}{name}:live", 1)]
    finally:
        client.delete_function(FunctionName=name)
    assert unreserved(client) == LIMIT


def test_sandboxes_are_initialised_ahead_and_kept_warm(client, server):
    """A provisioned sandbox has done its init (here a slow one) before the first invocation,
    which reports that init in its REPORT line (as AWS does) and is no cold start."""
    name = new_function(client, env={"FIXTURE_INIT_SLEEP_MS": str(SLOW_MS)}, fixture="python-echo")
    try:
        client.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                                  ProvisionedConcurrentExecutions=1)
        wait_status(client, name, "1")
        assert len(sandboxes(name)) == 1
        assert sample(scrape(server.endpoint), "hako_lambda_cold_starts_total", f"{name}:1") == 0
        out, log = invoke(client, name, {"env": "AWS_LAMBDA_INITIALIZATION_TYPE"}, "1", tail=True)
        assert out == "provisioned-concurrency"
        report = [line for line in log.splitlines() if line.startswith("REPORT ")][-1]
        duration = float(re.search(r"\tDuration: ([\d.]+) ms", report).group(1))
        init = float(re.search(r"Init Duration: ([\d.]+) ms", report).group(1))
        # The init's sleep happened before, not during, the invocation.
        assert init >= SLOW_MS > duration, report
        # The next invocation on it reports no init; still no cold start.
        out, log = invoke(client, name, {"env": "AWS_LAMBDA_INITIALIZATION_TYPE"}, "1", tail=True)
        assert out == "provisioned-concurrency" and "Init Duration" not in log, log
        text = scrape(server.endpoint)
        assert sample(text, "hako_lambda_cold_starts_total", f"{name}:1") == 0
        assert sample(text, "hako_lambda_provisioned_concurrency_invocations_total", f"{name}:1") == 2
        assert sample(text, "hako_lambda_provisioned_concurrency_spillover_invocations_total",
                      f"{name}:1") == 0
        # $LATEST has no provisioned concurrency: on demand.
        assert init_type(client, name) == "on-demand"
        assert sample(scrape(server.endpoint), "hako_lambda_cold_starts_total", name) == 1
    finally:
        client.delete_function(FunctionName=name)
    wait_for(lambda: not sandboxes(name), "the provisioned sandbox to stop")


def test_spill_over_beyond_the_provisioned_count(client, server):
    name = new_function(client)
    try:
        client.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                                  ProvisionedConcurrentExecutions=1)
        wait_status(client, name, "1")
        pool = ThreadPoolExecutor(2)
        running = [pool.submit(init_type, client, name, "1", SLOW_MS) for _ in range(2)]
        wait_for(lambda: sample(scrape(server.endpoint),
                                "hako_lambda_provisioned_concurrent_executions", f"{name}:1") == 1,
                 "1 invocation on provisioned concurrency")
        text = scrape(server.endpoint)
        assert sample(text, "hako_lambda_provisioned_concurrency_utilization", f"{name}:1") == 1.0
        results = sorted(r.result(timeout=WAIT_S) for r in running)
        pool.shutdown()
        assert results == ["on-demand", "provisioned-concurrency"], results
        text = scrape(server.endpoint)
        r = f"{name}:1"
        assert sample(text, "hako_lambda_provisioned_concurrency_invocations_total", r) == 1
        assert sample(text, "hako_lambda_provisioned_concurrency_spillover_invocations_total", r) == 1
        assert sample(text, "hako_lambda_cold_starts_total", r) == 1
        assert sample(text, "hako_lambda_invocations_total", r) == 2
        assert sample(text, "hako_lambda_provisioned_concurrent_executions", r) == 0
        assert sample(text, "hako_lambda_provisioned_concurrency_utilization", r) == 0
        # The provisioned sandbox is back: the next one runs on it.
        assert init_type(client, name, "1") == "provisioned-concurrency"
    finally:
        client.delete_function(FunctionName=name)


def test_an_alias_provisions_its_version_and_takes_it_along(client, server):
    name = new_function(client, versions=2)
    try:
        client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        client.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live",
                                                  ProvisionedConcurrentExecutions=1)
        wait_status(client, name, "live")
        assert init_type(client, name, "live") == "provisioned-concurrency"
        assert init_type(client, name, "1") == "provisioned-concurrency"
        assert init_type(client, name, "2") == "on-demand"
        # Its metrics name the alias, as AWS's Resource dimension does.
        text = scrape(server.endpoint)
        assert sample(text, "hako_lambda_provisioned_concurrency_invocations_total",
                      f"{name}:live") == 2
        assert sample(text, "hako_lambda_provisioned_concurrency_invocations_total",
                      f"{name}:1") == 0
        # Moving the alias moves its provisioned concurrency.
        client.update_alias(FunctionName=name, Name="live", FunctionVersion="2")
        wait_status(client, name, "live")
        wait_for(lambda: len(sandboxes(name)) == 1, "one provisioned sandbox (version 2's)")
        assert init_type(client, name, "live") == "provisioned-concurrency"
        assert init_type(client, name, "1") == "on-demand"
        # Deleting the alias stops them.
        client.delete_alias(FunctionName=name, Name="live")
        wait_for(lambda: not sandboxes(name), "the alias's sandbox to stop")
        assert client.list_provisioned_concurrency_configs(
            FunctionName=name)["ProvisionedConcurrencyConfigs"] == []
        # Deleting a version stops its own.
        client.put_provisioned_concurrency_config(FunctionName=name, Qualifier="2",
                                                  ProvisionedConcurrentExecutions=1)
        wait_status(client, name, "2")
        client.delete_function(FunctionName=name, Qualifier="2")
        wait_for(lambda: not sandboxes(name), "version 2's sandbox to stop")
        assert client.list_provisioned_concurrency_configs(
            FunctionName=name)["ProvisionedConcurrencyConfigs"] == []
        assert unreserved(client) == LIMIT
    finally:
        client.delete_function(FunctionName=name)


def test_a_failing_init_fails_the_configuration(client):
    name = new_function(client, env={"FIXTURE_INIT_FAIL": "no"})
    try:
        client.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                                  ProvisionedConcurrentExecutions=1)
        got = wait_status(client, name, "1", status="FAILED")
        assert got["StatusReason"] == "FUNCTION_ERROR_INIT_FAILURE"
        assert got["AllocatedProvisionedConcurrentExecutions"] == 0
        assert not sandboxes(name)
        # Invocations spill over to on-demand (and fail there the same way).
        r = client.invoke(FunctionName=name, Qualifier="1", Payload=b"{}")
        assert r["FunctionError"] == "Unhandled"
    finally:
        client.delete_function(FunctionName=name)


def test_restart_provisions_again_and_idle_reaping_spares_them(hako_factory):
    s = hako_factory(extra_args=["--account-concurrency", str(LIMIT), "--idle-timeout-seconds", "1"])
    c = boto_lambda_client(s.endpoint)
    name = new_function(c)
    c.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                         ProvisionedConcurrentExecutions=2)
    before = wait_status(c, name, "1")
    first = sandboxes(name)
    assert len(first) == 2
    # Idle for longer than the idle timeout: an on-demand sandbox goes, provisioned ones stay.
    assert init_type(c, name) == "on-demand"
    wait_for(lambda: not sandboxes(name, "on-demand"), "the idle on-demand sandbox to be reaped")
    time.sleep(1.5)
    assert sandboxes(name) == first
    s.restart()
    assert c.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")[
        "LastModified"] == before["LastModified"]
    wait_status(c, name, "1")
    again = sandboxes(name)
    assert len(again) == 2 and not again & first
    assert unreserved(c) == LIMIT - 2
    assert init_type(c, name, "1") == "provisioned-concurrency"
    c.delete_function(FunctionName=name)
    wait_for(lambda: not sandboxes(name), "the provisioned sandboxes to stop")
    assert unreserved(c) == LIMIT


def test_provisioning_blocks_nothing_and_a_dead_sandbox_is_replaced(client, server):
    slow = new_function(client, env={"FIXTURE_INIT_SLEEP_MS": str(SLOW_MS)}, Timeout=30)
    other = new_function(client, versions=0)
    try:
        # The Put answers before the (slow) inits are done, and another function's invocations
        # run meanwhile.
        put = client.put_provisioned_concurrency_config(FunctionName=slow, Qualifier="1",
                                                        ProvisionedConcurrentExecutions=2)
        assert (put["Status"], put["AllocatedProvisionedConcurrentExecutions"]) == ("IN_PROGRESS", 0)
        assert invoke(client, other, {"n": 1})[0] == {"n": 1}
        assert client.get_provisioned_concurrency_config(
            FunctionName=slow, Qualifier="1")["Status"] == "IN_PROGRESS"
        wait_status(client, slow, "1")
        # A provisioned sandbox that dies (here during an invocation: idle ones are frozen) is
        # replaced by a new one.
        before = sandbox_pids(slow)
        assert len(before) == 2
        pool = ThreadPoolExecutor(2)
        running = [pool.submit(client.invoke, FunctionName=slow, Qualifier="1",
                               Payload=json.dumps({"sleep_ms": 3 * SLOW_MS}).encode())
                   for _ in range(2)]
        wait_for(lambda: sample(scrape(server.endpoint),
                                "hako_lambda_provisioned_concurrent_executions", f"{slow}:1") == 2,
                 "2 invocations on provisioned sandboxes")
        victim = sorted(before)[0]
        for pid in before[victim]:
            os.kill(pid, signal.SIGKILL)
        errors = sorted(r.result(timeout=WAIT_S).get("FunctionError", "") for r in running)
        pool.shutdown()
        assert errors == ["", "Unhandled"], errors
        wait_for(lambda: len(sandboxes(slow)) == 2 and victim not in sandboxes(slow),
                 "a new provisioned sandbox in place of the killed one", timeout_s=WAIT_S)
        wait_for(lambda: client.get_provisioned_concurrency_config(FunctionName=slow, Qualifier="1")[
            "AllocatedProvisionedConcurrentExecutions"] == 2, "2 allocated again", timeout_s=WAIT_S)
        assert wait_status(client, slow, "1")["Status"] == "READY"
        assert init_type(client, slow, "1") == "provisioned-concurrency"
    finally:
        client.delete_function(FunctionName=slow)
        client.delete_function(FunctionName=other)
