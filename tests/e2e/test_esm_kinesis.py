"""Event source mappings with Kinesis sources (issue 12 part 3), through boto3 and the aws CLI
against the real binary, with a real function: tests/fixtures/rust-kinesis, on the official
`lambda_runtime` and `aws_lambda_events` crates, which checks every event's shape strictly
(`SHAPE-ERROR` in its log otherwise), does what its records' data say, and prints one
`KINESIS {json}` line per invocation (read here with `hako logs`).

AWS's behaviour asserted here comes from the Lambda developer guide ("Using Lambda with Kinesis
Data Streams", its pages on batching, error handling, partial batch responses and tumbling
windows) and from the answers recorded against AWS in LocalStack's
tests/aws/services/lambda_/event_source_mapping/test_lambda_integration_kinesis.snapshot.json
(test names cited beside each assertion). The server runs with the hidden
`--async-delay-scale 0.05`, which scales MaximumRecordAgeInSeconds (60 s -> 3 s) so the record
age test runs in seconds. Every wait is bounded."""

import base64
import json
import os
import signal
import statistics
import subprocess
import time

import boto3
import pytest
from botocore.config import Config

from conftest import (CREDENTIALS, HAKO_BIN, REGION, ROLE, HakoServer, boto_lambda_client,
                      fixture_zip, metric_sample, run_aws, scrape_metrics, unique_name, wait_for)

ACCOUNT = "123456789012"
SCALE = 0.05


def client(service, endpoint):
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60)
    return boto3.session.Session().client(service, endpoint_url=endpoint, region_name=REGION,
                                          config=cfg, **CREDENTIALS)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("hako")
    s = HakoServer(base / "data", base / "hako.log",
                   extra_args=["--async-delay-scale", str(SCALE)]).start()
    yield s
    s.stop()


class Clients:
    def __init__(self, endpoint):
        self.lam = boto_lambda_client(endpoint)
        self.kinesis = client("kinesis", endpoint)
        self.sqs = client("sqs", endpoint)


@pytest.fixture(scope="module")
def aws(server):
    return Clients(server.endpoint)


def consumer(c: Clients) -> str:
    name = unique_name("kin")
    c.lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=ROLE,
                          Handler="bootstrap", Code={"ZipFile": fixture_zip("rust-kinesis")},
                          Timeout=30)
    wait_for(lambda: c.lam.get_function(FunctionName=name)["Configuration"]["State"] == "Active",
             what="function active")
    return name


def stream(c: Clients, shards=1) -> tuple[str, str]:
    name = unique_name("stream")
    c.kinesis.create_stream(StreamName=name, ShardCount=shards)

    def active():
        d = c.kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        return d["StreamStatus"] == "ACTIVE" and d["StreamARN"]
    return name, wait_for(active, what=f"stream {name} ACTIVE")


def queue(c: Clients) -> tuple[str, str]:
    url = c.sqs.create_queue(QueueName=unique_name("fail"))["QueueUrl"]
    arn = c.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def mapping(c: Clients, fn, arn, **kw) -> str:
    kw.setdefault("StartingPosition", "TRIM_HORIZON")
    r = c.lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, **kw)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 202
    uuid = r["UUID"]
    wait_for(lambda: c.lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled",
             what="mapping Enabled", timeout_s=10)
    return uuid


def put(c: Clients, name, id_, do="ok", key=None) -> str:
    data = json.dumps({"id": id_, "do": do}).encode()
    return c.kinesis.put_record(StreamName=name, Data=data,
                                PartitionKey=key or "k")["SequenceNumber"]


