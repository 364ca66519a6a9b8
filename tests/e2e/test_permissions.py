"""Lambda resource-based policies (AddPermission, GetPolicy, RemovePermission) on functions,
versions and aliases, through the real boto3 and aws CLI and the real `hako` binary.

Shapes, messages and the order of the checks are AWS's, as LocalStack's AWS-recorded snapshots
show them (`tests/aws/services/lambda_/test_lambda_api.snapshot.json`, `TestLambdaPermissions`:
`test_permission_exceptions`, `test_add_lambda_permission_aws`, `test_add_lambda_permission_fields`,
`test_remove_multi_permissions`, `test_lambda_permission_fn_versioning`; and
`TestLambdaRevisions::test_function_revisions_permissions` for RevisionIds)."""

from __future__ import annotations

import json

from conftest import create_function, fixture_zip, unique_name
from conftest import expect_client_error as expect_error

ACCOUNT = "123456789012"
ECHO = "rust-echo"


def fn_arn(name, qualifier=None):
    base = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def new_function(c):
    name = unique_name("perm")
    create_function(c, name, "provided.al2023", "bootstrap", fixture_zip(ECHO))
    return name


def s3_grant(c, name, sid="s3", **kw):
    return c.add_permission(FunctionName=name, StatementId=sid, Action="lambda:InvokeFunction",
                            Principal="s3.amazonaws.com",
                            SourceArn="arn:aws:s3:::test-bucket", **kw)


def test_add_get_remove_with_aws_shapes(lambda_client):
    c = lambda_client
    name = new_function(c)
    added = s3_grant(c, name)
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert json.loads(added["Statement"]) == {
        "Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": fn_arn(name),
        "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::test-bucket"}},
    }
    c.add_permission(FunctionName=name, StatementId="sqs", Action="lambda:InvokeFunction",
                     Principal="sqs.amazonaws.com")
    got = c.get_policy(FunctionName=name)
    policy = json.loads(got["Policy"])
    assert policy["Version"] == "2012-10-17" and policy["Id"] == "default"
    assert [s["Sid"] for s in policy["Statement"]] == ["s3", "sqs"]
    assert "Condition" not in policy["Statement"][1]

    msg = expect_error("ResourceNotFoundException", 404, c.remove_permission,
                       FunctionName=name, StatementId="non-existent")
    assert msg == "Statement non-existent is not found in resource policy."
    c.remove_permission(FunctionName=name, StatementId="sqs")
    after = c.get_policy(FunctionName=name)
    assert [s["Sid"] for s in json.loads(after["Policy"])["Statement"]] == ["s3"]
    assert after["RevisionId"] != got["RevisionId"]
    c.remove_permission(FunctionName=name, StatementId="s3", RevisionId=after["RevisionId"])
    msg = expect_error("ResourceNotFoundException", 404, c.get_policy, FunctionName=name)
    assert msg == "The resource you requested does not exist."


def test_principal_and_condition_fields(lambda_client):
    c = lambda_client
    name = new_function(c)
    wildcard = c.add_permission(FunctionName=name, StatementId="wildcard",
                                Action="lambda:InvokeFunction", Principal="*",
                                SourceAccount=ACCOUNT)
    assert json.loads(wildcard["Statement"])["Principal"] == "*"
    assert json.loads(wildcard["Statement"])["Condition"] == {
        "StringEquals": {"AWS:SourceAccount": ACCOUNT}}
    account = c.add_permission(FunctionName=name, StatementId="account-id",
                               Action="lambda:InvokeFunction", Principal=ACCOUNT)
    assert json.loads(account["Statement"])["Principal"] == {
        "AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    role = f"arn:aws:sts::{ACCOUNT}:assumed-role/r/f"
    by_arn = c.add_permission(FunctionName=name, StatementId="user-arn",
                              Action="lambda:InvokeFunction", Principal=role)
    assert json.loads(by_arn["Statement"])["Principal"] == {"AWS": role}
    url = c.add_permission(FunctionName=name, StatementId="urlPermission",
                           Action="lambda:InvokeFunctionUrl", Principal="*",
                           SourceArn="arn:aws:s3:::test-bucket", SourceAccount=ACCOUNT,
                           PrincipalOrgID="o-1234567890", FunctionUrlAuthType="NONE")
    assert json.loads(url["Statement"])["Condition"] == {
        "StringEquals": {"AWS:SourceAccount": ACCOUNT, "lambda:FunctionUrlAuthType": "NONE",
                         "aws:PrincipalOrgID": "o-1234567890"},
        "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::test-bucket"},
    }
    alexa = c.add_permission(FunctionName=name, StatementId="alexaSkill",
                             Action="lambda:InvokeFunction", Principal="*",
                             EventSourceToken="amzn1.ask.skill.xxxxxxxxx-xxxx")
    assert json.loads(alexa["Statement"])["Condition"] == {
        "StringEquals": {"lambda:EventSourceToken": "amzn1.ask.skill.xxxxxxxxx-xxxx"}}
    policy = json.loads(c.get_policy(FunctionName=name)["Policy"])
    assert len(policy["Statement"]) == 5


