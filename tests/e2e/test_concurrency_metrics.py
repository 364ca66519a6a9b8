"""Reserved concurrency, throttling and the Prometheus metrics, through boto3 (issue 5, points 1
and 5).

One module server with --account-concurrency 110 (so that 10 can be reserved while 100 stay
unreserved, AWS's rule), and a server of its own with --account-concurrency 2 for exhausting the
account. Every wait is bounded.
"""

from __future__ import annotations

import functools
import json
import re
import threading

import pytest
from botocore.exceptions import ClientError

from conftest import HakoServer, boto_lambda_client, create_function, fixture_zip, unique_name
from conftest import metric_sample as sample, scrape_metrics as scrape, wait_for as _wait_for

LIMIT = 110
SLOW_MS = 2500
WAIT_S = 15.0
# The waits of this module (and test_provisioned's): WAIT_S.
wait_for = functools.partial(_wait_for, timeout_s=WAIT_S)
MIN_UNRESERVED_MESSAGE = ("Specified ReservedConcurrentExecutions for function decreases account's "
                          "UnreservedConcurrentExecution below its minimum value of [100].")
# Declared, and updated only by work still to come: none left.
NOT_YET_UPDATED: set[str] = set()
# Every family the engine declares (crates/engine/src/metrics.rs).
LAMBDA_FAMILIES = {
    "hako_lambda_account_concurrent_executions", "hako_lambda_async_event_age_milliseconds",
    "hako_lambda_async_events_dropped", "hako_lambda_async_events_received",
    "hako_lambda_cold_starts", "hako_lambda_concurrent_executions",
    "hako_lambda_dead_letter_errors", "hako_lambda_destination_delivery_failures",
    "hako_lambda_duration_milliseconds", "hako_lambda_errors", "hako_lambda_invocations",
    "hako_lambda_provisioned_concurrency_invocations",
    "hako_lambda_provisioned_concurrency_spillover_invocations",
    "hako_lambda_provisioned_concurrency_utilization",
    "hako_lambda_provisioned_concurrent_executions", "hako_lambda_throttles",
    "hako_lambda_unreserved_concurrent_executions",
}
# CloudWatch Logs' ingestion families (crates/logs/src/metrics.rs), moved by any printed line.
LOGS_FAMILIES = {"hako_logs_incoming_bytes", "hako_logs_incoming_log_events",
                 "hako_logs_stored_bytes"}
# Present and updated only for a version or alias with provisioned concurrency, which a server
# with --account-concurrency 2 cannot have (100 must stay unreserved).
PROVISIONED = {
    "hako_lambda_provisioned_concurrent_executions",
    "hako_lambda_provisioned_concurrency_invocations",
    "hako_lambda_provisioned_concurrency_spillover_invocations",
    "hako_lambda_provisioned_concurrency_utilization",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("hako-concurrency")
    s = HakoServer(base / "data", base / "hako.log",
                   extra_args=["--account-concurrency", str(LIMIT)]).start()
    yield s
    s.stop()


def no_retry_client(endpoint):
    """A client that sends each call once: botocore would retry a 429 (its `max_attempts` counts
    retries), and the throttle counts below are exact."""
    return boto_lambda_client(endpoint, retries={"total_max_attempts": 1, "mode": "standard"})


@pytest.fixture(scope="module")
def client(server):
    return no_retry_client(server.endpoint)


def new_function(client, prefix="conc") -> str:
    name = unique_name(prefix)
    create_function(client, name, "provided.al2023", "bootstrap", fixture_zip("rust-echo"))
    return name


def invoke(client, name, event) -> dict:
    return client.invoke(FunctionName=name, Payload=json.dumps(event).encode())


class Background:
    """Invocations running in threads, each with its result or error."""

    def __init__(self, client, name, event, n):
        self.results: list = [None] * n
        self.threads = [threading.Thread(target=self._run, args=(client, name, event, i), daemon=True)
                        for i in range(n)]
        for t in self.threads:
            t.start()

    def _run(self, client, name, event, i):
        try:
            r = invoke(client, name, event)
            self.results[i] = (r["StatusCode"], r.get("FunctionError"), r["Payload"].read())
        except Exception as e:  # noqa: BLE001 - reported by join()
            self.results[i] = e

    def join(self):
        for t in self.threads:
            t.join(timeout=WAIT_S + SLOW_MS / 1000)
            assert not t.is_alive(), "an invocation did not finish in time"
        return self.results


def throttle_of(excinfo) -> tuple[str, int, str | None, str | None]:
    r = excinfo.value.response
    return (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r.get("Reason"),
            r["ResponseMetadata"]["HTTPHeaders"].get("retry-after"))


def test_put_get_delete_function_concurrency(client):
    name = new_function(client)
    assert "ReservedConcurrentExecutions" not in client.get_function_concurrency(FunctionName=name)
    assert "Concurrency" not in client.get_function(FunctionName=name)
    put = client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=7)
    assert put["ReservedConcurrentExecutions"] == 7
    assert client.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 7
    assert client.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 7}
    limit = client.get_account_settings()["AccountLimit"]
    assert limit["ConcurrentExecutions"] == LIMIT
    assert limit["UnreservedConcurrentExecutions"] == LIMIT - 7
    # A configuration change keeps the reservation.
    client.update_function_configuration(FunctionName=name, Description="changed")
    client.get_waiter("function_updated_v2").wait(FunctionName=name,
                                                  WaiterConfig={"Delay": 0.5, "MaxAttempts": 20})
    assert client.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 7
    resp = client.delete_function_concurrency(FunctionName=name)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "ReservedConcurrentExecutions" not in client.get_function_concurrency(FunctionName=name)
    assert "Concurrency" not in client.get_function(FunctionName=name)
    assert client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == LIMIT
    # Deleting a function gives its reservation back.
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=10)
    assert client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 100
    client.delete_function(FunctionName=name)
    assert client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == LIMIT


