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

from conftest import create_function, fixture_zip, make_zip, unique_name

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


# Hako's own Python runtime client streams a generator handler (AWS has no Python streaming):
# each yield is a chunk; a first yield that is a dict with statusCode is a URL's HTTP prelude.
PY_STREAM = """
import time
def handler(event, context):
    if event.get("prelude"):
        yield {"statusCode": 201, "headers": {"content-type": "text/plain", "x-a": "b"},
               "cookies": ["c=1"]}
    yield "first|"
    if event.get("fail"):
        raise ValueError("broke mid-stream")
    for _ in range(event.get("mb", 0)):
        yield b"x" * (1024 * 1024)
    time.sleep(event.get("pause", 1))
    yield "last %.6f" % time.time()
"""

# Hako's own Node runtime client: the awslambda global.
NODE_STREAM = """
export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  if (event.prelude) {
    responseStream = awslambda.HttpResponseStream.from(responseStream, {
      statusCode: 201, headers: { 'content-type': 'text/plain', 'x-a': 'b' }, cookies: ['c=1'] });
  }
  responseStream.write('first|');
  if (event.fail) throw new Error('broke mid-stream');
  await new Promise((r) => setTimeout(r, 1000));
  responseStream.write(`last ${(Date.now() / 1000).toFixed(3)}`);
  responseStream.end();
});
"""


def py_stream(client, **kw) -> str:
    name = unique_name("stream-py")
    create_function(client, name, "python3.11", "index.handler",
                    make_zip({"index.py": PY_STREAM}), Timeout=kw.pop("Timeout", 10), **kw)
    return name


def node_stream(client, zip_bytes: bytes | None = None, runtime: str = "nodejs20.x",
                handler: str = "index.handler") -> str:
    name = unique_name("stream-node")
    create_function(client, name, runtime, handler,
                    zip_bytes or make_zip({"index.mjs": NODE_STREAM}), Timeout=10)
    return name