def test_errors_in_aws_order_store_nothing(lambda_client):
    c = lambda_client
    name = new_function(c)
    base = dict(Action="lambda:InvokeFunction", StatementId="s3", Principal="s3.amazonaws.com")
    msg = expect_error("ValidationException", 400, c.add_permission, FunctionName=name,
                       **{**base, "StatementId": "example.com"})
    assert msg == ("1 validation error detected: Value 'example.com' at 'statementId' failed to "
                   "satisfy constraint: Member must satisfy regular expression pattern: "
                   "([a-zA-Z0-9-_]+)")
    msg = expect_error("InvalidParameterValueException", 400, c.add_permission,
                       FunctionName=f"{name}:alias-not-42", Qualifier="42", **base)
    assert msg == ("The derived qualifier from the function name does not match the specified "
                   "qualifier.")
    msg = expect_error("InvalidParameterValueException", 400, c.add_permission,
                       FunctionName=f"{name}:$LATEST", Qualifier="$LATEST", **base)
    assert msg == "We currently do not support adding policies for $LATEST."
    msg = expect_error("InvalidParameterValueException", 400, c.add_permission,
                       FunctionName=name, **{**base, "Principal": "invalid.nonaws.com"})
    assert msg == "The provided principal was invalid. Please check the principal and try again."
    msg = expect_error("ResourceNotFoundException", 404, c.get_policy, FunctionName="doesnotexist")
    assert msg == "The resource you requested does not exist."
    msg = expect_error("ResourceNotFoundException", 404, c.get_policy, FunctionName=name,
                       Qualifier="77")
    assert msg == "The resource you requested does not exist."
    msg = expect_error("ResourceNotFoundException", 404, c.add_permission,
                       FunctionName="doesnotexist", **base)
    assert msg == f"Function not found: {fn_arn('doesnotexist')}"
    msg = expect_error("ResourceNotFoundException", 404, c.remove_permission,
                       FunctionName=name, StatementId="s3")
    assert msg == "No policy is associated with the given resource."
    msg = expect_error("ResourceNotFoundException", 404, c.add_permission,
                       FunctionName=f"{name}:alias-doesnotexist", **base)
    assert msg == f"Cannot find alias arn: {fn_arn(name, 'alias-doesnotexist')}"
    msg = expect_error("ResourceNotFoundException", 404, c.add_permission,
                       FunctionName=name, Qualifier="42", **base)
    assert msg == f"Function not found: {fn_arn(name, '42')}"
    msg = expect_error("ValidationException", 400, c.add_permission, FunctionName=name,
                       Qualifier="invalid-qualifier-with-?-char", **base)
    assert msg == ("1 validation error detected: Value 'invalid-qualifier-with-?-char' at "
                   "'qualifier' failed to satisfy constraint: Member must satisfy regular "
                   "expression pattern: \\$(LATEST(\\.PUBLISHED)?)|[a-zA-Z0-9-_$]+")
    msg = expect_error("ResourceNotFoundException", 404, c.add_permission, FunctionName=name,
                       Qualifier="valid-with-$-but-doesnotexist", **base)
    assert msg == f"Function not found: {fn_arn(name, 'valid-with-$-but-doesnotexist')}"
    # Nothing was stored by any of these.
    expect_error("ResourceNotFoundException", 404, c.get_policy, FunctionName=name)

    s3_grant(c, name)
    msg = expect_error("ResourceConflictException", 409, s3_grant, c, name)
    assert msg == ("The statement id (s3) provided already exists. Please provide a new statement "
                   "id, or remove the existing statement.")
    msg = expect_error("ResourceNotFoundException", 404, c.remove_permission,
                       FunctionName="doesnotexist", StatementId="s3")
    assert msg == f"No policy found for: {fn_arn('doesnotexist')}"
    msg = expect_error("ResourceNotFoundException", 404, c.remove_permission,
                       FunctionName=name, StatementId="s3", Qualifier="alias-doesnotexist")
    assert msg == f"Cannot find alias arn: {fn_arn(name, 'alias-doesnotexist')}"


