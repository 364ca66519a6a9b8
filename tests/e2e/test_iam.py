"""IAM through boto3, the aws CLI v1 (.venv) and v2 (/usr/bin/aws) against the real `hako`
binary: roles, inline and attached policies, customer managed policies and their versions, AWS's
managed policies for Lambda.

Shapes from botocore's `iam/2010-05-08/service-2.json`; messages recorded against AWS where
LocalStack's `tests/aws/services/iam/test_iam.snapshot.json` has them (`This policy contains
invalid Json`, `Invalid ARN:  Could not be parsed!`, `Policy ARN does not exist or is not
attachable.`, `Policy ARN was not found.`); the others as the aws CLI prints AWS's answers."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config
from conftest import CREDENTIALS, REGION, aws_cli_env, run_aws, unique_name
from conftest import expect_client_error as expect_error

ACCOUNT = "123456789012"
AWS_V2 = Path("/usr/bin/aws")
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
}
LIST_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["lambda:ListFunctions"], "Resource": ["*"]}],
}
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


@pytest.fixture(scope="module")
def iam(hako):
    return boto3.session.Session().client(
        "iam", endpoint_url=hako.endpoint, region_name=REGION, **CREDENTIALS,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=30))


def test_role_lifecycle(iam):
    name = unique_name("role")
    created = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST),
                              Description="d", Tags=[{"Key": "k", "Value": "v"}])["Role"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/{name}"
    assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 21
    assert created["Path"] == "/" and created["MaxSessionDuration"] == 3600
    # botocore decodes the URL-encoded document back into a dict.
    assert created["AssumeRolePolicyDocument"] == TRUST
    assert created["Tags"] == [{"Key": "k", "Value": "v"}]
    got = iam.get_role(RoleName=name)["Role"]
    assert got["RoleId"] == created["RoleId"] and got["Description"] == "d"
    assert name in [r["RoleName"] for r in iam.list_roles()["Roles"]]

    msg = expect_error("EntityAlreadyExists", 409, iam.create_role, RoleName=name,
                       AssumeRolePolicyDocument=json.dumps(TRUST))
    assert msg == f"Role with name {name} already exists."
    msg = expect_error("MalformedPolicyDocument", 400, iam.create_role, RoleName=name + "x",
                       AssumeRolePolicyDocument="{not json")
    assert msg == "This policy contains invalid Json"
    expect_error("NoSuchEntity", 404, iam.get_role, RoleName=name + "x")
    msg = expect_error("ValidationError", 400, iam.get_role, RoleName="bad name")
    assert "at 'roleName' failed to satisfy constraint" in msg

    new_trust = {**TRUST, "Statement": [{**TRUST["Statement"][0],
                                         "Principal": {"Service": "edgelambda.amazonaws.com"}}]}
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(new_trust))
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == new_trust
    iam.delete_role(RoleName=name)
    msg = expect_error("NoSuchEntity", 404, iam.get_role, RoleName=name)
    assert msg == f"The role with name {name} cannot be found."


def test_inline_and_attached_policies(iam):
    name = unique_name("role")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName=name, PolicyName="list", PolicyDocument=json.dumps(LIST_ONLY))
    got = iam.get_role_policy(RoleName=name, PolicyName="list")
    assert got["RoleName"] == name and got["PolicyDocument"] == LIST_ONLY
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["list"]
    msg = expect_error("NoSuchEntity", 404, iam.get_role_policy, RoleName=name, PolicyName="nope")
    assert msg == "The role policy with name nope cannot be found."
    msg = expect_error("MalformedPolicyDocument", 400, iam.put_role_policy, RoleName=name,
                       PolicyName="p", PolicyDocument=json.dumps(
                           {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                                           "Principal": "*"}]}))
    assert msg == "Policy document should not specify a principal."

    iam.attach_role_policy(RoleName=name, PolicyArn=BASIC)
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    assert attached == [{"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": BASIC}]
    msg = expect_error("ValidationError", 400, iam.attach_role_policy, RoleName=name,
                       PolicyArn="longpolicynamebutnoarn")
    assert msg == "Invalid ARN:  Could not be parsed!"
    bad = f"arn:aws:iam::{ACCOUNT}:policy/nope123"
    msg = expect_error("NoSuchEntity", 404, iam.attach_role_policy, RoleName=name, PolicyArn=bad)
    assert msg == f"Policy {bad} does not exist or is not attachable."

    msg = expect_error("DeleteConflict", 409, iam.delete_role, RoleName=name)
    assert msg == "Cannot delete entity, must detach all policies first."
    iam.detach_role_policy(RoleName=name, PolicyArn=BASIC)
    msg = expect_error("DeleteConflict", 409, iam.delete_role, RoleName=name)
    assert msg == "Cannot delete entity, must delete policies first."
    iam.delete_role_policy(RoleName=name, PolicyName="list")
    iam.delete_role(RoleName=name)


def test_managed_policies_of_aws_and_customers(iam):
    basic = iam.get_policy(PolicyArn=BASIC)["Policy"]
    assert basic["PolicyName"] == "AWSLambdaBasicExecutionRole"
    assert basic["Path"] == "/service-role/" and basic["DefaultVersionId"] == "v1"
    doc = iam.get_policy_version(PolicyArn=BASIC, VersionId="v1")["PolicyVersion"]["Document"]
    assert doc["Statement"][0]["Action"] == ["logs:CreateLogGroup", "logs:CreateLogStream",
                                             "logs:PutLogEvents"]
    aws_names = {p["PolicyName"] for p in iam.list_policies(Scope="AWS")["Policies"]}
    assert {"AWSLambdaBasicExecutionRole", "AWSLambdaRole", "AWSLambda_FullAccess",
            "AWSLambda_ReadOnlyAccess", "AWSLambdaSQSQueueExecutionRole",
            "AWSLambdaKinesisExecutionRole", "ReadOnlyAccess", "AdministratorAccess"} <= aws_names

    name = unique_name("pol")
    p = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(LIST_ONLY))["Policy"]
    assert p["Arn"] == f"arn:aws:iam::{ACCOUNT}:policy/{name}"
    assert p["DefaultVersionId"] == "v1" and p["AttachmentCount"] == 0 and p["IsAttachable"]
    assert p["PolicyId"].startswith("ANPA")
    msg = expect_error("EntityAlreadyExists", 409, iam.create_policy, PolicyName=name,
                       PolicyDocument=json.dumps(LIST_ONLY))
    assert msg == f"A policy called {name} already exists. Duplicate names are not allowed."
    v2 = iam.create_policy_version(PolicyArn=p["Arn"], PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:Get*",
                                                 "Resource": "*"}]}), SetAsDefault=True)
    assert v2["PolicyVersion"]["VersionId"] == "v2" and v2["PolicyVersion"]["IsDefaultVersion"]
    assert iam.get_policy(PolicyArn=p["Arn"])["Policy"]["DefaultVersionId"] == "v2"
    v1 = iam.get_policy_version(PolicyArn=p["Arn"], VersionId="v1")["PolicyVersion"]
    assert v1["Document"] == LIST_ONLY and not v1["IsDefaultVersion"]
    local = [x["PolicyName"] for x in iam.list_policies(Scope="Local")["Policies"]]
    assert name in local and "AdministratorAccess" not in local

    role = unique_name("role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.attach_role_policy(RoleName=role, PolicyArn=p["Arn"])
    assert iam.get_policy(PolicyArn=p["Arn"])["Policy"]["AttachmentCount"] == 1
    msg = expect_error("DeleteConflict", 409, iam.delete_policy, PolicyArn=p["Arn"])
    assert msg == "Cannot delete a policy attached to entities."
    iam.detach_role_policy(RoleName=role, PolicyArn=p["Arn"])
    iam.delete_policy(PolicyArn=p["Arn"])
    msg = expect_error("NoSuchEntity", 404, iam.get_policy, PolicyArn=p["Arn"])
    assert msg == f"Policy {p['Arn']} was not found."
    iam.delete_role(RoleName=role)


def test_raw_answers_are_url_encoded_xml(hako, iam):
    """What botocore decodes: AWS answers documents URL-encoded inside XML."""
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    name = unique_name("role")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    body = urllib.parse.urlencode({"Action": "GetRole", "Version": "2010-05-08",
                                   "RoleName": name})
    signed = AWSRequest(method="POST", url=hako.endpoint + "/", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(Credentials(CREDENTIALS["aws_access_key_id"], CREDENTIALS["aws_secret_access_key"]),
              "iam", REGION).add_auth(signed)
    req = urllib.request.Request(hako.endpoint + "/", data=body.encode(),
                                 headers=dict(signed.headers.items()))
    with urllib.request.urlopen(req, timeout=10) as r:
        xml = r.read().decode()
    assert xml.startswith('<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">')
    assert "<AssumeRolePolicyDocument>%7B%22Version%22" in xml
    assert "<RequestId>" in xml
    iam.delete_role(RoleName=name)


@pytest.mark.parametrize("cli", ["v1", "v2"])
def test_roles_with_the_aws_cli(hako, iam, cli):
    """Each aws CLI call costs a second or two of CLI start-up: four calls, the rest by boto3."""
    if cli == "v2" and not AWS_V2.exists():
        pytest.skip("Debian's awscli (v2) is not installed")
    name = unique_name("cli")

    def aws(*args):
        if cli == "v1":
            rc, out, err = run_aws(hako.endpoint, "iam", *args)
        else:
            import subprocess
            p = subprocess.run([str(AWS_V2), "--endpoint-url", hako.endpoint, "--region", REGION,
                                "iam", *args], capture_output=True, timeout=60,
                               env=aws_cli_env())
            rc, out, err = p.returncode, p.stdout.decode(), p.stderr.decode()
        return rc, (json.loads(out) if rc == 0 and out.strip() else out), err

    rc, out, err = aws("create-role", "--role-name", name, "--assume-role-policy-document",
                       json.dumps(TRUST))
    assert rc == 0, err
    assert out["Role"]["RoleName"] == name
    assert out["Role"]["AssumeRolePolicyDocument"] == TRUST
    rc, out, err = aws("put-role-policy", "--role-name", name, "--policy-name", "list",
                       "--policy-document", json.dumps(LIST_ONLY))
    assert rc == 0, err
    rc, out, err = aws("get-role-policy", "--role-name", name, "--policy-name", "list")
    assert rc == 0 and out["PolicyDocument"] == LIST_ONLY, err
    rc, out, err = aws("delete-role", "--role-name", name)
    assert rc != 0 and "DeleteConflict" in err
    assert "Cannot delete entity, must delete policies first." in err
    iam.delete_role_policy(RoleName=name, PolicyName="list")
    iam.delete_role(RoleName=name)


def test_iam_state_survives_a_restart(hako_factory, tmp_path):
    data = tmp_path / "data"
    server = hako_factory(data_dir=data)
    c = boto3.session.Session().client(
        "iam", endpoint_url=server.endpoint, region_name=REGION, **CREDENTIALS,
        config=Config(retries={"max_attempts": 1}))
    c.create_role(RoleName="keep", AssumeRolePolicyDocument=json.dumps(TRUST))
    c.put_role_policy(RoleName="keep", PolicyName="list", PolicyDocument=json.dumps(LIST_ONLY))
    server.stop()
    server = hako_factory(data_dir=data)
    c = boto3.session.Session().client(
        "iam", endpoint_url=server.endpoint, region_name=REGION, **CREDENTIALS,
        config=Config(retries={"max_attempts": 1}))
    assert c.get_role_policy(RoleName="keep", PolicyName="list")["PolicyDocument"] == LIST_ONLY
    with pytest.raises(botocore.exceptions.ClientError):
        c.get_role(RoleName="gone")


CALLER = """
import boto3, botocore.exceptions

