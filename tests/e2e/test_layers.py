"""Layers through the real boto3 and aws CLI and the real `hako` binary: every layer API with
its errors, a function's `Layers` (order and override under /opt, a Python module from a layer,
a custom runtime delivered as a layer, versions keeping their layers, AWS's limits) on both
sandbox backends.

Which tests are linux-only, and why: `test_opt_is_the_merged_layers_read_only` reads and writes
`/opt` itself, which only the linux backend shows (it has a mount namespace). Under the process
backend a function reaches its layers through the variables AWS sets (PATH, PYTHONPATH,
NODE_PATH, LD_LIBRARY_PATH), which Hako points at a merged directory on the host; the other
tests use only those, so they run on both."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import urllib.request
import zipfile

import pytest
from conftest import (boto_lambda_client, create_function, fixture_zip, make_zip, run_aws,
                      unique_name)
from conftest import expect_client_error as expect_error

ACCOUNT = "123456789012"
LINUX = os.environ.get("HAKO_SANDBOX", "auto") != "process" and os.geteuid() == 0


def layer_arn(name, version=None):
    base = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:{name}"
    return f"{base}:{version}" if version is not None else base


def publish(c, name, files, **kw):
    modes = {f: 0o755 for f in files if f.startswith("bin/")}
    return c.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip(files, modes)},
                                   **kw)


def wait_updated(c, name):
    c.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})


def call(c, name, event=None, qualifier=None):
    kw = {"Qualifier": qualifier} if qualifier else {}
    out = c.invoke(FunctionName=name, Payload=json.dumps(event or {}), **kw)
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    return body


# A Python handler that reports what it gets from its layers.
PY_APP = """
import importlib, os, shutil, subprocess, sys

def handler(event, context):
    out = {}
    try:
        import shared
        out["shared"] = shared.VALUE
    except ImportError as e:
        out["shared"] = "missing: %s" % e
    try:
        import deep_mod
        out["deep"] = deep_mod.VALUE
    except ImportError as e:
        out["deep"] = "missing: %s" % e
    tool = shutil.which("layer-tool")
    out["tool"] = subprocess.run([tool], capture_output=True, text=True).stdout.strip() if tool else None
    out["ld_library_path"] = os.environ.get("LD_LIBRARY_PATH")
    out["pythonpath"] = os.environ.get("PYTHONPATH")
    out["sys_path"] = sys.path
    if event.get("read"):
        try:
            out["read"] = open(event["read"]).read()
        except OSError as e:
            out["read"] = "error: %s" % e
    if event.get("write"):
        try:
            open(event["write"], "w").write("x")
            out["write"] = "ok"
        except OSError as e:
            out["write"] = "error: %s" % e.__class__.__name__
    return out
