"""Versions, aliases (with weighted routing) and tags through the real boto3 and aws CLI:
shapes, errors, immutability, qualified invocations, persistence."""

from __future__ import annotations

import json
import math

import botocore.exceptions
import pytest
from conftest import boto_lambda_client, create_function, fixture_zip, make_zip, unique_name

ECHO = "rust-echo"
ACCOUNT = "123456789012"


def arn(name: str, qualifier: str | None = None) -> str:
    base = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def error_of(excinfo) -> tuple[str, int, str]:
    e = excinfo.value.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Message"]


def echo(client, color="blue", **kw) -> str:
    name = unique_name("va")
    create_function(client, name, "provided.al2023", "bootstrap", fixture_zip(ECHO),
                    Environment={"Variables": {"COLOR": color}}, **kw)
    return name


def set_color(client, name, color):
    client.update_function_configuration(FunctionName=name,
                                         Environment={"Variables": {"COLOR": color}})
    client.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})


def color_of(client, name, qualifier=None) -> tuple[str, str]:
    kw = {"Qualifier": qualifier} if qualifier else {}
    out = client.invoke(FunctionName=name, Payload=json.dumps({"env": "COLOR"}), **kw)
    assert "FunctionError" not in out, out
    return json.loads(out["Payload"].read()), out["ExecutedVersion"]


def expect_error(code, status, fn, *args, **kw) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        fn(*args, **kw)
    got = error_of(ei)
    assert got[:2] == (code, status), got
    return got[2]