def handler(event, context):
    c = boto3.client("lambda")  # AWS_ENDPOINT_URL_LAMBDA and the role's credentials, set by Hako
    out = {"listed": [f["FunctionName"] for f in c.list_functions()["Functions"]]}
    try:
        c.get_function(FunctionName=event["target"])
        out["get"] = "ok"
    except botocore.exceptions.ClientError as e:
        out["get"] = [e.response["Error"]["Code"], e.response["Error"]["Message"],
                      e.response["ResponseMetadata"]["HTTPStatusCode"]]
    return out
"""


def test_enforced_iam_limits_a_function_to_its_roles_policies(hako_factory):
    """With --auth sigv4 and --iam-enforce, a function whose role allows only
    lambda:ListFunctions lists (ListFunctions returns environments on AWS too) but gets
    AccessDenied on GetFunction of another function, until that function's resource policy
    lets the role read it."""
    from conftest import boto_lambda_client, create_function, make_zip
    server = hako_factory(env={"HAKO_AUTH": "sigv4", "HAKO_IAM_ENFORCE": "true"})
    iam = boto3.session.Session().client(
        "iam", endpoint_url=server.endpoint, region_name=REGION, **CREDENTIALS,
        config=Config(retries={"max_attempts": 1}))
    lam = boto_lambda_client(server.endpoint)
    iam.create_role(RoleName="lister", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="lister", PolicyName="list", PolicyDocument=json.dumps(LIST_ONLY))
    role = f"arn:aws:iam::{ACCOUNT}:role/lister"
    create_function(lam, "target", "python3.11", "index.handler",
                    make_zip({"index.py": "def handler(e, c):\n    return 1\n"}), Role=role)
    create_function(lam, "caller", "python3.11", "index.handler",
                    make_zip({"index.py": CALLER}), Role=role, Timeout=30)

    def run():
        out = lam.invoke(FunctionName="caller", Payload=json.dumps({"target": "target"}))
        body = json.loads(out["Payload"].read())
        assert "FunctionError" not in out, body
        return body

    body = run()
    assert sorted(body["listed"]) == ["caller", "target"]
    target_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:target"
    assert body["get"] == [
        "AccessDeniedException",
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/lister/caller is not authorized to perform: "
        f"lambda:GetFunction on resource: {target_arn} because no identity-based policy allows "
        f"the lambda:GetFunction action", 403], body
    lam.add_permission(FunctionName="target", StatementId="read", Action="lambda:GetFunction",
                       Principal=role)
    assert run()["get"] == "ok"
