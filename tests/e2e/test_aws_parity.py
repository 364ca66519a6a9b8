"""ARNs and not-found messages as real AWS answers them, through boto3.

The reference for every assertion is an AWS-recorded response in LocalStack's snapshots,
tests/aws/services/lambda_/test_lambda_api.snapshot.json (the test named in each comment,
recorded against AWS: `markers.aws.validated`)."""

from __future__ import annotations

import pytest
from conftest import ROLE, create_function, expect_client_error, fixture_zip, make_zip, unique_name

ECHO = "rust-echo"
ARN = "arn:aws:lambda:us-east-1:123456789012:function"


def echo(client, name=None, **kw) -> str:
    name = name or unique_name("parity")
    create_function(client, name, "provided.al2023", "bootstrap", fixture_zip(ECHO), **kw)
    return name


def not_found(client, op, **kw) -> str:
    return expect_client_error("ResourceNotFoundException", 404, getattr(client, op), **kw)


# -- ARNs in successful answers ---------------------------------------------------------------

def test_create_with_publish_answers_the_unqualified_arn_and_version_1(lambda_client):
    # test_publish_version_on_create: create_response has the unqualified FunctionArn,
    # Version "1", State Pending; GetFunction with Qualifier "1" the qualified one.
    c = lambda_client
    name = unique_name("parity")
    created = c.create_function(FunctionName=name, Runtime="provided.al2023", Role=ROLE,
                                Handler="bootstrap", Code={"ZipFile": fixture_zip(ECHO)},
                                Publish=True)
    assert created["FunctionArn"] == f"{ARN}:{name}"
    assert created["Version"] == "1"
    assert created["State"] == "Pending"
    c.get_waiter("function_active_v2").wait(FunctionName=name,
                                            WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    v1 = c.get_function(FunctionName=name, Qualifier="1")["Configuration"]
    assert (v1["FunctionArn"], v1["Version"]) == (f"{ARN}:{name}:1", "1")


def test_update_code_with_publish_answers_the_qualified_arn(lambda_client):
    # test_publish_with_update: update_function_code_result is ...:NAME:1, Version "1".
    c = lambda_client
    name = echo(c)
    updated = c.update_function_code(FunctionName=name, Publish=True,
                                     ZipFile=make_zip({"bootstrap": "#!/bin/sh\nexit 1\n"}))
    assert (updated["FunctionArn"], updated["Version"]) == (f"{ARN}:{name}:1", "1")


def test_reads_with_qualifier_latest_answer_the_latest_arn(lambda_client):
    # test_publish_version_on_create: get_function_result (no qualifier) is unqualified,
    # get_function_latest_result (Qualifier "$LATEST") ends in :$LATEST.
    c = lambda_client
    name = echo(c)
    assert c.get_function(FunctionName=name)["Configuration"]["FunctionArn"] == f"{ARN}:{name}"
    latest = c.get_function(FunctionName=name, Qualifier="$LATEST")["Configuration"]
    assert (latest["FunctionArn"], latest["Version"]) == (f"{ARN}:{name}:$LATEST", "$LATEST")
    config = c.get_function_configuration(FunctionName=name, Qualifier="$LATEST")
    assert config["FunctionArn"] == f"{ARN}:{name}:$LATEST"
    assert c.get_function_configuration(FunctionName=name)["FunctionArn"] == f"{ARN}:{name}"


def test_list_functions_all_versions_qualifies_every_arn(lambda_client):
    # test_list_functions: list_all has ...:NAME:$LATEST and ...:NAME:1; list_default the
    # unqualified ARN.
    c = lambda_client
    name = echo(c)
    c.publish_version(FunctionName=name)

    def arns(**kw):
        pages = c.get_paginator("list_functions").paginate(**kw).build_full_result()
        return [f["FunctionArn"] for f in pages["Functions"] if f["FunctionName"] == name]

    assert arns(FunctionVersion="ALL") == [f"{ARN}:{name}:$LATEST", f"{ARN}:{name}:1"]
    assert arns() == [f"{ARN}:{name}"]


# -- not-found messages, per operation ---------------------------------------------------------

def test_invoke_not_found_names_latest(lambda_client):
    # test_function_name_and_qualifier_validation[incomplete_arn-invoke]: Invoke of a missing
    # function says ...:NAME:$LATEST; GetFunction and DeleteFunction the unqualified ARN
    # (test_ops_on_nonexisting_fn).
    c = lambda_client
    missing = unique_name("nope")
    assert not_found(c, "invoke", FunctionName=missing) == (
        f"Function not found: {ARN}:{missing}:$LATEST")
    for op in ("get_function", "get_function_configuration", "delete_function",
               "get_function_concurrency"):
        assert not_found(c, op, FunctionName=missing) == f"Function not found: {ARN}:{missing}"


def test_put_function_concurrency_not_found_names_latest(lambda_client):
    # test_function_concurrency_exceptions: put_function_concurrency_with_function_name_doesnotexist.
    missing = unique_name("nope")
    msg = not_found(lambda_client, "put_function_concurrency", FunctionName=missing,
                    ReservedConcurrentExecutions=1)
    assert msg == f"Function not found: {ARN}:{missing}:$LATEST"


def test_reads_with_a_qualifier_name_it(lambda_client):
    # test_ops_with_arn_qualifier_mismatch (match_exception): ...:NAME:$LATEST;
    # test_ops_on_nonexisting_version: ...:NAME:1221; test_alias_lifecycle
    # (get_function_alias_notfound_exc): a missing alias is "Function not found" at its ARN.
    c = lambda_client
    missing = unique_name("nope")
    for op in ("get_function", "get_function_configuration"):
        assert not_found(c, op, FunctionName=f"{ARN}:{missing}:$LATEST", Qualifier="$LATEST") == (
            f"Function not found: {ARN}:{missing}:$LATEST")
    name = echo(c)
    for op in ("get_function", "get_function_configuration"):
        assert not_found(c, op, FunctionName=name, Qualifier="1221") == (
            f"Function not found: {ARN}:{name}:1221")
    assert not_found(c, "get_function", FunctionName=name, Qualifier="aliasdoesnotexist") == (
        f"Function not found: {ARN}:{name}:aliasdoesnotexist")
    assert not_found(c, "get_function", FunctionName=f"{ARN}:{name}:aliasdoesnotexist") == (
        f"Function not found: {ARN}:{name}:aliasdoesnotexist")


def test_alias_not_found_per_operation(lambda_client):
    # test_notfound_and_invalid_routingconfigs (alias_does_not_exist_esc): GetAlias says
    # "Cannot find alias arn"; test_non_existent_alias_update: UpdateAlias "Alias not found".
    c = lambda_client
    name = echo(c)
    assert not_found(c, "get_alias", FunctionName=name, Name="non-existent") == (
        f"Cannot find alias arn: {ARN}:{name}:non-existent")
    assert not_found(c, "update_alias", FunctionName=name, Name="non-existent",
                     FunctionVersion="$LATEST") == f"Alias not found: {ARN}:{name}:non-existent"


def test_delete_of_a_missing_version_is_idempotent(lambda_client):
    # test_delete_on_nonexisting_version: deleting version 1233 of a function that exists
    # succeeds (twice); once the function is gone, both forms say the unqualified ARN.
    c = lambda_client
    name = echo(c)
    c.delete_function(FunctionName=name, Qualifier="1233")
    c.delete_function(FunctionName=name, Qualifier="1233")
    c.delete_function(FunctionName=name)
    assert not_found(c, "delete_function", FunctionName=name) == f"Function not found: {ARN}:{name}"
    assert not_found(c, "delete_function", FunctionName=name, Qualifier="1233") == (
        f"Function not found: {ARN}:{name}")
    # test_function_name_and_qualifier_validation[lowercase_latest_qualifier-delete_function].
    assert not_found(c, "delete_function", FunctionName=name, Qualifier="$latest") == (
        f"Function not found: {ARN}:{name}")


@pytest.mark.parametrize("qualifier", [None, "doesnotexist"])
def test_event_invoke_config_not_found(lambda_client, qualifier):
    # test_lambda_eventinvokeconfig_exceptions: Put, Update and List on a missing function (or
    # alias) say "The function doesn't exist."; Get and Delete that the (qualified) function
    # has no EventInvokeConfig.
    c = lambda_client
    missing = unique_name("nope")
    gone = "The function doesn't exist."
    assert not_found(c, "put_function_event_invoke_config", FunctionName=missing,
                     MaximumRetryAttempts=1) == gone
    assert not_found(c, "put_function_event_invoke_config", FunctionName=f"{ARN}:{missing}",
                     MaximumRetryAttempts=1) == gone
    assert not_found(c, "update_function_event_invoke_config", FunctionName=missing,
                     MaximumRetryAttempts=0) == gone
    assert not_found(c, "list_function_event_invoke_configs", FunctionName=missing) == gone
    assert not_found(c, "get_function_event_invoke_config", FunctionName=missing) == (
        f"The function {ARN}:{missing}:$LATEST doesn't have an EventInvokeConfig")
    assert not_found(c, "delete_function_event_invoke_config", FunctionName=missing) == (
        f"The function {ARN}:{missing}:$LATEST doesn't have an EventInvokeConfig")
    name = echo(c)
    kw = {"Qualifier": qualifier} if qualifier else {}
    shown = f"{ARN}:{name}:{qualifier or '$LATEST'}"
    assert not_found(c, "get_function_event_invoke_config", FunctionName=name, **kw) == (
        f"The function {shown} doesn't have an EventInvokeConfig")
    if qualifier:
        assert not_found(c, "put_function_event_invoke_config", FunctionName=name,
                         MaximumRetryAttempts=1, **kw) == gone
    else:
        assert not_found(c, "update_function_event_invoke_config", FunctionName=name,
                         MaximumRetryAttempts=0) == (
            f"The function {shown} doesn't have an EventInvokeConfig")


@pytest.mark.parametrize("op", ["get_function", "get_function_configuration",
                                "get_function_concurrency", "delete_function", "invoke"])
def test_an_arn_of_another_region_is_not_reachable(lambda_client, op):
    # test_get_function_wrong_region, test_function_arns (function_arn_other_region_exc).
    name = echo(lambda_client)
    other = f"arn:aws:lambda:eu-central-1:123456789012:function:{name}"
    assert not_found(lambda_client, op, FunctionName=other) == (
        "Functions from 'eu-central-1' are not reachable in this region ('us-east-1')")


def test_layer_policy_calls_name_a_missing_layer_version(lambda_client):
    # test_layer_policy_exceptions: layer_permission_layername_doesnotexist_* and
    # layer_permission_layerversion_doesnotexist_*.
    c = lambda_client
    layer = unique_name("parity-layer")
    c.publish_layer_version(LayerName=layer, Content={"ZipFile": make_zip({"x.txt": "x"})})
    arn = "arn:aws:lambda:us-east-1:123456789012:layer"
    for name, version in ((f"{layer}-doesnotexist", 1), (layer, 2)):
        missing = f"Layer version {arn}:{name}:{version} does not exist."
        assert not_found(c, "add_layer_version_permission", LayerName=name,
                         VersionNumber=version, Action="lambda:GetLayerVersion", Principal="*",
                         StatementId="s1") == missing
        assert not_found(c, "get_layer_version_policy", LayerName=name,
                         VersionNumber=version) == missing
        assert not_found(c, "remove_layer_version_permission", LayerName=name,
                         VersionNumber=version, StatementId="s1") == missing