"""


def layer_files(tag: str) -> dict:
    """A layer whose module, data file and tool all say `tag`."""
    return {
        "python/shared.py": f"VALUE = {tag!r}\n",
        "python/lib/python3.11/site-packages/deep_mod.py": f"VALUE = 'deep-{tag}'\n",
        "bin/layer-tool": f"#!/bin/sh\necho tool-{tag}\n",
        "data/which.txt": tag,
        f"data/only-{tag}.txt": tag,
    }


@pytest.fixture(scope="module")
def c(hako):
    return boto_lambda_client(hako.endpoint)


# -- the layer APIs ---------------------------------------------------------------------------
def test_publish_get_by_name_and_arn_and_download(c, hako):
    name = unique_name("lyr")
    zip_bytes = make_zip({"python/m.py": "X = 1\n"})
    out = c.publish_layer_version(LayerName=name, Content={"ZipFile": zip_bytes},
                                  Description="first", CompatibleRuntimes=["python3.11"],
                                  CompatibleArchitectures=["x86_64"], LicenseInfo="MIT")
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert out["Version"] == 1
    assert out["LayerArn"] == layer_arn(name)
    assert out["LayerVersionArn"] == layer_arn(name, 1)
    assert out["Description"] == "first" and out["LicenseInfo"] == "MIT"
    assert out["CompatibleRuntimes"] == ["python3.11"]
    assert out["CompatibleArchitectures"] == ["x86_64"]
    assert out["Content"]["CodeSize"] == len(zip_bytes)
    assert out["Content"]["CodeSha256"] == base64.b64encode(
        hashlib.sha256(zip_bytes).digest()).decode()
    assert out["CreatedDate"].endswith("+0000")
    with urllib.request.urlopen(out["Content"]["Location"], timeout=10) as r:
        assert r.read() == zip_bytes
    got = c.get_layer_version(LayerName=name, VersionNumber=1)
    by_arn = c.get_layer_version_by_arn(Arn=layer_arn(name, 1))
    by_layer_arn = c.get_layer_version(LayerName=layer_arn(name), VersionNumber=1)
    for g in (got, by_arn, by_layer_arn):
        for k in ("LayerArn", "LayerVersionArn", "Version", "Description", "CreatedDate",
                  "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"):
            assert g[k] == out[k], k
        assert g["Content"]["CodeSha256"] == out["Content"]["CodeSha256"]
    assert publish(c, name, {"a": "b"})["Version"] == 2


def test_layer_api_errors(c):
    name = unique_name("lyr")
    msg = expect_error("ResourceNotFoundException", 404, c.get_layer_version,
                       LayerName=name, VersionNumber=1)
    assert msg == "The resource you requested does not exist."
    expect_error("ResourceNotFoundException", 404, c.get_layer_version_by_arn,
                 Arn=layer_arn(name, 1))
    # Another account's layer is not Hako's.
    expect_error("ResourceNotFoundException", 404, c.get_layer_version_by_arn,
                 Arn=f"arn:aws:lambda:us-east-1:111122223333:layer:{name}:1")
    expect_error("ValidationException", 400, c.get_layer_version, LayerName="bad name!",
                 VersionNumber=1)
    msg = expect_error("InvalidParameterValueException", 400, c.publish_layer_version,
                       LayerName=name, Content={"S3Bucket": "bucket", "S3Key": "key.zip"})
    assert "S3" in msg
    expect_error("InvalidParameterValueException", 400, c.publish_layer_version,
                 LayerName=name, Content={"ZipFile": b"not a zip"})
    expect_error("ValidationException", 400, c.publish_layer_version, LayerName=name,
                 Content={"ZipFile": make_zip({"a": "b"})}, CompatibleRuntimes=["cobol"])
    # Nothing was stored by the failed publishes.
    assert c.list_layer_versions(LayerName=name)["LayerVersions"] == []
    # Deleting what does not exist is not an error (as AWS).
    c.delete_layer_version(LayerName=name, VersionNumber=7)


def test_list_layers_and_versions_with_filters_and_pages(hako_factory):
    c = boto_lambda_client(hako_factory().endpoint)
    publish(c, "alpha", {"a": "1"}, CompatibleRuntimes=["python3.11"],
            CompatibleArchitectures=["x86_64"])
    publish(c, "alpha", {"a": "2"}, CompatibleRuntimes=["nodejs20.x"],
            CompatibleArchitectures=["arm64"])
    publish(c, "beta", {"b": "1"}, CompatibleRuntimes=["python3.11", "nodejs20.x"])
    publish(c, "gamma", {"g": "1"})

    layers = c.list_layers()["Layers"]
    assert [l["LayerName"] for l in layers] == ["alpha", "beta", "gamma"]
    assert layers[0]["LayerArn"] == layer_arn("alpha")
    assert layers[0]["LatestMatchingVersion"]["Version"] == 2
    assert layers[0]["LatestMatchingVersion"]["LayerVersionArn"] == layer_arn("alpha", 2)
    py = c.list_layers(CompatibleRuntime="python3.11")["Layers"]
    assert [(l["LayerName"], l["LatestMatchingVersion"]["Version"]) for l in py] == [
        ("alpha", 1), ("beta", 1)]
    arm = c.list_layers(CompatibleArchitecture="arm64")["Layers"]
    assert [l["LayerName"] for l in arm] == ["alpha"]

    first = c.list_layers(MaxItems=2)
    assert [l["LayerName"] for l in first["Layers"]] == ["alpha", "beta"]
    rest = c.list_layers(MaxItems=2, Marker=first["NextMarker"])
    assert [l["LayerName"] for l in rest["Layers"]] == ["gamma"] and "NextMarker" not in rest

    versions = c.list_layer_versions(LayerName="alpha")["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]  # newest first
    assert versions[0]["CompatibleRuntimes"] == ["nodejs20.x"]
    assert [v["Version"] for v in c.list_layer_versions(
        LayerName="alpha", CompatibleRuntime="python3.11")["LayerVersions"]] == [1]
    page = c.list_layer_versions(LayerName="alpha", MaxItems=1)
    assert [v["Version"] for v in page["LayerVersions"]] == [2]
    page = c.list_layer_versions(LayerName="alpha", MaxItems=1, Marker=page["NextMarker"])
    assert [v["Version"] for v in page["LayerVersions"]] == [1] and "NextMarker" not in page
    assert c.list_layer_versions(LayerName="nope")["LayerVersions"] == []
    expect_error("ValidationException", 400, c.list_layers, CompatibleRuntime="cobol")
    expect_error("ValidationException", 400, c.list_layers, CompatibleArchitecture="mips")

    # Delete: gone from get and lists; numbers are never reused.
    c.delete_layer_version(LayerName="alpha", VersionNumber=2)
    expect_error("ResourceNotFoundException", 404, c.get_layer_version, LayerName="alpha",
                 VersionNumber=2)
    assert [v["Version"] for v in c.list_layer_versions(LayerName="alpha")["LayerVersions"]] == [1]
    assert publish(c, "alpha", {"a": "3"})["Version"] == 3


def test_aws_cli_publishes_and_lists(hako, tmp_path):
    name = unique_name("cli")
    z = tmp_path / "layer.zip"
    z.write_bytes(make_zip({"python/cli_mod.py": "X = 1\n"}))
    rc, out, err = run_aws(hako.endpoint, "lambda", "publish-layer-version", "--layer-name", name,
                           "--zip-file", f"fileb://{z}", "--compatible-runtimes", "python3.11",
                           parse_json=True)
    assert rc == 0, err
    assert out["LayerVersionArn"] == layer_arn(name, 1)
    rc, out, err = run_aws(hako.endpoint, "lambda", "list-layer-versions", "--layer-name", name,
                           parse_json=True)
    assert rc == 0, err
    assert [v["Version"] for v in out["LayerVersions"]] == [1]


def test_layer_version_permissions(c):
    name = unique_name("pol")
    publish(c, name, {"a": "b"})
    msg = expect_error("ResourceNotFoundException", 404, c.get_layer_version_policy,
                       LayerName=name, VersionNumber=1)
    assert msg == "No policy is associated with the given resource."
    added = c.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="xaccount",
                                           Action="lambda:GetLayerVersion",
                                           Principal="210987654321")
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    statement = json.loads(added["Statement"])
    assert statement == {"Sid": "xaccount", "Effect": "Allow",
                         "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
                         "Action": "lambda:GetLayerVersion", "Resource": layer_arn(name, 1)}
    rev1 = added["RevisionId"]
    org = c.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="org",
                                         Action="lambda:GetLayerVersion", Principal="*",
                                         OrganizationId="o-abcdefghij", RevisionId=rev1)
    policy = c.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert policy["RevisionId"] == org["RevisionId"] != rev1
    doc = json.loads(policy["Policy"])
    assert doc["Version"] == "2012-10-17"
    assert [s["Sid"] for s in doc["Statement"]] == ["xaccount", "org"]
    assert doc["Statement"][1]["Principal"] == "*"
    assert doc["Statement"][1]["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}

    expect_error("ResourceConflictException", 409, c.add_layer_version_permission,
                 LayerName=name, VersionNumber=1, StatementId="org",
                 Action="lambda:GetLayerVersion", Principal="*")
    expect_error("PreconditionFailedException", 412, c.add_layer_version_permission,
                 LayerName=name, VersionNumber=1, StatementId="late",
                 Action="lambda:GetLayerVersion", Principal="*", RevisionId=rev1)
    expect_error("ValidationException", 400, c.add_layer_version_permission,
                 LayerName=name, VersionNumber=1, StatementId="bad",
                 Action="lambda:InvokeFunction", Principal="*")
    expect_error("ValidationException", 400, c.add_layer_version_permission,
                 LayerName=name, VersionNumber=1, StatementId="bad",
                 Action="lambda:GetLayerVersion", Principal="someone")
    expect_error("ResourceNotFoundException", 404, c.add_layer_version_permission,
                 LayerName=name, VersionNumber=9, StatementId="x",
                 Action="lambda:GetLayerVersion", Principal="*")
    # Nothing changed by the failures.
    assert c.get_layer_version_policy(LayerName=name, VersionNumber=1)["RevisionId"] == \
        org["RevisionId"]

    msg = expect_error("ResourceNotFoundException", 404, c.remove_layer_version_permission,
                       LayerName=name, VersionNumber=1, StatementId="nope")
    assert msg == "Statement nope is not found in resource policy."
    expect_error("PreconditionFailedException", 412, c.remove_layer_version_permission,
                 LayerName=name, VersionNumber=1, StatementId="org", RevisionId=rev1)
    c.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="org")
    doc = json.loads(c.get_layer_version_policy(LayerName=name, VersionNumber=1)["Policy"])
    assert [s["Sid"] for s in doc["Statement"]] == ["xaccount"]
    c.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="xaccount")
    expect_error("ResourceNotFoundException", 404, c.get_layer_version_policy,
                 LayerName=name, VersionNumber=1)


# -- functions with layers --------------------------------------------------------------------
def test_layers_order_override_versions_and_delete(c):
    a = unique_name("la")
    b = unique_name("lb")
    arn_a = publish(c, a, layer_files("A"))["LayerVersionArn"]
    arn_b = publish(c, b, layer_files("B"))["LayerVersionArn"]
    name = unique_name("fl")
    create_function(c, name, "python3.11", "app.handler", make_zip({"app.py": PY_APP}),
                    Layers=[arn_a, arn_b])
    cfg = c.get_function_configuration(FunctionName=name)
    sizes = {l["LayerVersionArn"]: l["Content"]["CodeSize"]
             for l in (c.get_layer_version_by_arn(Arn=arn_a), c.get_layer_version_by_arn(Arn=arn_b))}
    assert cfg["Layers"] == [{"Arn": arn_a, "CodeSize": sizes[arn_a]},
                             {"Arn": arn_b, "CodeSize": sizes[arn_b]}]
    out = call(c, name)
    # A later layer wins on the same path; the runtime's layer paths are AWS's.
    assert out["shared"] == "B" and out["deep"] == "deep-B" and out["tool"] == "tool-B", out
    assert out["ld_library_path"].endswith("/lib")
    assert any(p.endswith("/python/lib/python3.11/site-packages") for p in out["sys_path"]), out
    c.publish_version(FunctionName=name)

    # The other order: A wins. Version 1 keeps [A, B].
    c.update_function_configuration(FunctionName=name, Layers=[arn_b, arn_a])
    wait_updated(c, name)
    out = call(c, name)
    assert out["shared"] == "A" and out["tool"] == "tool-A", out
    assert call(c, name, qualifier="1")["shared"] == "B"
    assert [l["Arn"] for l in c.get_function_configuration(FunctionName=name, Qualifier="1")[
        "Layers"]] == [arn_a, arn_b]

    # Deleting a layer version breaks no function that uses it, even on a cold start.
    c.delete_layer_version(LayerName=a, VersionNumber=1)
    c.update_function_configuration(FunctionName=name, Description="cold start please")
    wait_updated(c, name)
    assert call(c, name)["shared"] == "A"
    assert call(c, name, qualifier="1")["shared"] == "B"
    # ... but it cannot be added to a function any more.
    msg = expect_error("InvalidParameterValueException", 400, c.update_function_configuration,
                       FunctionName=name, Layers=[arn_a])
    assert msg == f"Layer version {arn_a} does not exist."

    # No layers at all: the module is gone.
    c.update_function_configuration(FunctionName=name, Layers=[])
    wait_updated(c, name)
    assert "Layers" not in c.get_function_configuration(FunctionName=name)
    assert call(c, name)["shared"].startswith("missing")


def test_function_layer_errors_change_nothing(c):
    lyr = unique_name("le")
    arn = publish(c, lyr, {"python/x.py": "X = 1\n"})["LayerVersionArn"]
    arn2 = publish(c, lyr, {"python/x.py": "X = 2\n"})["LayerVersionArn"]
    name = unique_name("fe")
    create_function(c, name, "python3.11", "app.handler", make_zip({"app.py": PY_APP}),
                    Layers=[arn])
    before = c.get_function_configuration(FunctionName=name)

    unknown = layer_arn(unique_name("nope"), 1)
    msg = expect_error("InvalidParameterValueException", 400, c.update_function_configuration,
                       FunctionName=name, Layers=[arn, unknown])
    assert msg == f"Layer version {unknown} does not exist."
    others = [publish(c, unique_name("many"), {"f": "x"})["LayerVersionArn"] for _ in range(6)]
    msg = expect_error("InvalidParameterValueException", 400, c.update_function_configuration,
                       FunctionName=name, Layers=others)
    assert msg == "Cannot reference more than 5 layers."
    expect_error("InvalidParameterValueException", 400, c.update_function_configuration,
                 FunctionName=name, Layers=[arn, arn2])
    expect_error("ValidationException", 400, c.update_function_configuration,
                 FunctionName=name, Layers=["not-an-arn"])
    # CreateFunction refuses the same, creating nothing.
    other = unique_name("fe")
    expect_error("InvalidParameterValueException", 400, c.create_function, FunctionName=other,
                 Runtime="python3.11", Handler="app.handler",
                 Role=f"arn:aws:iam::{ACCOUNT}:role/r", Code={"ZipFile": make_zip({"app.py": PY_APP})},
                 Layers=[unknown])
    expect_error("ResourceNotFoundException", 404, c.get_function, FunctionName=other)

    after = c.get_function_configuration(FunctionName=name)
    assert after["Layers"] == before["Layers"] and after["RevisionId"] == before["RevisionId"]
    # Five is fine.
    c.update_function_configuration(FunctionName=name, Layers=others[:5])
    wait_updated(c, name)
    assert len(c.get_function_configuration(FunctionName=name)["Layers"]) == 5


def big_zero_layer(mib: int) -> bytes:
    """A small zip that unpacks to `mib` MiB (zeros compress well)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("data/zeros.bin", date_time=(2000, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w") as f:
            chunk = bytes(1 << 20)
            for _ in range(mib):
                f.write(chunk)
    return buf.getvalue()


def test_code_and_layers_together_at_most_250_mb_unzipped(hako_factory):
    c = boto_lambda_client(hako_factory().endpoint)
    big = big_zero_layer(126)
    arn1 = c.publish_layer_version(LayerName="big1", Content={"ZipFile": big})["LayerVersionArn"]
    arn2 = c.publish_layer_version(LayerName="big2", Content={"ZipFile": big})["LayerVersionArn"]
    name = unique_name("big")
    create_function(c, name, "provided.al2023", "bootstrap", fixture_zip("rust-echo"),
                    Layers=[arn1])
    msg = expect_error("InvalidParameterValueException", 400, c.update_function_configuration,
                       FunctionName=name, Layers=[arn1, arn2])
    assert msg.startswith("Function code combined with layers exceeds the maximum allowed size "
                          "of 262144000 bytes. The actual size is ")
    assert [l["Arn"] for l in c.get_function_configuration(FunctionName=name)["Layers"]] == [arn1]
    expect_error("InvalidParameterValueException", 400, c.create_function,
                 FunctionName=unique_name("big"), Runtime="provided.al2023", Handler="bootstrap",
                 Role=f"arn:aws:iam::{ACCOUNT}:role/r", Code={"ZipFile": fixture_zip("rust-echo")},
                 Layers=[arn1, arn2])


def test_custom_runtime_delivered_as_a_layer(c):
    # The official lambda_runtime fixture's bootstrap, shipped in a layer; the function's own
    # package has no bootstrap.
    with zipfile.ZipFile(io.BytesIO(fixture_zip("rust-echo"))) as z:
        bootstrap = z.read("bootstrap")
    arn = c.publish_layer_version(
        LayerName=unique_name("rt"),
        Content={"ZipFile": make_zip({"bootstrap": bootstrap})},
        CompatibleRuntimes=["provided.al2023"])["LayerVersionArn"]
    name = unique_name("custom")
    create_function(c, name, "provided.al2023", "function.handler",
                    make_zip({"function.txt": "no bootstrap here"}), Layers=[arn],
                    Environment={"Variables": {"FROM_CONFIG": "yes"}})
    assert call(c, name, {"hello": "layer"}) == {"hello": "layer"}
    assert call(c, name, {"env": "FROM_CONFIG"}) == "yes"
    assert call(c, name, {"env": "_HANDLER"}) == "function.handler"
    # Without the layer there is no bootstrap: AWS's error at invoke.
    c.update_function_configuration(FunctionName=name, Layers=[])
    wait_updated(c, name)
    out = c.invoke(FunctionName=name, Payload=b"{}")
    assert out.get("FunctionError") == "Unhandled"
    assert "bootstrap" in out["Payload"].read().decode()


def test_opt_is_the_merged_layers_read_only(c, hako):
    if "sandbox backend: linux" not in hako.log_text():
        why = ("/opt itself is shown only by the linux backend (a mount namespace, needs root); "
               "this server runs another")
        if os.environ.get("CI") == "true" and LINUX:
            pytest.fail(f"CI as root without HAKO_SANDBOX=process: {why}")
        pytest.skip(why)
    a = publish(c, unique_name("oa"), layer_files("A"))["LayerVersionArn"]
    b = publish(c, unique_name("ob"), layer_files("B"))["LayerVersionArn"]
    name = unique_name("opt")
    create_function(c, name, "python3.11", "app.handler", make_zip({"app.py": PY_APP}),
                    Layers=[a, b])
    assert call(c, name, {"read": "/opt/data/which.txt"})["read"] == "B"
    assert call(c, name, {"read": "/opt/data/only-A.txt"})["read"] == "A"
    assert call(c, name, {"read": "/opt/data/only-B.txt"})["read"] == "B"
    out = call(c, name, {"write": "/opt/data/new.txt"})
    assert out["write"].startswith("error"), out
    out = call(c, name)
    # AWS's: PYTHONPATH is /var/runtime, the runtime puts the layers' paths after the task root.
    assert out["pythonpath"] == "/var/runtime", out
    assert out["sys_path"][:3] == ["/var/task", "/opt/python/lib/python3.11/site-packages", "/opt/python"], out
    assert out["ld_library_path"].endswith(":/opt/lib")


def test_package_symlinks_into_the_layers_resolve_in_the_sandbox(c, hako):
    # AWS accepts a package with absolute symlinks, which resolve inside the execution
    # environment (issue 10, checked against AWS): here into the function's layers under /opt.
    if "sandbox backend: linux" not in hako.log_text():
        why = ("a link to /opt reaches the layers only under the linux backend (its /opt); the "
               "process backend resolves links on the host (README, Symlinks in packages)")
        if os.environ.get("CI") == "true" and LINUX:
            pytest.fail(f"CI as root without HAKO_SANDBOX=process: {why}")
        pytest.skip(why)
    with zipfile.ZipFile(io.BytesIO(fixture_zip("rust-echo"))) as z:
        runtime = z.read("bootstrap")
    layer = publish(c, unique_name("linked"), {
        "data/greeting.txt": "hello from the layer",
        "share/notes/n.txt": "a layer's directory",
        "bin/echo-runtime": runtime,
    })["LayerVersionArn"]
    # A Python function whose files are links into /opt: a file and a directory.
    py = unique_name("links-py")
    create_function(c, py, "python3.11", "app.handler",
                    make_zip({"app.py": PY_APP},
                             links={"greeting.txt": "/opt/data/greeting.txt",
                                    "notes": "/opt/share/notes"}),
                    Layers=[layer])
    assert call(c, py, {"read": "/var/task/greeting.txt"})["read"] == "hello from the layer"
    assert call(c, py, {"read": "/var/task/notes/n.txt"})["read"] == "a layer's directory"
    assert call(c, py, {"read": "greeting.txt"})["read"] == "hello from the layer"
    # A custom runtime whose bootstrap is a link to a layer's executable (not /opt/bootstrap,
    # and not on the host: Hako must look for it in the sandbox's /opt).
    assert not os.path.exists("/opt/bin/echo-runtime")
    rt = unique_name("links-rt")
    create_function(c, rt, "provided.al2023", "function.handler",
                    make_zip({}, links={"bootstrap": "/opt/bin/echo-runtime"}),
                    Layers=[layer])
    assert call(c, rt, {"hello": "link"}) == {"hello": "link"}
    # Without the layer the link leads nowhere in the sandbox: an error, not the host's /opt.
    c.update_function_configuration(FunctionName=rt, Layers=[])
    wait_updated(c, rt)
    out = c.invoke(FunctionName=rt, Payload=b"{}")
    assert out.get("FunctionError") == "Unhandled", out


NODE_APP = """
const generic = require('generic_mod');
const versioned = require('both_mod');
exports.handler = async () => ({ generic: generic.v, both: versioned.v,
                                 nodePath: process.env.NODE_PATH });
"""


def test_node_handler_requires_modules_from_layers(c):
    arn = publish(c, unique_name("node"), {
        "nodejs/node_modules/generic_mod/index.js": "module.exports = { v: 'generic' };\n",
        "nodejs/node_modules/both_mod/index.js": "module.exports = { v: 'unversioned' };\n",
        "nodejs/node20/node_modules/both_mod/index.js": "module.exports = { v: 'node20' };\n",
    })["LayerVersionArn"]
    name = unique_name("nodefn")
    create_function(c, name, "nodejs20.x", "index.handler", make_zip({"index.js": NODE_APP}),
                    Layers=[arn])
    out = call(c, name)
    # AWS's NODE_PATH order: the runtime's own directory before the generic one.
    assert out["generic"] == "generic" and out["both"] == "node20", out
    assert "/nodejs/node20/node_modules:" in out["nodePath"]
