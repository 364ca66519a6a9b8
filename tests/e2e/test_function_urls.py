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
