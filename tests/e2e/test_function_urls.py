"""Function URLs (issue 13, part 1): the control-plane API through boto3 and the aws CLI, and
requests served on Hako's listener by Host header or path form, turned into AWS's payload
format 2.0 event and back.

AWS's answers cited: LocalStack's AWS-recorded snapshots (repo localstack/localstack,
tests/aws/services/lambda_/test_lambda_api.snapshot.json, TestLambdaUrl::*, and
tests/aws/services/lambda_/test_lambda.snapshot.json / test_lambda.py, TestLambdaURL::*), and
AWS's guide "Invoking Lambda function URLs" (urls-invocation.md of awsdocs/aws-lambda-developer-guide).
"""

from __future__ import annotations

import base64
import http.client
import json
import re

import pytest
from botocore.exceptions import ClientError

from conftest import REGION, client_error, create_function, make_zip, unique_name

ECHO = """
import json
def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps(event)}
"""

URL_RE = re.compile(r"https://([a-z0-9]{32})\.lambda-url\." + REGION + r"\.on\.aws/")
NOT_FOUND = "The resource you requested does not exist."
NO_FUNCTION = "Function does not exist"
QUALIFIER_PATTERN = r"((?!^\d+$)^[0-9a-zA-Z-_]+$)"


def py_function(client, code: str = ECHO, **kw) -> str:
    name = unique_name("url")
    create_function(client, name, "python3.11", "index.handler", make_zip({"index.py": code}),
                    Timeout=10, **kw)
    return name


def err(fn, *args, **kw):
    with pytest.raises(ClientError) as ei:
        fn(*args, **kw)
    return client_error(ei)


@pytest.fixture(scope="module")
def fn_with_alias(lambda_client):
    name = py_function(lambda_client)
    v = lambda_client.publish_version(FunctionName=name)["Version"]
    lambda_client.create_alias(FunctionName=name, Name="urlalias", FunctionVersion=v)
    return name