def node_ric_stream_zip() -> bytes:
    """The aws-lambda-ric fixture with a streaming handler beside its echo handler."""
    import io
    import zipfile
    src = zipfile.ZipFile(io.BytesIO(fixture_zip("node-ric")))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            z.writestr(info, src.read(info))
        info = zipfile.ZipInfo("stream.mjs", date_time=(2000, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        z.writestr(info, NODE_STREAM)
    return out.getvalue()


def invoke_stream(client, name: str, event: dict):
    resp = client.invoke_with_response_stream(FunctionName=name, Payload=json.dumps(event).encode())
    assert resp["StatusCode"] == 200
    return read_events(resp)


def test_python_generator_streams_and_an_error_mid_stream_completes_with_it(lambda_client):
    name = py_stream(lambda_client)
    body = assert_streamed(invoke_stream(lambda_client, name, {}))
    assert body.startswith(b"first|last ")
    events = [e for _, e in invoke_stream(lambda_client, name, {"fail": True})]
    assert events[0] == {"PayloadChunk": {"Payload": b"first|"}}
    assert events[-1] == {"InvokeComplete": {"ErrorCode": "ValueError",
                                             "ErrorDetails": "broke mid-stream"}}
    # A plain Invoke of the streaming function gets the stream collected.
    out = lambda_client.invoke(FunctionName=name, Payload=json.dumps({"pause": 0}).encode())
    assert out["Payload"].read().startswith(b"first|last ")


def test_node_managed_runtime_streams_with_the_awslambda_global(lambda_client):
    name = node_stream(lambda_client)
    body = assert_streamed(invoke_stream(lambda_client, name, {}))
    assert body.startswith(b"first|last ")
    events = [e for _, e in invoke_stream(lambda_client, name, {"fail": True})]
    assert events[-1]["InvokeComplete"]["ErrorCode"] == "Error", events
    assert events[-1]["InvokeComplete"]["ErrorDetails"] == "broke mid-stream"


def test_the_official_aws_lambda_ric_streams_through_hako(lambda_client):
    name = node_stream(lambda_client, node_ric_stream_zip(), runtime="provided.al2023",
                       handler="stream.handler")
    body = assert_streamed(invoke_stream(lambda_client, name, {}))
    assert body.startswith(b"first|last ")
    events = [e for _, e in invoke_stream(lambda_client, name, {"fail": True})]
    assert events[-1]["InvokeComplete"]["ErrorCode"] == "Error", events


def test_a_timeout_mid_stream_completes_with_sandbox_timedout(lambda_client):
    name = py_stream(lambda_client, Timeout=1)
    events = [e for _, e in invoke_stream(lambda_client, name, {"pause": 5})]
    assert events[0] == {"PayloadChunk": {"Payload": b"first|"}}
    done = events[-1]["InvokeComplete"]
    assert done["ErrorCode"] == "Sandbox.Timedout", done
    assert done["ErrorDetails"].endswith("Task timed out after 1.00 seconds"), done


def test_the_six_mb_limit_does_not_apply_to_a_stream(lambda_client):
    name = py_stream(lambda_client)
    events = [e for _, e in invoke_stream(lambda_client, name, {"mb": 7, "pause": 0})]
    body = b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e)
    assert len(body) > 7 * 1024 * 1024
    assert events[-1] == {"InvokeComplete": {}}


# -- function URLs in RESPONSE_STREAM mode ----------------------------------------------------
def stream_url(client, name: str) -> str:
    url = client.create_function_url_config(FunctionName=name, AuthType="NONE",
                                            InvokeMode="RESPONSE_STREAM")["FunctionUrl"]
    return url.split("//", 1)[1].split(".", 1)[0]


def get_streamed(hako, url_id: str, event_path: str):
    """GET on the URL with a real HTTP client: (status, headers, [(time read, bytes)])."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", hako.port, timeout=30)
    conn.putrequest("GET", event_path, skip_host=True)
    conn.putheader("Host", f"{url_id}.lambda-url.us-east-1.on.aws")
    conn.endheaders()
    resp = conn.getresponse()
    chunks = []
    while True:
        data = resp.read1(65536)
        if not data:
            break
        chunks.append((time.time(), data))
    conn.close()
    return resp.status, resp.headers, chunks


URL_EVENT_PY = PY_STREAM.replace('if event.get("prelude")', 'if True')


def test_a_response_stream_url_sends_chunks_as_the_function_writes_them(hako, lambda_client):
    # Node's HttpResponseStream.from gives the status, headers and cookies.
    name = node_stream(lambda_client, make_zip({"index.mjs": NODE_STREAM.replace(
        "if (event.prelude)", "if (true)")}))
    uid = stream_url(lambda_client, name)
    status, headers, chunks = get_streamed(hako, uid, "/")
    assert status == 201
    assert headers["content-type"] == "text/plain"
    assert headers["x-a"] == "b"
    assert headers.get_all("set-cookie") == ["c=1"]
    body = b"".join(c for _, c in chunks)
    assert body.startswith(b"first|last "), body
    assert chunks[0][1].startswith(b"first|") and chunks[0][0] < last_written_at(body), chunks
    # A Python generator with the prelude dict, the same.
    name = unique_name("stream-py")
    create_function(lambda_client, name, "python3.11", "index.handler",
                    make_zip({"index.py": URL_EVENT_PY}), Timeout=10)
    uid = stream_url(lambda_client, name)
    status, headers, chunks = get_streamed(hako, uid, "/")
    assert (status, headers["x-a"]) == (201, "b")
    body = b"".join(c for _, c in chunks)
    assert chunks[0][0] < last_written_at(body), chunks
    # A shell runtime without a prelude: 200 with the stream's content type.
    name = shell_function(lambda_client)
    uid = stream_url(lambda_client, name)
    status, headers, chunks = get_streamed(hako, uid, "/")
    assert (status, headers["content-type"]) == (200, "text/plain")
    body = b"".join(c for _, c in chunks)
    assert chunks[0][0] < last_written_at(body), chunks


def test_the_lambda_runtime_crate_streams_through_hako(hako, lambda_client):
    # The rust-echo fixture with FIXTURE_STREAM: lambda_runtime::streaming, whose responses always
    # open with the HTTP prelude (statusCode 200, content-type application/octet-stream).
    name = unique_name("stream-rust")
    create_function(lambda_client, name, "provided.al2023", "bootstrap", fixture_zip("rust-echo"),
                    Timeout=10, Environment={"Variables": {"FIXTURE_STREAM": "1"}})
    body = assert_streamed(invoke_stream(lambda_client, name, {}))
    # InvokeWithResponseStream passes the bytes as written, the prelude included.
    prelude, rest = body.split(b"\0" * 8, 1)
    assert json.loads(prelude)["statusCode"] == 200, body
    assert rest.startswith(b"first|last "), body
    uid = stream_url(lambda_client, name)
    status, headers, chunks = get_streamed(hako, uid, "/")
    assert (status, headers["content-type"]) == (200, "application/octet-stream")
    body = b"".join(c for _, c in chunks)
    assert body.startswith(b"first|last "), body
    assert chunks[0][0] < last_written_at(body), chunks