# -- versions --------------------------------------------------------------------------------
def test_publish_list_get_and_immutability(lambda_client):
    c = lambda_client
    name = echo(c, "blue")
    latest = c.get_function_configuration(FunctionName=name)
    v1 = c.publish_version(FunctionName=name, Description="first")
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert v1["Version"] == "1"
    assert v1["FunctionArn"] == arn(name, "1")
    assert v1["Description"] == "first"
    assert v1["CodeSha256"] == latest["CodeSha256"]
    assert v1["State"] == "Active" and v1["LastUpdateStatus"] == "Successful"
    assert v1["RevisionId"] != latest["RevisionId"]
    # Publishing takes a new RevisionId for $LATEST too.
    assert c.get_function_configuration(FunctionName=name)["RevisionId"] != latest["RevisionId"]

    # Nothing changed: the same version comes back.
    again = c.publish_version(FunctionName=name)
    assert again["Version"] == "1" and again["RevisionId"] == v1["RevisionId"]

    set_color(c, name, "green")
    v2 = c.publish_version(FunctionName=name)
    assert v2["Version"] == "2"

    # $LATEST changes; version 1 does not.
    set_color(c, name, "red")
    assert color_of(c, name) == ("red", "$LATEST")
    assert color_of(c, name, "1") == ("blue", "1")
    assert color_of(c, f"{name}:2") == ("green", "2")
    assert color_of(c, arn(name, "1")) == ("blue", "1")
    assert color_of(c, name, "$LATEST") == ("red", "$LATEST")

    got = c.get_function(FunctionName=name, Qualifier="1")
    assert got["Configuration"]["Version"] == "1"
    assert got["Configuration"]["FunctionArn"] == arn(name, "1")
    assert got["Configuration"]["Environment"]["Variables"] == {"COLOR": "blue"}
    assert c.get_function_configuration(FunctionName=f"{name}:2")["Environment"]["Variables"] == {"COLOR": "green"}

    versions = c.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert versions[0]["FunctionArn"] == arn(name, "$LATEST")
    assert versions[1]["Description"] == "first"

    # Pagination: one at a time.
    seen, marker = [], None
    while True:
        kw = {"Marker": marker} if marker else {}
        page = c.list_versions_by_function(FunctionName=name, MaxItems=1, **kw)
        seen += [v["Version"] for v in page["Versions"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert seen == ["$LATEST", "1", "2"]
    assert [v["Version"] for v in c.get_paginator("list_versions_by_function")
            .paginate(FunctionName=name, PaginationConfig={"PageSize": 2})
            .build_full_result()["Versions"]] == ["$LATEST", "1", "2"]

    # ListFunctions with FunctionVersion=ALL shows the versions in order.
    all_versions = [f["Version"] for f in c.get_paginator("list_functions")
                    .paginate(FunctionVersion="ALL").build_full_result()["Functions"]
                    if f["FunctionName"] == name]
    assert all_versions == ["$LATEST", "1", "2"]


def test_updates_only_change_latest(lambda_client):
    c = lambda_client
    name = echo(c)
    c.publish_version(FunctionName=name)
    expect_error("InvalidParameterValueException", 400, c.update_function_configuration,
                 FunctionName=f"{name}:1", Timeout=9)
    assert c.get_function_configuration(FunctionName=name, Qualifier="1")["Timeout"] == 3


def test_publish_guards(lambda_client):
    c = lambda_client
    name = echo(c)
    cfg = c.get_function_configuration(FunctionName=name)
    msg = expect_error("InvalidParameterValueException", 400, c.publish_version,
                       FunctionName=name, CodeSha256="bm9wZQ==")
    assert msg.startswith("CodeSHA256 (bm9wZQ==) is different from current CodeSHA256 in $LATEST")
    expect_error("PreconditionFailedException", 412, c.publish_version,
                 FunctionName=name, RevisionId="stale")
    assert [v["Version"] for v in c.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST"]
    assert c.get_function_configuration(FunctionName=name)["RevisionId"] == cfg["RevisionId"]
    v = c.publish_version(FunctionName=name, CodeSha256=cfg["CodeSha256"], RevisionId=cfg["RevisionId"])
    assert v["Version"] == "1"
    expect_error("ResourceNotFoundException", 404, c.publish_version, FunctionName=unique_name("none"))
    expect_error("ValidationException", 400, c.publish_version, FunctionName=name, Description="x" * 257)


def test_publish_on_create_and_update_code(lambda_client):
    c = lambda_client
    name = unique_name("va")
    created = c.create_function(FunctionName=name, Runtime="provided.al2023", Handler="bootstrap",
                                Role="arn:aws:iam::123456789012:role/r", Publish=True,
                                Code={"ZipFile": fixture_zip(ECHO)})
    # The unqualified ARN with Version 1 (LocalStack's AWS-recorded snapshot, test_lambda_api:
    # test_publish_version_on_create).
    assert created["Version"] == "1" and created["FunctionArn"] == arn(name)
    c.get_waiter("function_active_v2").wait(FunctionName=name)
    other = make_zip({"bootstrap": "#!/bin/sh\nexit 1\n"})
    updated = c.update_function_code(FunctionName=name, ZipFile=other, Publish=True)
    assert updated["Version"] == "2"
    assert c.get_function_configuration(FunctionName=name, Qualifier="1")["CodeSha256"] == created["CodeSha256"]
    assert c.get_function_configuration(FunctionName=name, Qualifier="2")["CodeSha256"] == updated["CodeSha256"]
    assert c.invoke(FunctionName=name, Qualifier="1", Payload=b'{"a":1}')["Payload"].read() == b'{"a":1}'


def test_delete_version(lambda_client):
    c = lambda_client
    name = echo(c)
    c.publish_version(FunctionName=name)
    set_color(c, name, "green")
    c.publish_version(FunctionName=name)
    c.delete_function(FunctionName=name, Qualifier="1")
    expect_error("ResourceNotFoundException", 404, c.get_function, FunctionName=name, Qualifier="1")
    expect_error("ResourceNotFoundException", 404, c.invoke, FunctionName=name, Qualifier="1")
    # Deleting it again is no error (LocalStack's AWS-recorded snapshot, test_lambda_api:
    # test_delete_on_nonexisting_version).
    c.delete_function(FunctionName=name, Qualifier="1")
    assert [v["Version"] for v in c.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST", "2"]
    # Numbers are never reused.
    set_color(c, name, "red")
    assert c.publish_version(FunctionName=name)["Version"] == "3"
    expect_error("InvalidParameterValueException", 400, c.delete_function,
                 FunctionName=name, Qualifier="$LATEST")
    c.delete_function(FunctionName=name)
    expect_error("ResourceNotFoundException", 404, c.list_versions_by_function, FunctionName=name)


# -- aliases ---------------------------------------------------------------------------------
def two_versions(c) -> str:
    name = echo(c, "blue")
    c.publish_version(FunctionName=name)
    set_color(c, name, "green")
    c.publish_version(FunctionName=name)
    set_color(c, name, "red")
    return name


def test_alias_crud(lambda_client):
    c = lambda_client
    name = two_versions(c)
    a = c.create_alias(FunctionName=name, Name="live", FunctionVersion="1", Description="prod")
    assert a["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert a["AliasArn"] == arn(name, "live")
    assert (a["Name"], a["FunctionVersion"], a["Description"]) == ("live", "1", "prod")
    assert "RoutingConfig" not in a and a["RevisionId"]
    got = c.get_alias(FunctionName=name, Name="live")
    assert {k: got[k] for k in ("AliasArn", "RevisionId")} == {k: a[k] for k in ("AliasArn", "RevisionId")}
    c.create_alias(FunctionName=name, Name="beta", FunctionVersion="2")
    c.create_alias(FunctionName=name, Name="dev", FunctionVersion="$LATEST")

    names = [x["Name"] for x in c.list_aliases(FunctionName=name)["Aliases"]]
    assert names == ["beta", "dev", "live"]
    assert [x["Name"] for x in c.list_aliases(FunctionName=name, FunctionVersion="2")["Aliases"]] == ["beta"]
    page = c.list_aliases(FunctionName=name, MaxItems=2)
    assert len(page["Aliases"]) == 2 and page["NextMarker"]
    rest = c.list_aliases(FunctionName=name, Marker=page["NextMarker"])
    assert [x["Name"] for x in rest["Aliases"]] == ["live"] and "NextMarker" not in rest

    # Through the alias: the version it names, under the alias's ARN.
    cfg = c.get_function_configuration(FunctionName=name, Qualifier="live")
    assert cfg["Version"] == "1" and cfg["FunctionArn"] == arn(name, "live")
    assert color_of(c, name, "live") == ("blue", "1")
    assert color_of(c, f"{name}:beta") == ("green", "2")
    assert color_of(c, arn(name, "dev")) == ("red", "$LATEST")
    ctx = json.loads(c.invoke(FunctionName=arn(name, "live"), Payload=b'{"context": true}')["Payload"].read())
    assert ctx["invoked_function_arn"] == arn(name, "live")
    assert ctx["function_version"] == "1"

    up = c.update_alias(FunctionName=name, Name="live", FunctionVersion="2", RevisionId=a["RevisionId"])
    assert up["FunctionVersion"] == "2" and up["Description"] == "prod"
    assert up["RevisionId"] != a["RevisionId"]
    assert color_of(c, name, "live") == ("green", "2")
    expect_error("PreconditionFailedException", 412, c.update_alias,
                 FunctionName=name, Name="live", FunctionVersion="1", RevisionId=a["RevisionId"])
    assert c.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "2"

    c.delete_alias(FunctionName=name, Name="live")
    msg = expect_error("ResourceNotFoundException", 404, c.get_alias, FunctionName=name, Name="live")
    assert msg == f"Cannot find alias arn: {arn(name, 'live')}"
    expect_error("ResourceNotFoundException", 404, c.invoke, FunctionName=name, Qualifier="live")
    expect_error("ResourceNotFoundException", 404, c.delete_alias, FunctionName=name, Name="live")


def test_alias_errors_store_nothing(lambda_client):
    c = lambda_client
    name = two_versions(c)
    c.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    cases = [
        ("ResourceConflictException", 409, dict(Name="live", FunctionVersion="2")),
        ("ResourceNotFoundException", 404, dict(Name="x1", FunctionVersion="7")),
        ("ValidationException", 400, dict(Name="123", FunctionVersion="1")),
        ("ValidationException", 400, dict(Name="a" * 129, FunctionVersion="1")),
        ("ValidationException", 400, dict(Name="x2", FunctionVersion="one")),
        ("InvalidParameterValueException", 400,
         dict(Name="x3", FunctionVersion="$LATEST", RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})),
        ("InvalidParameterValueException", 400,
         dict(Name="x4", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})),
        ("InvalidParameterValueException", 400,
         dict(Name="x5", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 0.1, "3": 0.1}})),
        ("ValidationException", 400,
         dict(Name="x6", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 1.5}})),
        ("ResourceNotFoundException", 404,
         dict(Name="x7", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"9": 0.5}})),
    ]
    for code, status, kw in cases:
        expect_error(code, status, c.create_alias, FunctionName=name, **kw)
    expect_error("ResourceNotFoundException", 404, c.create_alias,
                 FunctionName=unique_name("none"), Name="live", FunctionVersion="1")
    assert [a["Name"] for a in c.list_aliases(FunctionName=name)["Aliases"]] == ["live"]
    before = c.get_alias(FunctionName=name, Name="live")
    expect_error("InvalidParameterValueException", 400, c.update_alias, FunctionName=name, Name="live",
                 FunctionVersion="$LATEST", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    expect_error("ResourceNotFoundException", 404, c.update_alias, FunctionName=name, Name="live",
                 FunctionVersion="8")
    after = c.get_alias(FunctionName=name, Name="live")
    assert (after["FunctionVersion"], after["RevisionId"]) == (before["FunctionVersion"], before["RevisionId"])


def test_weighted_alias_splits_invocations(lambda_client):
    c = lambda_client
    name = two_versions(c)
    weight, n = 0.3, 300
    c.create_alias(FunctionName=name, Name="canary", FunctionVersion="1",
                   RoutingConfig={"AdditionalVersionWeights": {"2": weight}})
    assert c.get_alias(FunctionName=name, Name="canary")["RoutingConfig"] == {"AdditionalVersionWeights": {"2": weight}}
    ran = {"1": 0, "2": 0}
    for _ in range(n):
        color, version = color_of(c, name, "canary")
        assert color == {"1": "blue", "2": "green"}[version]
        ran[version] += 1
    expected = n * weight
    sigma = math.sqrt(n * weight * (1 - weight))
    assert abs(ran["2"] - expected) <= 4 * sigma, ran
    # Routing off: every invocation runs the primary version.
    c.update_alias(FunctionName=name, Name="canary", RoutingConfig={"AdditionalVersionWeights": {}})
    assert "RoutingConfig" not in c.get_alias(FunctionName=name, Name="canary")
    assert {color_of(c, arn(name, "canary"))[1] for _ in range(20)} == {"1"}


def test_deleting_a_version_an_alias_uses_is_refused(lambda_client):
    c = lambda_client
    name = two_versions(c)
    c.create_alias(FunctionName=name, Name="live", FunctionVersion="1",
                   RoutingConfig={"AdditionalVersionWeights": {"2": 0.2}})
    for v in ("1", "2"):
        msg = expect_error("ResourceConflictException", 409, c.delete_function, FunctionName=name, Qualifier=v)
        assert msg == "Unable to delete version because the following aliases reference it: [live]"
    assert [v["Version"] for v in c.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST", "1", "2"]
    c.update_alias(FunctionName=name, Name="live", FunctionVersion="2", RoutingConfig={})
    c.delete_function(FunctionName=name, Qualifier="1")
    # Deleting the function takes its aliases with it.
    c.delete_function(FunctionName=name)
    expect_error("ResourceNotFoundException", 404, c.get_alias, FunctionName=name, Name="live")


def test_aliases_with_the_aws_cli(aws, lambda_client):
    name = two_versions(lambda_client)
    rc, out, err = aws("lambda", "create-alias", "--function-name", name, "--name", "live",
                       "--function-version", "1", "--routing-config",
                       "AdditionalVersionWeights={2=0.5}", parse_json=True)
    assert rc == 0, err
    assert out["AliasArn"] == arn(name, "live")
    assert out["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.5}
    rc, out, err = aws("lambda", "list-versions-by-function", "--function-name", name, parse_json=True)
    assert rc == 0, err
    assert [v["Version"] for v in out["Versions"]] == ["$LATEST", "1", "2"]
    rc, out, err = aws("lambda", "publish-version", "--function-name", name, parse_json=True)
    assert rc == 0, err
    assert out["Version"] == "3"
    rc, out, err = aws("lambda", "delete-function", "--function-name", name, "--qualifier", "1")
    assert rc != 0 and "ResourceConflictException" in err


# -- tags ------------------------------------------------------------------------------------
def test_tags_crud(lambda_client):
    c = lambda_client
    name = echo(c, Tags={"team": "core"})
    fn_arn = arn(name)
    assert c.list_tags(Resource=fn_arn)["Tags"] == {"team": "core"}
    c.tag_resource(Resource=fn_arn, Tags={"env": "prod", "team": "edge"})
    assert c.list_tags(Resource=fn_arn)["Tags"] == {"team": "edge", "env": "prod"}
    assert c.get_function(FunctionName=name)["Tags"] == {"team": "edge", "env": "prod"}
    c.untag_resource(Resource=fn_arn, TagKeys=["team", "absent"])
    assert c.list_tags(Resource=fn_arn)["Tags"] == {"env": "prod"}
    c.publish_version(FunctionName=name)
    assert c.get_function(FunctionName=name, Qualifier="1")["Tags"] == {"env": "prod"}
    # Tags are no part of what runs: tagging keeps the RevisionId.
    cfg = c.get_function_configuration(FunctionName=name)
    c.tag_resource(Resource=fn_arn, Tags={"x": "y"})
    assert c.get_function_configuration(FunctionName=name)["RevisionId"] == cfg["RevisionId"]


def test_tag_limits_and_errors_store_nothing(lambda_client):
    c = lambda_client
    name = echo(c)
    fn_arn = arn(name)
    c.tag_resource(Resource=fn_arn, Tags={f"k{i}": "v" for i in range(45)})
    expect_error("InvalidParameterValueException", 400, c.tag_resource,
                 Resource=fn_arn, Tags={f"n{i}": "v" for i in range(6)})
    expect_error("InvalidParameterValueException", 400, c.tag_resource, Resource=fn_arn, Tags={"aws:x": "v"})
    expect_error("InvalidParameterValueException", 400, c.tag_resource, Resource=fn_arn, Tags={"k": "v" * 257})
    expect_error("InvalidParameterValueException", 400, c.tag_resource, Resource=fn_arn, Tags={"k" * 129: "v"})
    expect_error("InvalidParameterValueException", 400, c.tag_resource, Resource=fn_arn, Tags={"bad*key": "v"})
    assert len(c.list_tags(Resource=fn_arn)["Tags"]) == 45
    c.publish_version(FunctionName=name)
    msg = expect_error("InvalidParameterValueException", 400, c.tag_resource,
                       Resource=arn(name, "1"), Tags={"a": "b"})
    assert "aliases and versions" in msg
    expect_error("ResourceNotFoundException", 404, c.list_tags, Resource=arn(unique_name("none")))
    expect_error("ResourceNotFoundException", 404, c.tag_resource,
                 Resource=arn(unique_name("none")), Tags={"a": "b"})
    expect_error("ValidationException", 400, c.list_tags, Resource="not-an-arn")
    assert len(c.list_tags(Resource=fn_arn)["Tags"]) == 45


def test_tags_with_the_aws_cli(aws, lambda_client):
    name = echo(lambda_client)
    rc, _, err = aws("lambda", "tag-resource", "--resource", arn(name), "--tags", "a=1,b=2")
    assert rc == 0, err
    rc, _, err = aws("lambda", "untag-resource", "--resource", arn(name), "--tag-keys", "a")
    assert rc == 0, err
    rc, out, err = aws("lambda", "list-tags", "--resource", arn(name), parse_json=True)
    assert rc == 0, err
    assert out["Tags"] == {"b": "2"}


# -- persistence -----------------------------------------------------------------------------
def test_versions_aliases_and_tags_survive_restart(hako_factory):
    server = hako_factory()
    c = boto_lambda_client(server.endpoint)
    name = two_versions(c)
    c.create_alias(FunctionName=name, Name="live", FunctionVersion="1",
                   RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    c.tag_resource(Resource=arn(name), Tags={"k": "v"})
    before = c.get_alias(FunctionName=name, Name="live")
    server.restart()
    c = boto_lambda_client(server.endpoint)
    after = c.get_alias(FunctionName=name, Name="live")
    assert after == {**before, "ResponseMetadata": after["ResponseMetadata"]}
    assert [v["Version"] for v in c.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST", "1", "2"]
    assert c.list_tags(Resource=arn(name))["Tags"] == {"k": "v"}
    assert color_of(c, name, "1") == ("blue", "1")
    assert color_of(c, name, "2") == ("green", "2")
    assert color_of(c, name)[0] == "red"
    assert {color_of(c, name, "live")[1] for _ in range(40)} == {"1", "2"}
    set_color(c, name, "black")
    assert c.publish_version(FunctionName=name)["Version"] == "3"