def test_lifecycle_shapes_and_conflict(lambda_client, fn_with_alias):
    # LocalStack's AWS-recorded TestLambdaUrl::test_url_config_lifecycle.
    name = fn_with_alias
    arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    c = lambda_client.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert c["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert URL_RE.fullmatch(c["FunctionUrl"]), c["FunctionUrl"]
    assert c["FunctionArn"] == arn
    assert c["AuthType"] == "NONE"
    assert "InvokeMode" not in c and "LastModifiedTime" not in c and "Cors" not in c
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", c["CreationTime"])

    code, status, msg = err(lambda_client.create_function_url_config, FunctionName=name,
                            AuthType="NONE")
    assert (code, status) == ("ResourceConflictException", 409)
    assert msg == (f"Failed to create function url config for [functionArn = {arn}]. "
                   "Error message:  FunctionUrlConfig exists for this Lambda function")

    g = lambda_client.get_function_url_config(FunctionName=name)
    assert g["InvokeMode"] == "BUFFERED"
    assert g["FunctionUrl"] == c["FunctionUrl"]
    assert g["CreationTime"] == c["CreationTime"] == g["LastModifiedTime"]

    u = lambda_client.update_function_url_config(FunctionName=name, AuthType="AWS_IAM")
    assert u["AuthType"] == "AWS_IAM" and "InvokeMode" not in u
    u = lambda_client.update_function_url_config(
        FunctionName=name, InvokeMode="RESPONSE_STREAM",
        Cors={"AllowOrigins": ["https://example.com"], "MaxAge": 300})
    assert u["InvokeMode"] == "RESPONSE_STREAM"
    assert u["Cors"] == {"AllowOrigins": ["https://example.com"], "MaxAge": 300}
    # An update without InvokeMode keeps it (TestLambdaURL::test_lambda_update_function_url_config).
    u = lambda_client.update_function_url_config(FunctionName=name)
    assert u["InvokeMode"] == "RESPONSE_STREAM" and u["AuthType"] == "AWS_IAM"

    lambda_client.delete_function_url_config(FunctionName=name)
    code, status, msg = err(lambda_client.get_function_url_config, FunctionName=name)
    assert (code, status, msg) == ("ResourceNotFoundException", 404, NOT_FOUND)


def test_name_and_qualifier_errors_are_awss(lambda_client, fn_with_alias):
    # LocalStack's AWS-recorded TestLambdaUrl::test_url_config_exceptions.
    name = fn_with_alias
    arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    missing_arn = arn.replace(name, "doesnotexist")
    ops = {
        "create": (lambda_client.create_function_url_config, {"AuthType": "NONE"}, NO_FUNCTION),
        "get": (lambda_client.get_function_url_config, {}, NOT_FOUND),
        "delete": (lambda_client.delete_function_url_config, {}, NOT_FOUND),
        "update": (lambda_client.update_function_url_config, {"AuthType": "AWS_IAM"}, NO_FUNCTION),
    }
    for op, (fn, extra, missing) in ops.items():
        for args in ({"FunctionName": "doesnotexist"}, {"FunctionName": missing_arn},
                     {"FunctionName": name, "Qualifier": "v1"}):
            assert err(fn, **args, **extra) == ("ResourceNotFoundException", 404, missing), (op, args)
        for q in ("1", "2", "$LATEST"):
            assert err(fn, FunctionName=name, Qualifier=q, **extra) == (
                "ValidationException", 400,
                f"1 validation error detected: Value '{q}' at 'qualifier' failed to satisfy "
                f"constraint: Member must satisfy regular expression pattern: {QUALIFIER_PATTERN}"), (op, q)
        if op != "delete":  # AWS answers InternalFailure there (the snapshot says so)
            assert err(fn, FunctionName=f"{name}:urlalias-doesnotmatch", Qualifier="urlalias",
                       **extra) == (
                "InvalidParameterValueException", 400,
                "The derived qualifier from the function name does not match the specified qualifier."), op
    for op in ("get", "delete", "update"):
        fn, extra, _ = ops[op]
        assert err(fn, FunctionName=name, **extra) == ("ResourceNotFoundException", 404, NOT_FOUND), op
    # TestLambdaURL::test_lambda_url_invalid_invoke_mode.
    assert err(lambda_client.create_function_url_config, FunctionName=name, AuthType="NONE",
               InvokeMode="UNKNOWN") == (
        "ValidationException", 400,
        "1 validation error detected: Value 'UNKNOWN' at 'invokeMode' failed to satisfy "
        "constraint: Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]")


def test_list_pages_and_an_alias_keeps_its_url(lambda_client, fn_with_alias):
    # TestLambdaUrl::test_url_config_list_paging and test_url_config_deletion_without_qualifier.
    name = fn_with_alias
    assert err(lambda_client.list_function_url_configs, FunctionName="doesnotexist") == (
        "ResourceNotFoundException", 404, NO_FUNCTION)
    assert lambda_client.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"] == []
    fn_url = lambda_client.create_function_url_config(FunctionName=name, AuthType="NONE")
    al_url = lambda_client.create_function_url_config(FunctionName=f"{name}:urlalias",
                                                      Qualifier="urlalias", AuthType="NONE")
    assert al_url["FunctionArn"].endswith(f":function:{name}:urlalias")
    listed = lambda_client.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert sorted(c["FunctionUrl"] for c in listed) == sorted([fn_url["FunctionUrl"],
                                                               al_url["FunctionUrl"]])
    assert all(c["InvokeMode"] == "BUFFERED" and "LastModifiedTime" in c for c in listed)
    one = lambda_client.list_function_url_configs(FunctionName=name, MaxItems=1)
    assert len(one["FunctionUrlConfigs"]) == 1
    two = lambda_client.list_function_url_configs(FunctionName=name, MaxItems=1,
                                                  Marker=one["NextMarker"])
    assert len(two["FunctionUrlConfigs"]) == 1
    assert two["FunctionUrlConfigs"][0]["FunctionUrl"] != one["FunctionUrlConfigs"][0]["FunctionUrl"]
    lambda_client.delete_function_url_config(FunctionName=name)
    assert lambda_client.get_function_url_config(FunctionName=name, Qualifier="urlalias")
    lambda_client.delete_function_url_config(FunctionName=name, Qualifier="urlalias")


def test_the_aws_cli_speaks_it(aws, lambda_client):
    name = py_function(lambda_client)
    rc, out, errout = aws("lambda", "create-function-url-config", "--function-name", name,
                          "--auth-type", "NONE", "--cors",
                          "AllowOrigins=https://a.example,AllowMethods=GET,MaxAge=60",
                          parse_json=True)
    assert rc == 0, errout
    assert URL_RE.fullmatch(out["FunctionUrl"])
    assert out["Cors"] == {"AllowOrigins": ["https://a.example"], "AllowMethods": ["GET"],
                           "MaxAge": 60}
    rc, got, errout = aws("lambda", "get-function-url-config", "--function-name", name,
                          parse_json=True)
    assert rc == 0 and got["FunctionUrl"] == out["FunctionUrl"], errout
    rc, listed, errout = aws("lambda", "list-function-url-configs", "--function-name", name,
                             parse_json=True)
    assert rc == 0 and [c["FunctionUrl"] for c in listed["FunctionUrlConfigs"]] == [out["FunctionUrl"]]
    rc, _, errout = aws("lambda", "delete-function-url-config", "--function-name", name)
    assert rc == 0, errout
    rc, _, errout = aws("lambda", "get-function-url-config", "--function-name", name)
    assert rc != 0 and "ResourceNotFoundException" in errout and NOT_FOUND in errout


def test_deleting_the_function_deletes_its_urls(lambda_client):
    name = py_function(lambda_client)
    lambda_client.create_function_url_config(FunctionName=name, AuthType="NONE")
    lambda_client.delete_function(FunctionName=name)
    # A new function of the old name starts without a URL.
    create_function(lambda_client, name, "python3.11", "index.handler",
                    make_zip({"index.py": ECHO}))
    assert err(lambda_client.get_function_url_config, FunctionName=name) == (
        "ResourceNotFoundException", 404, NOT_FOUND)


# -- serving ----------------------------------------------------------------------------------
APP = """
import base64, json
def handler(event, context):
    mode = (event.get("queryStringParameters") or {}).get("mode")
    if mode == "error":
        raise RuntimeError("boom")
    if mode == "plain":
        return {"hello": "world", "n": [1, 2]}
    if mode == "string":
        return "just text"
    if mode == "binary":
        return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
                "body": base64.b64encode(bytes(range(256))).decode(), "isBase64Encoded": True}
    return {"statusCode": 201,
            "headers": {"content-type": "application/json", "x-custom": "yes"},
            "cookies": ["c1=v1; Path=/", "c2=v2"],
            "body": json.dumps({"event": event, "arn": context.invoked_function_arn,
                                "version": context.function_version,
                                "request_id": context.aws_request_id})}
"""

HTTP_TIMEOUT_S = 30


def url_id(url: str) -> str:
    m = URL_RE.fullmatch(url)
    assert m, url
    return m.group(1)


def request(hako, method: str, path: str, host: str | None = None, body: bytes | None = None,
            headers: list[tuple[str, str]] = ()):
    """One HTTP/1.1 request to the server (Host set when given), bounded; (status, headers as a
    list of pairs, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", hako.port, timeout=HTTP_TIMEOUT_S)
    try:
        conn.putrequest(method, path, skip_host=host is not None, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        for k, v in headers:
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


def header(headers, name):
    return [v for k, v in headers if k.lower() == name.lower()]


@pytest.fixture(scope="module")
def app(lambda_client):
    name = py_function(lambda_client, APP)
    v = lambda_client.publish_version(FunctionName=name)["Version"]
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion=v)
    url = lambda_client.create_function_url_config(
        FunctionName=name, AuthType="NONE",
        Cors={"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"],
              "AllowHeaders": ["x-custom"], "ExposeHeaders": ["x-custom"], "MaxAge": 600})
    return name, url_id(url["FunctionUrl"])


def test_the_request_becomes_the_payload_format_2_event(hako, app):
    name, uid = app
    host = f"{uid}.lambda-url.{REGION}.on.aws"
    status, headers, body = request(
        hako, "POST", "/some/path?q=1&q=2&z=a%20b", host=host, body=b'{"k": "v"}',
        headers=[("Content-Type", "application/json"), ("User-Agent", "url-test/1"),
                 ("X-Rep", "a"), ("X-Rep", "b"), ("Cookie", "s1=x; s2=y")])
    assert status == 201, body
    # Cookies as Set-Cookie (the guide's cookies example), the function's headers kept.
    assert header(headers, "set-cookie") == ["c1=v1; Path=/", "c2=v2"]
    assert header(headers, "x-custom") == ["yes"]
    out = json.loads(body)
    e = out["event"]
    assert e["version"] == "2.0" and e["routeKey"] == "$default"
    assert e["rawPath"] == "/some/path"
    assert e["rawQueryString"] == "q=1&q=2&z=a%20b"
    assert e["queryStringParameters"] == {"q": "1,2", "z": "a b"}
    assert e["cookies"] == ["s1=x", "s2=y"]
    assert "cookie" not in e["headers"]
    assert e["headers"]["x-rep"] == "a,b"
    assert e["headers"]["host"] == host
    assert e["headers"]["user-agent"] == "url-test/1"
    assert e["body"] == '{"k": "v"}' and e["isBase64Encoded"] is False
    rc = e["requestContext"]
    assert rc["accountId"] == "anonymous"
    assert rc["apiId"] == rc["domainPrefix"] == uid
    assert rc["domainName"] == host
    assert rc["http"] == {"method": "POST", "path": "/some/path", "protocol": "HTTP/1.1",
                          "sourceIp": "127.0.0.1", "userAgent": "url-test/1"}
    assert rc["routeKey"] == rc["stage"] == "$default"
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", rc["time"]), rc["time"]
    assert isinstance(rc["timeEpoch"], int)
    # One request id: the event's, the function's context and the answer's header.
    assert rc["requestId"] == out["request_id"] == header(headers, "x-amzn-requestid")[0]
    assert out["arn"].endswith(f":function:{name}") and out["version"] == "$LATEST"


def test_local_dns_names_and_the_path_form_reach_the_url(hako, app):
    _, uid = app
    status, _, body = request(hako, "GET", "/x",
                              host=f"{uid.upper()}.lambda-url.{REGION}.localhost:{hako.port}")
    assert status == 201
    assert json.loads(body)["event"]["rawPath"] == "/x"
    status, _, body = request(hako, "GET", f"/_hako/urls/{uid}/deep/er?mode=plain")
    assert (status, json.loads(body)) == (200, {"hello": "world", "n": [1, 2]})
    status, _, body = request(hako, "GET", f"/_hako/urls/{uid}")
    e = json.loads(body)["event"]
    assert e["rawPath"] == "/"
    assert e["requestContext"]["domainName"] == f"{uid}.lambda-url.{REGION}.on.aws"


def test_binary_bodies_both_ways(hako, app):
    _, uid = app
    data = bytes(range(256))
    status, _, body = request(hako, "PUT", f"/_hako/urls/{uid}/bin", body=data,
                              headers=[("Content-Type", "application/octet-stream")])
    e = json.loads(body)["event"]
    assert e["isBase64Encoded"] is True and base64.b64decode(e["body"]) == data
    status, headers, body = request(hako, "GET", f"/_hako/urls/{uid}/?mode=binary")
    assert status == 200 and body == data
    assert header(headers, "content-type") == ["application/octet-stream"]


def test_inferred_answers_and_a_function_error(hako, app):
    _, uid = app
    # A plain object: 200 application/json, compact (LocalStack's AWS-recorded
    # TestLambdaURL::test_lambda_url_invocation[dict]); a string as its text ([string]).
    status, headers, body = request(hako, "GET", f"/_hako/urls/{uid}/?mode=plain")
    assert (status, body) == (200, b'{"hello":"world","n":[1,2]}')
    assert header(headers, "content-type") == ["application/json"]
    status, headers, body = request(hako, "GET", f"/_hako/urls/{uid}/?mode=string")
    assert (status, body) == (200, b"just text")
    # A function error: 502 "Internal Server Error" (test_lambda_url_invocation_exception).
    status, _, body = request(hako, "GET", f"/_hako/urls/{uid}/?mode=error")
    assert (status, body) == (502, b"Internal Server Error")


def test_cors_preflight_and_response_headers(hako, app):
    _, uid = app
    path = f"/_hako/urls/{uid}/"
    status, headers, body = request(hako, "OPTIONS", path, headers=[
        ("Origin", "https://app.example"), ("Access-Control-Request-Method", "POST")])
    assert (status, body) == (200, b""), "answered without the function (its answer is 201)"
    assert header(headers, "access-control-allow-origin") == ["https://app.example"]
    assert header(headers, "access-control-allow-methods") == ["GET,POST"]
    assert header(headers, "access-control-allow-headers") == ["x-custom"]
    assert header(headers, "access-control-max-age") == ["600"]
    status, headers, _ = request(hako, "GET", path, headers=[("Origin", "https://app.example")])
    assert status == 201
    assert header(headers, "access-control-allow-origin") == ["https://app.example"]
    assert header(headers, "access-control-expose-headers") == ["x-custom"]
    status, headers, _ = request(hako, "GET", path, headers=[("Origin", "https://evil.example")])
    assert status == 201
    assert not [k for k, _ in headers if k.lower().startswith("access-control-")]


def test_an_alias_url_runs_the_alias_and_a_deleted_url_is_unknown(hako, lambda_client, app):
    name, _ = app
    url = lambda_client.create_function_url_config(FunctionName=name, Qualifier="live",
                                                   AuthType="NONE")
    uid = url_id(url["FunctionUrl"])
    status, _, body = request(hako, "GET", "/", host=f"{uid}.lambda-url.{REGION}.on.aws")
    out = json.loads(body)
    assert status == 201
    assert out["arn"].endswith(f":function:{name}:live") and out["version"] == "1"
    lambda_client.delete_function_url_config(FunctionName=name, Qualifier="live")
    # An unknown URL id: 403 {"Message":null} (TestLambdaURL::test_lambda_url_non_existing_url).
    status, headers, body = request(hako, "GET", "/", host=f"{uid}.lambda-url.{REGION}.on.aws")
    assert (status, body) == (403, b'{"Message":null}')
    assert header(headers, "x-amzn-errortype") == ["AccessDeniedException"]
    assert header(headers, "content-type") == ["application/json"]


def test_hako_urls_lists_them(hako, app):
    import subprocess
    from conftest import hako_cmd, hako_env
    name, uid = app
    p = subprocess.run(hako_cmd("urls", "--data-dir", str(hako.data_dir)), capture_output=True,
                       text=True, timeout=30, env=hako_env())
    assert p.returncode == 0, p.stderr
    line = next(l for l in p.stdout.splitlines() if l.startswith(name))
    assert f"https://{uid}.lambda-url.{REGION}.on.aws/" in line and f"/_hako/urls/{uid}/" in line


POWERTOOLS_APP = """
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.shared.cookies import Cookie

app = APIGatewayHttpResolver()

@app.get("/hello/<name>")
def hello(name):
    ev = app.current_event
    return {"hello": name, "x": ev.get_query_string_value("x"), "cookies": ev.cookies,
            "agent": ev.request_context.http.user_agent}

@app.post("/echo")
def echo():
    return Response(status_code=201, content_type=content_types.TEXT_PLAIN,
                    body=app.current_event.decoded_body,
                    cookies=[Cookie(name="session", value="abc")])

def handler(event, context):
    return app.resolve(event, context)
"""


def package_with_powertools(code: str) -> bytes:
    """A zip of `index.py` and aws_lambda_powertools with its dependencies (pure Python), from
    the test's own environment."""
    import importlib
    from pathlib import Path
    files: dict[str, bytes] = {"index.py": code.encode()}
    for mod in ("aws_lambda_powertools", "jmespath", "typing_extensions"):
        m = importlib.import_module(mod)
        path = Path(m.__file__)
        if path.name == "__init__.py":
            root = path.parent
            for f in root.rglob("*"):
                if f.is_file() and "__pycache__" not in f.parts and f.suffix in (".py", ".typed", ".json"):
                    files[str(Path(mod) / f.relative_to(root))] = f.read_bytes()
        else:
            files[path.name] = path.read_bytes()
    return make_zip(files)


def test_a_powertools_http_resolver_app_behind_a_url(hako, lambda_client):
    name = unique_name("pt")
    create_function(lambda_client, name, "python3.11", "index.handler",
                    package_with_powertools(POWERTOOLS_APP), Timeout=30, MemorySize=256)
    uid = url_id(lambda_client.create_function_url_config(FunctionName=name,
                                                          AuthType="NONE")["FunctionUrl"])
    host = f"{uid}.lambda-url.{REGION}.on.aws"
    status, headers, body = request(hako, "GET", "/hello/ann?x=1", host=host,
                                    headers=[("Cookie", "a=1; b=2"), ("User-Agent", "pt/1")])
    assert status == 200, body
    assert json.loads(body) == {"hello": "ann", "x": "1", "cookies": ["a=1", "b=2"],
                                "agent": "pt/1"}
    status, headers, body = request(hako, "POST", "/echo", host=host, body=b"\x00\x01bin",
                                    headers=[("Content-Type", "application/octet-stream")])
    assert (status, body) == (201, b"\x00\x01bin")
    assert header(headers, "content-type") == ["text/plain"]
    assert [c.split(";")[0] for c in header(headers, "set-cookie")] == ["session=abc"]
    status, _, body = request(hako, "GET", "/nowhere", host=host)
    assert status == 404, body


def test_a_request_past_six_mb_is_refused(hako, app):
    _, uid = app
    # Invoke's 6 MB (6,291,456 bytes) request limit applies to the event.
    status, _, body = request(hako, "POST", f"/_hako/urls/{uid}/", body=b"x" * (6_291_456 + 1),
                              headers=[("Content-Type", "text/plain")])
    assert status == 413, body
    status, _, _ = request(hako, "POST", f"/_hako/urls/{uid}/", body=b"x" * 1_000_000,
                           headers=[("Content-Type", "text/plain")])
    assert status == 201


def test_reserved_concurrency_zero_throttles_the_url(hako, lambda_client):
    # AWS's guide ("Deactivating function URLs"): reserved concurrency 0 throttles every request
    # to the URL, answered 429.
    name = py_function(lambda_client)
    uid = url_id(lambda_client.create_function_url_config(FunctionName=name,
                                                          AuthType="NONE")["FunctionUrl"])
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    status, headers, body = request(hako, "GET", f"/_hako/urls/{uid}/")
    assert status == 429, body
    lambda_client.delete_function_concurrency(FunctionName=name)
    status, _, _ = request(hako, "GET", f"/_hako/urls/{uid}/")
    assert status == 200
