"""Response streaming (issue 13, part 2): InvokeWithResponseStream through boto3 and function URLs
in RESPONSE_STREAM mode through a real HTTP client, from every kind of runtime.

References: botocore's model (lambda 2015-03-31, InvokeWithResponseStream: the
`application/vnd.amazon.eventstream` answer of PayloadChunk events closed by InvokeComplete with
ErrorCode/ErrorDetails/LogResult); AWS's Runtime API guide, "Response streaming"
(`Lambda-Runtime-Function-Response-Mode: streaming`, a chunked POST, the error trailers
`Lambda-Runtime-Function-Error-Type` / `-Body`); AWS's guide "Response streaming for Lambda
functions" (200 MB per streamed response, the first 6 MB uncapped then 2 MBps; a function that
does not stream answers InvokeWithResponseStream with its whole payload); AWS's guide "Invoking
Lambda function URLs" (RESPONSE_STREAM: the HttpResponseStream prelude, JSON then 8 NUL bytes).

How "the first chunk arrives well before the last" is shown without a timing threshold: each
streaming handler writes a first chunk, sleeps, then writes a last chunk carrying the wall-clock
time it was written at (same machine, same clock); the test notes when it read the first chunk and
asserts that was before the last was written. A buffered answer can only be read after the last
write, so it fails, whatever the machine's load.
"""

from __future__ import annotations

import base64
import json
import time

from conftest import create_function, make_zip, unique_name

# A shell custom runtime streaming with curl: a chunked POST from curl's stdin (`-T -`), a first
# chunk, a pause, then the last chunk with the time it was written.
SHELL_BOOTSTRAP = r"""#!/bin/sh
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
H=/tmp/headers
while true; do
  curl -sS -o /tmp/event -D "$H" "$API/invocation/next" || exit 1
  RID=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$H" | cut -d: -f2 | tr -d ' \r\n')
  { printf 'first|'; sleep "${PAUSE_S:-1}"; printf 'last %s' "$(date +%s.%N)"; } |
    curl -sS -o /dev/null -X POST -T - \
      -H 'Lambda-Runtime-Function-Response-Mode: streaming' \
      -H 'Transfer-Encoding: chunked' -H 'Content-Type: text/plain' \
      "$API/invocation/$RID/response"
done
"""

BUFFERED_PY = """
def handler(event, context):
    return {"hello": event.get("who", "world")}
"""


def shell_function(client, **kw) -> str:
    name = unique_name("stream-sh")
    create_function(client, name, "provided.al2023", "x",
                    make_zip({"bootstrap": SHELL_BOOTSTRAP}, modes={"bootstrap": 0o755}),
                    Timeout=10, **kw)
    return name


def read_events(resp):
    """The events of an InvokeWithResponseStream answer, each with the time it was read."""
    out = []
    for ev in resp["EventStream"]:
        out.append((time.time(), ev))
    return out


def last_written_at(chunk: bytes) -> float:
    """The time a handler wrote its last chunk (`... last <epoch seconds>`)."""
    return float(chunk.decode().rsplit("last ", 1)[1].split()[0])


def assert_streamed(events):
    """The first PayloadChunk was read before the last chunk was written."""
    chunks = [(t, e["PayloadChunk"]["Payload"]) for t, e in events if "PayloadChunk" in e]
    assert len(chunks) >= 2, chunks
    body = b"".join(c for _, c in chunks)
    first_read = chunks[0][0]
    assert first_read < last_written_at(body), (first_read, body)
    return body


def test_a_shell_runtime_streams_through_invoke_with_response_stream(lambda_client):
    name = shell_function(lambda_client)
    resp = lambda_client.invoke_with_response_stream(FunctionName=name, Payload=b"{}")
    assert resp["StatusCode"] == 200
    assert resp["ExecutedVersion"] == "$LATEST"
    assert resp["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    events = read_events(resp)
    body = assert_streamed(events)
    assert body.startswith(b"first|last ")
    assert events[-1][1] == {"InvokeComplete": {}}


def test_a_buffered_function_answers_one_payload_chunk(lambda_client):
    name = unique_name("stream-buf")
    create_function(lambda_client, name, "python3.11", "index.handler",
                    make_zip({"index.py": BUFFERED_PY}), Timeout=10)
    resp = lambda_client.invoke_with_response_stream(
        FunctionName=name, Payload=json.dumps({"who": "you"}).encode(), LogType="Tail")
    events = [e for _, e in read_events(resp)]
    assert len(events) == 2, events
    assert json.loads(events[0]["PayloadChunk"]["Payload"]) == {"hello": "you"}
    log = base64.b64decode(events[1]["InvokeComplete"]["LogResult"]).decode()
    assert "REPORT RequestId:" in log