def test_concurrency_errors_and_the_hundred_unreserved_rule(client):
    missing = unique_name("missing")
    # Put names `$LATEST` (LocalStack's AWS-recorded snapshot, test_lambda_api:
    # test_function_concurrency_exceptions); Get the unqualified ARN (test_ops_on_nonexisting_fn).
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{missing}"
    for call, named in ((lambda: client.get_function_concurrency(FunctionName=missing), arn),
                        (lambda: client.delete_function_concurrency(FunctionName=missing), arn),
                        (lambda: client.put_function_concurrency(FunctionName=missing,
                                                                 ReservedConcurrentExecutions=1),
                         f"{arn}:$LATEST")):
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert e.value.response["Error"]["Message"] == f"Function not found: {named}"
    a, b = new_function(client), new_function(client)
    try:
        with pytest.raises(ClientError) as e:
            client.put_function_concurrency(FunctionName=a, ReservedConcurrentExecutions=LIMIT - 99)
        assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
        assert e.value.response["Error"]["Message"] == MIN_UNRESERVED_MESSAGE
        client.put_function_concurrency(FunctionName=a, ReservedConcurrentExecutions=6)
        with pytest.raises(ClientError) as e:
            client.put_function_concurrency(FunctionName=b, ReservedConcurrentExecutions=5)
        assert e.value.response["Error"]["Message"] == MIN_UNRESERVED_MESSAGE
        client.put_function_concurrency(FunctionName=b, ReservedConcurrentExecutions=4)
        # Changing a's own reservation counts a's old value out.
        client.put_function_concurrency(FunctionName=a, ReservedConcurrentExecutions=6)
        assert client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 100
        # Zero never takes anything from the account.
        client.put_function_concurrency(FunctionName=a, ReservedConcurrentExecutions=0)
    finally:
        client.delete_function(FunctionName=a)
        client.delete_function(FunctionName=b)


def test_reserved_zero_throttles_every_call(client, server):
    name = new_function(client)
    try:
        client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
        for _ in range(3):
            with pytest.raises(ClientError) as e:
                invoke(client, name, {"n": 1})
            assert throttle_of(e) == ("TooManyRequestsException", 429,
                                      "ReservedFunctionConcurrentInvocationLimitExceeded", "1")
        # An Event invocation is still accepted (the async queue will retry it: issue 5 part 2).
        assert client.invoke(FunctionName=name, InvocationType="Event",
                             Payload=b"{}")["StatusCode"] == 202
        wait_for(lambda: sample(scrape(server.endpoint), "hako_lambda_throttles_total", name) == 4,
                 "4 throttles in /metrics")
        text = scrape(server.endpoint)
        assert sample(text, "hako_lambda_invocations_total", name) == 0
        client.delete_function_concurrency(FunctionName=name)
        assert invoke(client, name, {"n": 2})["StatusCode"] == 200
    finally:
        client.delete_function(FunctionName=name)


