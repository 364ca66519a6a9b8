"""Authentication: SigV4 on every request at Hako's endpoint, the root credentials, STS
GetCallerIdentity, the sandboxes' own credentials.

Sources of the expected answers (never from memory):
- Lambda's refusals (REST-JSON): `InvalidSignatureException` with "Signature expired: X is now
  earlier than Y (Z - 5 min.)" (AWS knowledge center, "lambda-sdk-signature"),
  `UnrecognizedClientException` "The security token included in the request is invalid.",
  `MissingAuthenticationTokenException`.
- The query services' codes (STS): `InvalidClientTokenId`, `SignatureDoesNotMatch` (moto's
  core/exceptions.py, AWS's common errors of the query APIs).
- GetCallerIdentity's shape: STS API reference (Arn, UserId, Account; root's UserId is the
  account id).
"""

import datetime
import json
import os
import stat
import subprocess
import urllib.error
import urllib.request
from unittest import mock

import boto3
import botocore
import botocore.auth
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from conftest import (CREDENTIALS, REGION, HakoServer, aws_cli_env, create_function, hako_cmd,
                      hako_env, make_zip, run_aws, unique_name)

ACCOUNT = "123456789012"
NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60)
SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you "
                      "provided. Check your AWS Secret Access Key and signing method. Consult the "
                      "service documentation for details.")
INVALID_TOKEN = "The security token included in the request is invalid."


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    """A hako that checks signatures (whatever the default)."""
    base = tmp_path_factory.mktemp("hako-auth")
    server = HakoServer(base / "data", base / "hako.log", ["--auth", "sigv4"]).start()
    yield server
    server.stop()


def client(hako, service="lambda", config=NO_RETRIES, **creds):
    creds = creds or CREDENTIALS
    return boto3.session.Session().client(service, endpoint_url=hako.endpoint, region_name=REGION,
                                          config=config, **creds)