def test_versions_and_aliases_have_their_own_policies(lambda_client):
    c = lambda_client
    name = new_function(c)
    s3_grant(c, name)
    version = c.publish_version(FunctionName=name)["Version"]
    # A version's policy is its own: publishing copies nothing (test_lambda_permission_fn_versioning).
    expect_error("ResourceNotFoundException", 404, c.get_policy, FunctionName=name,
                 Qualifier=version)
    s3_grant(c, f"{name}:{version}", Qualifier=version)
    v_policy = json.loads(c.get_policy(FunctionName=name, Qualifier=version)["Policy"])
    assert v_policy["Statement"][0]["Resource"] == fn_arn(name, version)

    alias = c.create_alias(FunctionName=name, Name="permission-alias", FunctionVersion=version)
    msg = expect_error("PreconditionFailedException", 412, s3_grant, c, name,
                       Qualifier="permission-alias", RevisionId="wrong")
    assert msg == ("The Revision Id provided does not match the latest Revision Id. Call the "
                   "GetPolicy API to retrieve the latest Revision Id")
    # The alias's own RevisionId is accepted while it has no policy.
    s3_grant(c, f"{name}:permission-alias", Qualifier="permission-alias",
             RevisionId=alias["RevisionId"])
    a_policy = json.loads(c.get_policy(FunctionName=name, Qualifier="permission-alias")["Policy"])
    assert a_policy["Statement"][0]["Resource"] == fn_arn(name, "permission-alias")

    latest = c.get_policy(FunctionName=name)
    assert [s["Sid"] for s in json.loads(latest["Policy"])["Statement"]] == ["s3"]
    s3_grant(c, name, sid="s3_2", RevisionId=latest["RevisionId"])
    msg = expect_error("PreconditionFailedException", 412, c.remove_permission,
                       FunctionName=name, StatementId="s3_2", RevisionId=latest["RevisionId"])
    assert "GetPolicy API" in msg

    # A policy goes with its alias, its version and its function.
    c.delete_alias(FunctionName=name, Name="permission-alias")
    c.create_alias(FunctionName=name, Name="permission-alias", FunctionVersion=version)
    expect_error("ResourceNotFoundException", 404, c.get_policy, FunctionName=name,
                 Qualifier="permission-alias")
    c.delete_alias(FunctionName=name, Name="permission-alias")
    c.delete_function(FunctionName=name, Qualifier=version)
    c.delete_function(FunctionName=name)
    create_function(c, name, "provided.al2023", "bootstrap", fixture_zip(ECHO))
    expect_error("ResourceNotFoundException", 404, c.get_policy, FunctionName=name)


def test_permissions_with_the_aws_cli(aws, lambda_client):
    name = new_function(lambda_client)
    rc, out, err = aws("lambda", "add-permission", "--function-name", name, "--statement-id",
                       "events", "--action", "lambda:InvokeFunction", "--principal",
                       "events.amazonaws.com", "--source-arn",
                       f"arn:aws:events:us-east-1:{ACCOUNT}:rule/daily", parse_json=True)
    assert rc == 0, err
    assert json.loads(out["Statement"])["Principal"] == {"Service": "events.amazonaws.com"}
    rc, out, err = aws("lambda", "get-policy", "--function-name", name, parse_json=True)
    assert rc == 0, err
    assert json.loads(out["Policy"])["Statement"][0]["Sid"] == "events"
    rc, out, err = aws("lambda", "remove-permission", "--function-name", name,
                       "--statement-id", "events")
    assert rc == 0, err
    rc, out, err = aws("lambda", "get-policy", "--function-name", name)
    assert rc != 0 and "ResourceNotFoundException" in err