def test_reserved_n_caps_the_function(client, server):
    name = new_function(client)
    try:
        client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
        running = Background(client, name, {"sleep_ms": SLOW_MS}, 2)
        wait_for(lambda: sample(scrape(server.endpoint), "hako_lambda_concurrent_executions",
                                name) == 2, "2 running invocations")
        text = scrape(server.endpoint)
        # A reserved function's invocations are not in the unreserved share.
        assert sample(text, "hako_lambda_unreserved_concurrent_executions") == 0
        assert sample(text, "hako_lambda_account_concurrent_executions") == 2
        with pytest.raises(ClientError) as e:
            invoke(client, name, {"n": 3})
        assert throttle_of(e) == ("TooManyRequestsException", 429,
                                  "ReservedFunctionConcurrentInvocationLimitExceeded", "1")
        # Another function is not held back by this one's reservation.
        other = new_function(client)
        assert invoke(client, other, {"n": 1})["StatusCode"] == 200
        client.delete_function(FunctionName=other)
        results = running.join()
        assert [r[:2] for r in results] == [(200, None), (200, None)], results
        # The slots are back.
        assert invoke(client, name, {"n": 4})["StatusCode"] == 200
    finally:
        client.delete_function(FunctionName=name)


def test_metrics_count_invocations_errors_cold_starts_and_durations(client, server):
    name = new_function(client, "metrics")
    try:
        for i in range(3):
            assert "FunctionError" not in invoke(client, name, {"i": i})
        assert invoke(client, name, {"fail": "boom"})["FunctionError"] == "Unhandled"
        text = scrape(server.endpoint)
        labels = f'{{function_name="{name}",resource="{name}"}}'
        assert f"hako_lambda_invocations_total{labels} 4" in text, text
        assert sample(text, "hako_lambda_invocations_total", name) == 4
        assert sample(text, "hako_lambda_errors_total", name) == 1
        assert sample(text, "hako_lambda_throttles_total", name) == 0
        assert sample(text, "hako_lambda_cold_starts_total", name) == 1
        assert sample(text, "hako_lambda_duration_milliseconds_count", name) == 4
        assert sample(text, "hako_lambda_duration_milliseconds_sum", name) > 0
        assert sample(text, "hako_lambda_concurrent_executions", name) == 0
        for metric in NOT_YET_UPDATED:
            assert f"# TYPE {metric} " in text
        assert text.rstrip().endswith("# EOF")
    finally:
        client.delete_function(FunctionName=name)
    # A deleted function's series go with it.
    assert f'"{name}"' not in scrape(server.endpoint)