def error_of(fn, *args, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(*args, **kw)
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def test_root_credentials_sign_and_sts_answers_root(signed):
    assert "Functions" in client(signed).list_functions()
    ident = client(signed, "sts").get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert ident["Account"] == ACCOUNT
    assert ident["UserId"] == ACCOUNT


def test_unsigned_unknown_key_and_bad_signature_are_refused(signed):
    unsigned = client(signed, config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    code, status, _ = error_of(unsigned.list_functions)
    assert (code, status) == ("MissingAuthenticationTokenException", 403)
    code, status, msg = error_of(client(signed, aws_access_key_id="AKIAUNKNOWNKEY000000",
                                        aws_secret_access_key="x").list_functions)
    assert (code, status, msg) == ("UnrecognizedClientException", 403, INVALID_TOKEN)
    bad = client(signed, aws_access_key_id=CREDENTIALS["aws_access_key_id"],
                 aws_secret_access_key="not-the-secret")
    assert error_of(bad.list_functions) == ("InvalidSignatureException", 403, SIGNATURE_MISMATCH)
    # The query services' own codes.
    sts_bad = client(signed, "sts", aws_access_key_id=CREDENTIALS["aws_access_key_id"],
                     aws_secret_access_key="not-the-secret")
    assert error_of(sts_bad.get_caller_identity) == ("SignatureDoesNotMatch", 403, SIGNATURE_MISMATCH)
    sts_unknown = client(signed, "sts", aws_access_key_id="AKIAUNKNOWNKEY000000",
                         aws_secret_access_key="x")
    assert error_of(sts_unknown.get_caller_identity) == ("InvalidClientTokenId", 403, INVALID_TOKEN)
    # SQS (JSON, query-compatible) answers the query codes too.
    sqs_bad = client(signed, "sqs", aws_access_key_id=CREDENTIALS["aws_access_key_id"],
                     aws_secret_access_key="not-the-secret")
    code, status, _ = error_of(sqs_bad.list_queues)
    assert (code, status) == ("SignatureDoesNotMatch", 403)


@pytest.mark.parametrize("minutes,prefix", [(-10, "Signature expired: "),
                                            (10, "Signature not yet current: ")])
def test_a_request_signed_too_long_ago_or_ahead_is_refused(signed, minutes, prefix):
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    with mock.patch.object(botocore.auth, "get_current_datetime", lambda: when.replace(tzinfo=None)):
        code, status, msg = error_of(client(signed).list_functions)
    assert (code, status) == ("InvalidSignatureException", 403)
    assert msg.startswith(prefix + when.strftime("%Y%m%dT%H%M%SZ")), msg
    assert msg.endswith(" 5 min.)"), msg


def test_presigned_urls_work_until_they_expire(signed):
    url = client(signed).generate_presigned_url("list_functions", ExpiresIn=60)
    assert "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=10) as r:
        assert "Functions" in json.loads(r.read())
    tampered = url.replace("X-Amz-Expires=60", "X-Amz-Expires=61")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered, timeout=10)
    assert e.value.code == 403
    assert e.value.headers["x-amzn-errortype"] == "InvalidSignatureException"


HANDLER = b'''
import os, boto3
def handler(event, context):
    ident = boto3.client("sts").get_caller_identity()
    return {"arn": ident["Arn"], "user_id": ident["UserId"],
            "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
            "key": os.environ["AWS_ACCESS_KEY_ID"], "secret": os.environ["AWS_SECRET_ACCESS_KEY"],
            "token": os.environ["AWS_SESSION_TOKEN"]}
'''


def test_a_function_has_its_roles_credentials_until_it_is_deleted(signed):
    lam = client(signed)
    name = unique_name("whoami")
    create_function(lam, name, "python3.11", "app.handler", make_zip({"app.py": HANDLER}),
                    Role=f"arn:aws:iam::{ACCOUNT}:role/whoami-role", Timeout=30)
    out = lam.invoke(FunctionName=name)
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    # STS from inside, with the sandbox's own session (AWS_ENDPOINT_URL reaches every service).
    assert body["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/whoami-role/{name}"
    assert body["user_id"].startswith("AROA") and body["user_id"].endswith(f":{name}")
    assert body["endpoint"]
    assert body["key"].startswith("ASIA") and len(body["key"]) == 20
    creds = {"aws_access_key_id": body["key"], "aws_secret_access_key": body["secret"],
             "aws_session_token": body["token"]}
    sts = client(signed, "sts", **creds)
    assert sts.get_caller_identity()["Arn"] == body["arn"]
    # Without its token, the key is not enough.
    no_token = client(signed, "sts", aws_access_key_id=body["key"],
                      aws_secret_access_key=body["secret"])
    assert error_of(no_token.get_caller_identity)[0] == "InvalidClientTokenId"
    lam.delete_function(FunctionName=name)
    assert error_of(sts.get_caller_identity) == ("InvalidClientTokenId", 403, INVALID_TOKEN)
    assert error_of(client(signed, **creds).list_functions)[0] == "UnrecognizedClientException"


def test_the_aws_clis_sign_with_the_root_credentials(signed):
    rc, out, err = run_aws(signed.endpoint, "sts", "get-caller-identity", parse_json=True)
    assert rc == 0, err
    assert out["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    v2 = "/usr/bin/aws"
    if not os.path.exists(v2):
        pytest.skip("no aws CLI v2 at /usr/bin/aws")
    p = subprocess.run([v2, "--endpoint-url", signed.endpoint, "--region", REGION, "lambda",
                        "list-functions"], capture_output=True, timeout=60, env=aws_cli_env())
    assert p.returncode == 0, p.stderr.decode()
    assert "Functions" in json.loads(p.stdout)


def test_data_dir_is_owner_only_and_credentials_print_again(signed):
    assert stat.S_IMODE(signed.data_dir.stat().st_mode) == 0o700
    p = subprocess.run(hako_cmd("credentials", "--data-dir", str(signed.data_dir)),
                       capture_output=True, timeout=30, env=hako_env())
    assert p.returncode == 0, p.stderr.decode()
    out = p.stdout.decode()
    assert CREDENTIALS["aws_access_key_id"] in out
    assert f"aws configure set aws_secret_access_key {CREDENTIALS['aws_secret_access_key']}" in out


def test_generated_credentials_are_kept_owner_only(hako_factory, tmp_path):
    """Without HAKO_ACCESS_KEY_ID (empty is unset), `hako serve` generates a pair into the data
    dir (0600), prints it, and `hako credentials` prints it again."""
    no_keys = {"HAKO_ACCESS_KEY_ID": "", "HAKO_SECRET_ACCESS_KEY": ""}
    # Rootless runs Hako as another user: pytest's tmp_path (root's, 0700) must be traversable
    # for it to find that the data dir holds no credentials (rather than that it may not look).
    tmp_path.chmod(0o755)
    p = subprocess.run(hako_cmd("credentials", "--data-dir", str(tmp_path / "none")),
                       capture_output=True, timeout=30, env=hako_env(no_keys))
    assert p.returncode != 0 and b"no root credentials yet" in p.stderr, p.stderr
    server = hako_factory(extra_args=["--auth", "sigv4"], env=no_keys)
    assert "generated now" in server.log_text()
    f = server.data_dir / "credentials"
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    key, secret = f.read_text().split()
    assert key.startswith("AKIA") and len(key) == 20 and len(secret) == 40
    assert f"aws configure set aws_access_key_id {key}" in server.log_text()
    p = subprocess.run(hako_cmd("credentials", "--data-dir", str(server.data_dir)),
                       capture_output=True, timeout=30, env=hako_env(no_keys))
    assert key in p.stdout.decode(), p.stderr
    # The generated pair is the root's; the tests' usual one is nobody's there.
    ident = client(server, "sts", aws_access_key_id=key, aws_secret_access_key=secret)
    assert ident.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert error_of(client(server).list_functions)[0] == "UnrecognizedClientException"


def test_a_nul_in_a_zip_entry_name_is_refused(signed):
    """`a\\0.py` is refused as AWS refuses a zip it cannot unzip (InvalidParameterValueException,
    "Could not unzip uploaded file...", crates/store/src/code/errors.rs), never stored as `a`
    (both the local header and the central directory carry the NUL)."""
    raw = bytearray(make_zip({"ok.py": b"def handler(e, c):\n    return 1\n"}))
    raw = bytes(raw).replace(b"ok.py", b"a\x00.py")
    code, status, msg = error_of(client(signed).create_function, FunctionName=unique_name("nul"),
                               Runtime="python3.11", Handler="a.handler",
                               Role=f"arn:aws:iam::{ACCOUNT}:role/r", Code={"ZipFile": raw})
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert msg.startswith("Could not unzip uploaded file"), msg