def calls(server, fn) -> list[dict]:
    """The function's `KINESIS` lines, in order; fails on any `SHAPE-ERROR`."""
    p = subprocess.run([str(HAKO_BIN), "logs", fn, "--data-dir", str(server.data_dir)],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr.decode()
    out = []
    for line in p.stdout.decode(errors="replace").splitlines():
        assert "SHAPE-ERROR" not in line, line
        i = line.find("KINESIS {")
        if i >= 0:
            out.append(json.loads(line[i + len("KINESIS "):]))
    return out


def ids(cs) -> list[str]:
    return [r["id"] for c in cs for r in c.get("records", [])]


def wait_calls(server, fn, pred, what, timeout_s=15):
    return wait_for(lambda: (cs := calls(server, fn)) and pred(cs) and cs, what=what,
                    timeout_s=timeout_s, step_s=0.1)


def failure_bodies(c: Clients, url, n, timeout_s=15) -> list[dict]:
    got = []

    def enough():
        r = c.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in r.get("Messages", []):
            got.append(json.loads(m["Body"]))
            c.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return len(got) >= n
    wait_for(enough, what=f"{n} invocation records", timeout_s=timeout_s, step_s=0)
    return got


# -- delivery --------------------------------------------------------------------------------

def test_every_record_in_order_per_shard_in_awss_shape(aws, server):
    """Records of several shards reach the function once each, in batches of at most
    BatchSize holding one shard's records, in order per shard; the event's shape is checked by
    the fixture (aws_lambda_events' KinesisEvent and AWS's exact keys,
    test_create_kinesis_event_source_mapping's kinesis_records)."""
    fn = consumer(aws)
    name, arn = stream(aws, shards=2)
    entries = [{"Data": json.dumps({"id": f"r{i}"}).encode(), "PartitionKey": f"key{i % 7}"}
               for i in range(60)]
    put_out = aws.kinesis.put_records(StreamName=name, Records=entries)
    assert put_out["FailedRecordCount"] == 0
    shard_of = {f"r{i}": e["ShardId"] for i, e in enumerate(put_out["Records"])}
    assert len(set(shard_of.values())) == 2, "both shards have records"
    uuid = mapping(aws, fn, arn, BatchSize=5)
    cs = wait_calls(server, fn, lambda cs: len(ids(cs)) >= 60, "60 records")
    assert sorted(ids(cs)) == sorted(shard_of), "each record once"
    for c in cs:
        assert 1 <= len(c["records"]) <= 5
        assert {shard_of[r["id"]] for r in c["records"]} == {c["shard"]}
    for shard in set(shard_of.values()):
        got = [r for c in cs if c["shard"] == shard for r in c["records"]]
        assert [r["id"] for r in got] == [i for i in shard_of if shard_of[i] == shard]
        seqs = [int(r["seq"]) for r in got]
        assert seqs == sorted(seqs)
    # test_create_kinesis_event_source_mapping: LastProcessingResult once records were processed.
    wait_for(lambda: aws.lam.get_event_source_mapping(UUID=uuid).get("LastProcessingResult") == "OK",
             what="LastProcessingResult OK")


def test_latest_starts_after_the_records_already_there(aws, server):
    fn = consumer(aws)
    name, arn = stream(aws)
    put(aws, name, "before")
    mapping(aws, fn, arn, StartingPosition="LATEST")
    put(aws, name, "after")
    cs = wait_calls(server, fn, lambda cs: "after" in ids(cs), "the new record")
    assert ids(cs) == ["after"]


def test_at_timestamp_starts_at_the_records_of_that_time(aws, server):
    fn = consumer(aws)
    name, arn = stream(aws)
    put(aws, name, "old")
    time.sleep(1.1)
    at = time.time()
    put(aws, name, "new")
    mapping(aws, fn, arn, StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=at)
    cs = wait_calls(server, fn, lambda cs: "new" in ids(cs), "the record at the time")
    assert ids(cs) == ["new"]


# -- failures --------------------------------------------------------------------------------

def test_retries_run_out_then_the_on_failure_queue_gets_awss_record(aws, server):
    """test_kinesis_event_source_mapping_with_on_failure_destination_config: with
    MaximumRetryAttempts 1 a failing record is invoked twice, then its invocation record
    (RetryAttemptsExhausted, approximateInvokeCount 2, responseContext with functionError
    Unhandled, KinesisBatchInfo) goes to the OnFailure queue, and the shard moves on. The
    mapping is created with the aws CLI."""
    fn = consumer(aws)
    name, arn = stream(aws)
    url, qarn = queue(aws)
    seq = put(aws, name, "bad", "fail")
    put(aws, name, "good")
    rc, out, err = run_aws(server.endpoint, "lambda", "create-event-source-mapping",
                           "--function-name", fn, "--event-source-arn", arn,
                           "--starting-position", "TRIM_HORIZON", "--batch-size", "1",
                           "--maximum-retry-attempts", "1",
                           "--destination-config",
                           json.dumps({"OnFailure": {"Destination": qarn}}), parse_json=True)
    assert rc == 0, err
    assert out["MaximumRetryAttempts"] == 1
    cs = wait_calls(server, fn, lambda cs: "good" in ids(cs), "the next record")
    assert ids(cs) == ["bad", "bad", "good"]
    [body] = failure_bodies(aws, url, 1)
    assert set(body) == {"requestContext", "responseContext", "version", "timestamp",
                         "KinesisBatchInfo"}
    rc_ = body["requestContext"]
    assert set(rc_) == {"requestId", "functionArn", "condition", "approximateInvokeCount"}
    assert rc_["condition"] == "RetryAttemptsExhausted"
    assert rc_["approximateInvokeCount"] == 2
    assert rc_["functionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn}"
    assert body["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                       "functionError": "Unhandled"}
    assert body["version"] == "1.0"
    assert body["timestamp"].endswith("Z") and len(body["timestamp"]) == 24
    info = body["KinesisBatchInfo"]
    assert set(info) == {"shardId", "startSequenceNumber", "endSequenceNumber",
                         "approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord",
                         "batchSize", "streamArn"}
    assert info["shardId"] == "shardId-000000000000"
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == seq
    assert info["batchSize"] == 1 and info["streamArn"] == arn
    # The mapping's metrics (AWS's names): three invocations of one record each, two failed,
    # one record sent to the OnFailure destination.
    # (The supervisor copies a stream poller's counts out every second.)
    want = {"polled_event_count_total": 2, "invoked_event_count_total": 3,
            "failed_invoke_event_count_total": 2,
            "on_failure_destination_delivered_event_count_total": 1}

    def counted():
        text = scrape_metrics(server.endpoint)
        got = {k: metric_sample(text, f"hako_lambda_esm_{k}", fn) for k in want}
        return got == want and text
    text = wait_for(counted, what=f"the mapping's metrics {want}", timeout_s=5)
    assert "hako_lambda_esm_iterator_age_milliseconds{" in text


def test_a_failing_batch_blocks_its_shard_until_it_succeeds(aws, server):
    fn = consumer(aws)
    name, arn = stream(aws)
    put(aws, name, "flaky", "fail-once")
    put(aws, name, "next")
    mapping(aws, fn, arn, BatchSize=1)
    cs = wait_calls(server, fn, lambda cs: "next" in ids(cs), "the next record")
    assert ids(cs) == ["flaky", "flaky", "next"]


def test_bisect_isolates_the_failing_record(aws, server):
    """BisectBatchOnFunctionError: the batch is split in halves until the failing record is
    alone; the records beside it get through; the lone record goes to the OnFailure queue."""
    fn = consumer(aws)
    name, arn = stream(aws)
    url, qarn = queue(aws)
    entries = [{"Data": json.dumps({"id": i, "do": "fail" if i == "c" else "ok"}).encode(),
                "PartitionKey": "k"} for i in "abcd"]
    aws.kinesis.put_records(StreamName=name, Records=entries)
    mapping(aws, fn, arn, BatchSize=10, MaximumBatchingWindowInSeconds=1,
            BisectBatchOnFunctionError=True, MaximumRetryAttempts=0,
            DestinationConfig={"OnFailure": {"Destination": qarn}})
    [body] = failure_bodies(aws, url, 1)
    cs = wait_calls(server, fn, lambda cs: [c for c in cs if ids([c]) == ["d"]], "d alone")
    assert [ids([c]) for c in cs] == [["a", "b", "c", "d"], ["a", "b"], ["c", "d"], ["c"], ["d"]]
    assert body["KinesisBatchInfo"]["batchSize"] == 1
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"


def test_a_partial_batch_response_retries_from_the_first_failed_record(aws, server):
    """ReportBatchItemFailures (the developer guide's partial batch response page): the batch is
    checkpointed before the lowest failed sequence number; only the records from it are
    retried."""
    fn = consumer(aws)
    name, arn = stream(aws)
    entries = [{"Data": json.dumps({"id": i, "do": "partial" if i == "b" else "ok"}).encode(),
                "PartitionKey": "k"} for i in "abc"]
    aws.kinesis.put_records(StreamName=name, Records=entries)
    mapping(aws, fn, arn, BatchSize=10, MaximumBatchingWindowInSeconds=1,
            FunctionResponseTypes=["ReportBatchItemFailures"])
    cs = wait_calls(server, fn, lambda cs: len(cs) >= 2, "the retry")
    time.sleep(0.5)
    assert [ids([c]) for c in calls(server, fn)] == [["a", "b", "c"], ["b", "c"]]


def test_a_record_failing_by_partial_responses_runs_out_of_retries(aws, server):
    """test_kinesis_report_batch_item_failures: a record reported failed every time is retried
    MaximumRetryAttempts times (approximateInvokeCount 4 with 3), then goes to the OnFailure
    queue with functionError null."""
    fn = consumer(aws)
    name, arn = stream(aws)
    url, qarn = queue(aws)
    put(aws, name, "ok1")
    seq = put(aws, name, "bad", "always-partial")
    mapping(aws, fn, arn, BatchSize=10, MaximumBatchingWindowInSeconds=1,
            FunctionResponseTypes=["ReportBatchItemFailures"], MaximumRetryAttempts=3,
            DestinationConfig={"OnFailure": {"Destination": qarn}})
    [body] = failure_bodies(aws, url, 1)
    assert body["requestContext"]["approximateInvokeCount"] == 4
    assert body["responseContext"]["functionError"] is None
    assert body["KinesisBatchInfo"]["startSequenceNumber"] == seq
    cs = wait_calls(server, fn, lambda cs: len(cs) >= 4, "four invocations")
    time.sleep(0.3)
    assert ids(calls(server, fn)) == ["ok1", "bad", "bad", "bad", "bad"]


def test_records_too_old_go_to_the_on_failure_queue(aws, server):
    """test_kinesis_maximum_record_age_exceeded[expire-before-ingestion]: a record older than
    MaximumRecordAgeInSeconds is not handed to the function; its invocation record says
    RecordAgeExceeded with approximateInvokeCount 1 and no responseContext (60 s scaled to 3 s
    by the server's --async-delay-scale)."""
    fn = consumer(aws)
    name, arn = stream(aws)
    url, qarn = queue(aws)
    seq = put(aws, name, "old")
    time.sleep(60 * SCALE + 0.5)
    put(aws, name, "young")
    mapping(aws, fn, arn, MaximumRecordAgeInSeconds=60, MaximumRetryAttempts=0,
            DestinationConfig={"OnFailure": {"Destination": qarn}})
    [body] = failure_bodies(aws, url, 1)
    assert body["requestContext"]["condition"] == "RecordAgeExceeded"
    assert body["requestContext"]["approximateInvokeCount"] == 1
    assert "responseContext" not in body
    assert body["KinesisBatchInfo"]["startSequenceNumber"] == seq
    cs = wait_calls(server, fn, lambda cs: "young" in ids(cs), "the young record")
    assert ids(cs) == ["young"]


# -- tumbling windows --------------------------------------------------------------------------

def test_tumbling_window_state_and_final_invocation(aws, server):
    """TumblingWindowInSeconds (the developer guide's tumbling window page): each invocation gets
    the state the previous one of its window returned; at the window's end a final invocation
    (isFinalInvokeForWindow, no records) gets the window's state."""
    fn = consumer(aws)
    name, arn = stream(aws)
    mapping(aws, fn, arn, BatchSize=1, TumblingWindowInSeconds=2)
    # Start just after a window boundary, so the three records share a window.
    time.sleep(2 - time.time() % 2 + 0.05)
    for i in range(3):
        put(aws, name, f"w{i}")
    cs = wait_calls(server, fn, lambda cs: any(c.get("final") for c in cs), "the final call",
                    timeout_s=10)
    window_calls = [c for c in cs if c["window"]["start"] == cs[0]["window"]["start"]]
    assert [c["state"].get("count") for c in window_calls] == [None, "1", "2", "3"]
    assert [c["final"] for c in window_calls] == [False, False, False, True]
    assert window_calls[-1]["records"] == []
    assert all(c["early"] is False for c in window_calls)


# -- parallelization ---------------------------------------------------------------------------

def test_parallelization_factor_keeps_order_per_partition_key(aws, server):
    fn = consumer(aws)
    name, arn = stream(aws)
    entries = [{"Data": json.dumps({"id": f"k{i % 4}-{i}", "do": "sleep-20"}).encode(),
                "PartitionKey": f"k{i % 4}"} for i in range(24)]
    aws.kinesis.put_records(StreamName=name, Records=entries)
    mapping(aws, fn, arn, BatchSize=2, ParallelizationFactor=4)
    cs = wait_calls(server, fn, lambda cs: len(ids(cs)) >= 24, "24 records")
    got = ids(cs)
    assert sorted(got) == sorted(json.loads(e["Data"])["id"] for e in entries)
    for k in range(4):
        mine = [i for i in got if i.startswith(f"k{k}-")]
        assert mine == [f"k{k}-{i}" for i in range(24) if i % 4 == k]


# -- durability ------------------------------------------------------------------------------

def test_kill9_mid_delivery_loses_nothing_and_keeps_order(hako_factory):
    """Hako killed (SIGKILL) while its mapping delivers: after a restart every record reaches the
    function, in order per shard; only the batch in flight at the kill may come twice, and what
    was checkpointed before it does not come again."""
    s = hako_factory(extra_args=["--async-delay-scale", str(SCALE)])
    c = Clients(s.endpoint)
    fn = consumer(c)
    name, arn = stream(c, shards=2)
    mapping(c, fn, arn, BatchSize=2)
    entries = [{"Data": json.dumps({"id": f"r{i}", "do": "sleep-30"}).encode(),
                "PartitionKey": f"key{i % 5}"} for i in range(80)]
    out = c.kinesis.put_records(StreamName=name, Records=entries)
    shard_of = {f"r{i}": e["ShardId"] for i, e in enumerate(out["Records"])}
    wait_calls(s, fn, lambda cs: len(ids(cs)) >= 10, "some delivered", timeout_s=20)
    before = ids(calls(s, fn))
    os.kill(s.proc.pid, signal.SIGKILL)
    s.proc.wait(timeout=10)
    assert len(before) < 80, "the kill came while the mapping was still delivering"
    s.start()
    cs = wait_calls(s, fn, lambda cs: set(ids(cs)) >= set(shard_of), "every record after the restart",
                    timeout_s=60)
    got = ids(cs)
    for shard in set(shard_of.values()):
        want = [i for i in shard_of if shard_of[i] == shard]
        mine = [i for i in got if shard_of[i] == shard]
        # In order, first deliveries only (a repeat is the batch in flight at the kill).
        firsts = list(dict.fromkeys(mine))
        assert firsts == want, (shard, mine)
    repeats = len(got) - len(set(got))
    assert repeats <= 2 * 2, f"only the batches in flight repeat (2 shards of 2): {repeats}"


def test_disable_stops_delivery_and_enable_and_restart_resume_from_the_checkpoint(hako_factory):
    """Disabling a mapping stops delivery within a second; enabling it again, or restarting
    Hako, resumes after the last checkpointed record: nothing lost, nothing delivered twice."""
    s = hako_factory(extra_args=["--async-delay-scale", str(SCALE)])
    c = Clients(s.endpoint)
    fn = consumer(c)
    name, arn = stream(c)
    uuid = mapping(c, fn, arn)
    put(c, name, "one")
    wait_calls(s, fn, lambda cs: "one" in ids(cs), "the first record")
    c.lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    wait_for(lambda: c.lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled",
             what="mapping Disabled", timeout_s=1)
    put(c, name, "two")
    time.sleep(1.5)
    assert ids(calls(s, fn)) == ["one"], "nothing delivered while disabled"
    c.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    wait_calls(s, fn, lambda cs: "two" in ids(cs), "the record put while disabled")
    s.restart()
    c = Clients(s.endpoint)
    put(c, name, "three")
    cs = wait_calls(s, fn, lambda cs: "three" in ids(cs), "the record put after the restart")
    assert ids(cs) == ["one", "two", "three"]


# -- latency ---------------------------------------------------------------------------------

def test_put_record_reaches_an_idle_mapping_within_milliseconds(aws, server):
    """An idle stream wakes its poller (no polling interval): PutRecord -> handler start.
    Prints the p50 (the issue's target: <= 10 ms); asserts a generous bound."""
    fn = consumer(aws)
    name, arn = stream(aws)
    mapping(aws, fn, arn, StartingPosition="LATEST")
    put(aws, name, "warm")
    wait_calls(server, fn, lambda cs: "warm" in ids(cs), "the warm-up record")
    sent = {}
    for i in range(20):
        time.sleep(0.05)
        sent[f"l{i}"] = time.time() * 1000
        put(aws, name, f"l{i}")
    cs = wait_calls(server, fn, lambda cs: len(ids(cs)) >= 21, "20 records")
    lat = [c["t_ms"] - sent[r["id"]] for c in cs for r in c["records"] if r["id"] in sent]
    p50 = statistics.median(lat)
    print(f"PutRecord -> handler start: p50 {p50:.1f} ms, max {max(lat):.1f} ms over {len(lat)}")
    assert p50 < 100, lat