def provisioned_scrape(client, server) -> str:
    """/metrics of the module server while a version with 1 provisioned sandbox runs 2
    invocations: one on it, one spilled over."""
    name = new_function(client, "prov")
    client.publish_version(FunctionName=name)
    client.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                              ProvisionedConcurrentExecutions=1)
    wait_for(lambda: client.get_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1")["Status"] == "READY", "provisioned concurrency READY")
    event = {"sleep_ms": SLOW_MS}
    running = [threading.Thread(target=invoke, args=(client, f"{name}:1", event), daemon=True)
               for _ in range(2)]
    for t in running:
        t.start()
    wait_for(lambda: sample(scrape(server.endpoint), "hako_lambda_concurrent_executions", name) == 2,
             "2 running invocations")
    text = scrape(server.endpoint)
    for t in running:
        t.join(timeout=WAIT_S + SLOW_MS / 1000)
        assert not t.is_alive()
    client.delete_function(FunctionName=name)
    return text


def test_account_limit_exhaustion_and_every_declared_metric_is_updated(hako_factory, client,
                                                                      server):
    small = hako_factory(extra_args=["--account-concurrency", "2", "--async-delay-scale", "0.01"])
    c = no_retry_client(small.endpoint)
    limit = c.get_account_settings()["AccountLimit"]
    assert (limit["ConcurrentExecutions"], limit["UnreservedConcurrentExecutions"]) == (2, 2)
    # Below 100 unreserved nothing can be reserved, but 0 can.
    name = new_function(c, "small")
    with pytest.raises(ClientError) as e:
        c.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    assert e.value.response["Error"]["Message"] == MIN_UNRESERVED_MESSAGE
    assert invoke(c, name, {"fail": "first"})["FunctionError"] == "Unhandled"
    # The asynchronous metrics: an event that fails (no retries) towards a destination function
    # that does not exist, of a function whose dead-letter queue does not exist: received, age,
    # dropped, a destination delivery failure and a dead-letter error.
    aname = new_function(c, "async")
    # A dead-letter queue that does not exist (accepted, as AWS does: seen at delivery).
    c.update_function_configuration(FunctionName=aname, DeadLetterConfig={
        "TargetArn": "arn:aws:sqs:us-east-1:123456789012:no-such-dlq"})
    c.get_waiter("function_updated_v2").wait(FunctionName=aname)
    # The destination exists when configured (AWS refuses one that does not), then goes.
    gone = new_function(c, "gone")
    c.put_function_event_invoke_config(
        FunctionName=aname, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination":
                                         f"arn:aws:lambda:us-east-1:123456789012:function:{gone}"}})
    c.delete_function(FunctionName=gone)
    assert c.invoke(FunctionName=aname, InvocationType="Event",
                    Payload=b'{"fail": "async"}')["StatusCode"] == 202
    wait_for(lambda: sample(scrape(small.endpoint), "hako_lambda_destination_delivery_failures_total",
                            aname) == 1, "the asynchronous event's delivery failure")
    text = scrape(small.endpoint)
    for metric in ("hako_lambda_async_events_received_total", "hako_lambda_async_events_dropped_total",
                   "hako_lambda_dead_letter_errors_total",
                   "hako_lambda_async_event_age_milliseconds_count"):
        assert sample(text, metric, aname) == 1, f"{metric}:\n{text}"
    running = Background(c, name, {"sleep_ms": SLOW_MS}, 2)
    wait_for(lambda: sample(scrape(small.endpoint), "hako_lambda_account_concurrent_executions") == 2,
             "2 running invocations")
    with pytest.raises(ClientError) as e:
        invoke(c, name, {"n": 3})
    assert throttle_of(e) == ("TooManyRequestsException", 429, "ConcurrentInvocationLimitExceeded",
                              "1")
    text = scrape(small.endpoint)
    assert sample(text, "hako_lambda_unreserved_concurrent_executions") == 2
    assert sample(text, "hako_lambda_concurrent_executions", name) == 2
    assert sample(text, "hako_lambda_throttles_total", name) == 1
    # Every declared metric family has moved (the provisioned ones on the module server, where
    # alone they exist: for configurations only).
    provisioned_text = provisioned_scrape(client, server)
    families = set(re.findall(r"^# TYPE (\S+) (\S+)$", text + provisioned_text, re.M))
    # Lambda's families by name, and CloudWatch Logs' ingestion ones (the functions here print
    # lines); other services' families may be present too, and are not this test's business.
    names = {family for family, _ in families}
    assert LAMBDA_FAMILIES <= names, LAMBDA_FAMILIES - names
    assert LOGS_FAMILIES <= names, LOGS_FAMILIES - names
    for family, kind in families:
        if family not in LAMBDA_FAMILIES | LOGS_FAMILIES:
            continue
        if family in NOT_YET_UPDATED:
            continue
        metric = {"counter": f"{family}_total", "histogram": f"{family}_count"}.get(kind, family)
        seen = provisioned_text if family in PROVISIONED else text
        assert sample(seen, metric) > 0, f"{family} was never updated:\n{seen}"
    results = running.join()
    assert [r[:2] for r in results] == [(200, None), (200, None)], results
    text = scrape(small.endpoint)
    assert sample(text, "hako_lambda_account_concurrent_executions") == 0
    assert sample(text, "hako_lambda_invocations_total", name) == 3
