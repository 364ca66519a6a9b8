"""AWS's exceptions and messages for what Lambda refuses, through the real boto3, each with its
source. SNAP is LocalStack's AWS-recorded tests/aws/services/lambda_/test_lambda_api.snapshot.json
(responses recorded against real AWS), cited as SNAP test/key. The rest cite AWS's documentation
or a real AWS answer quoted where noted."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import botocore.exceptions
import pytest
from conftest import (ROLE, boto_lambda_client, create_function, expect_client_error, fixture_zip,
                      make_zip, unique_name)

ECHO = "rust-echo"
ACCOUNT = "123456789012"
# SNAP TestLambdaFunction::test_create_lambda_exceptions/invalid_runtime_exc: the runtimes AWS
# accepts, in the order it prints them.
SUPPORTED = ("[nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, "
             "nodejs22.x, java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, "
             "python3.8, python3.9, java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, "
             "nodejs18.x, provided.al2, java8.al2]")


@pytest.fixture(scope="module")
def c(hako):
    # boto3 checks some minimums itself; AWS's answer is what is asserted here (LocalStack
    # records these with the same client-side validation off).
    return boto_lambda_client(hako.endpoint, parameter_validation=False)


def create_args(**kw):
    args = dict(FunctionName=unique_name("err"), Runtime="provided.al2023", Role=ROLE,
                Handler="bootstrap", Code={"ZipFile": fixture_zip(ECHO)})
    args.update(kw)
    return args


def refused_create(c, code, **kw) -> str:
    """CreateFunction fails with `code` (400) and creates nothing; returns the message."""
    args = create_args(**kw)
    msg = expect_client_error(code, 400, c.create_function, **args)
    expect_client_error("ResourceNotFoundException", 404, c.get_function,
                        FunctionName=args["FunctionName"])
    return msg


@pytest.fixture(scope="module")
def fn(c):
    name = unique_name("err")
    create_function(c, name, "provided.al2023", "bootstrap", fixture_zip(ECHO))
    return name


@pytest.mark.parametrize("runtime", ["non-existent-runtime", "PYTHON3.9"])
def test_unknown_runtime(c, fn, runtime):
    # SNAP test_create_lambda_exceptions/invalid_runtime_exc, uppercase_runtime_exc;
    # test_update_lambda_exceptions/invalid_runtime_exc: Lambda's own check, so
    # InvalidParameterValueException, the value unquoted, no "N validation errors detected".
    want = (f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy "
            f"enum value set: {SUPPORTED} or be a valid ARN")
    assert refused_create(c, "InvalidParameterValueException", Runtime=runtime) == want
    msg = expect_client_error("InvalidParameterValueException", 400,
                              c.update_function_configuration, FunctionName=fn, Runtime=runtime)
    assert msg == want


@pytest.mark.parametrize("runtime", ["python3.7", "nodejs14.x", "go1.x", "provided"])
def test_deprecated_runtime(c, runtime):
    # SNAP TestRuntimeValidation::test_create_deprecated_function_runtime_with_validation_enabled
    assert refused_create(c, "InvalidParameterValueException", Runtime=runtime) == (
        f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS "
        "Lambda functions. We recommend you use a supported runtime while creating or updating "
        "functions.")


def test_timeout_and_memory_are_model_constraints(c, fn):
    # A real AWS answer (a CloudFormation deployment's error): "1 validation error detected:
    # Value '1200' at 'timeout' failed to satisfy constraint: Member must have value less than or
    # equal to 900 (Service: AWSLambdaInternal; Status Code: 400; Error Code:
    # ValidationException)". Memory: 128-10240 MB (AWS docs, "Configure Lambda function memory").
    timeout = ("Value '901' at 'timeout' failed to satisfy constraint: Member must have value "
               "less than or equal to 900")
    memory = ("Value '10241' at 'memorySize' failed to satisfy constraint: Member must have value "
              "less than or equal to 10240")
    assert refused_create(c, "ValidationException", Timeout=901) == \
        f"1 validation error detected: {timeout}"
    assert refused_create(c, "ValidationException", MemorySize=10241) == \
        f"1 validation error detected: {memory}"
    # Several at once: counted and joined with "; ", as AWS does (SNAP
    # test_layer_exceptions/publish_layer_version_exc_invalid_runtime_arch).
    assert refused_create(c, "ValidationException", Timeout=901, MemorySize=10241) == \
        f"2 validation errors detected: {timeout}; {memory}"
    before = c.get_function_configuration(FunctionName=fn)
    msg = expect_client_error("ValidationException", 400, c.update_function_configuration,
                              FunctionName=fn, Timeout=5, MemorySize=10241)
    assert msg == f"1 validation error detected: {memory}"
    after = c.get_function_configuration(FunctionName=fn)
    assert after["Timeout"] == before["Timeout"] and after["RevisionId"] == before["RevisionId"]


def test_required_member_is_value_null(hako):
    # boto3 refuses a missing required member itself, so this goes over HTTP. AWS prints `Value
    # null`, unquoted (SNAP test_tag_exceptions/untag_empty_keys: "1 validation error detected:
    # Value null at 'tagKeys' failed to satisfy constraint: Member must not be null").
    body = json.dumps({"FunctionName": unique_name("err"), "Runtime": "provided.al2023",
                       "Handler": "bootstrap", "Code": {"ZipFile": ""}}).encode()
    req = urllib.request.Request(f"{hako.endpoint}/2015-03-31/functions", data=body,
                                 method="POST", headers={"content-type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(req, timeout=10)
    assert ei.value.code == 400
    assert ei.value.headers["x-amzn-ErrorType"] == "ValidationException"
    assert json.loads(ei.value.read())["message"] == (
        "1 validation error detected: Value null at 'role' failed to satisfy constraint: Member "
        "must not be null")


def test_function_name_longer_than_64(c):
    # SNAP test_function_arns/long_function_name_exc: Lambda's check, worded as a constraint.
    name = "a" * 65
    assert expect_client_error("InvalidParameterValueException", 400, c.create_function,
                               **create_args(FunctionName=name)) == (
        f"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy "
        "constraint: Member must have length less than or equal to 64")


def test_architectures(c):
    # SNAP test_create_lambda_exceptions/multiple_architectures, uppercase_architecture
    assert refused_create(c, "ValidationException", Architectures=["x86_64", "arm64"]) == (
        "1 validation error detected: Value '[x86_64, arm64]' at 'architectures' failed to "
        "satisfy constraint: Member must have length less than or equal to 1")
    assert refused_create(c, "ValidationException", Architectures=["X86_64"]) == (
        "1 validation error detected: Value '[X86_64]' at 'architectures' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
        "[x86_64, arm64], Member must not be null]")


def test_role_pattern(c):
    # SNAP test_create_lambda_exceptions/invalid_role_arn_exc
    assert refused_create(c, "ValidationException", Role="r1") == (
        "1 validation error detected: Value 'r1' at 'role' failed to satisfy constraint: Member "
        r"must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?"
        r"[a-zA-Z_0-9+=,.@\-_/]+")


def test_environment_over_4kb_says_what_it_measured(c):
    # SNAP TestLambdaSizeLimits::test_large_environment_variables_fails/failed_create_fn_result
    value = "x" * 4097
    assert refused_create(c, "InvalidParameterValueException",
                          Environment={"Variables": {"LARGE_VAR": value}}) == (
        "Lambda was unable to configure your environment variables because the environment "
        "variables you have provided exceeded the 4KB limit. String measured: "
        + json.dumps({"LARGE_VAR": value}, separators=(",", ":")))


def test_snap_start_apply_on(c):
    # SNAP TestLambdaSnapStart::test_snapstart_exceptions/create_function_invalid_snapstart_apply
    assert refused_create(c, "ValidationException", SnapStart={"ApplyOn": "invalidOption"}) == (
        "1 validation error detected: Value 'invalidOption' at 'snapStart.applyOn' failed to "
        "satisfy constraint: Member must satisfy enum value set: [PublishedVersions, None]")


def test_message_key_follows_botocores_shape(c, hako):
    # botocore's service-2.json: ResourceNotFoundException's member is `Message`,
    # InvalidParameterValueException's `message`; AWS answers with those keys (SNAP: the
    # recorded ResourceNotFoundException carries "Message", InvalidParameterValueException
    # "message"). botocore copies a modelled exception's members into the response.
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.get_function(FunctionName=unique_name("nope"))
    assert "Message" in ei.value.response and "message" not in ei.value.response
    assert ei.value.response["Type"] == "User"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.create_function(**create_args(Runtime="cobol"))
    assert "message" in ei.value.response and "Message" not in ei.value.response
    # The body itself: {"Type":"User","Message":"..."}.
    req = urllib.request.Request(f"{hako.endpoint}/2015-03-31/functions/nope-nope")
    with pytest.raises(urllib.error.HTTPError) as he:
        urllib.request.urlopen(req, timeout=10)
    assert he.value.code == 404
    assert json.loads(he.value.read()) == {
        "Type": "User",
        "Message": f"Function not found: arn:aws:lambda:us-east-1:{ACCOUNT}:function:nope-nope"}


def test_alias_errors(c, fn):
    v = c.publish_version(FunctionName=fn)["Version"]
    # SNAP test_alias_naming/create_alias_number_exception
    msg = expect_client_error("ValidationException", 400, c.create_alias, FunctionName=fn,
                              Name="2024", FunctionVersion=v)
    assert msg == ("1 validation error detected: Value '2024' at 'name' failed to satisfy "
                   "constraint: Member must satisfy regular expression pattern: "
                   "(?!^[0-9]+$)([a-zA-Z0-9-_]+)")
    # SNAP test_notfound_and_invalid_routingconfigs/routing_config_exc_toohigh, _subzero,
    # _version_latest
    for weights, constraint in (
            ({"2": 2.0}, "Map value must satisfy constraint: [Member must have value less than or "
                         "equal to 1.0, Member must have value greater than or equal to 0.0, "
                         "Member must not be null]"),
            ({"2": -1.0}, "Map value must satisfy constraint: [Member must have value less than "
                          "or equal to 1.0, Member must have value greater than or equal to 0.0, "
                          "Member must not be null]"),
            ({"$LATEST": 0.5}, "Map keys must satisfy constraint: [Member must have length less "
                               "than or equal to 1024, Member must have length greater than or "
                               "equal to 1, Member must satisfy regular expression pattern: "
                               "[0-9]+]")):
        (k, w), = weights.items()
        msg = expect_client_error("ValidationException", 400, c.create_alias, FunctionName=fn,
                                  Name="custom", FunctionVersion=v,
                                  RoutingConfig={"AdditionalVersionWeights": weights})
        assert msg == (f"1 validation error detected: Value '{{{k}={w!r}}}' at "
                       f"'routingConfig.additionalVersionWeights' failed to satisfy constraint: "
                       f"{constraint}")


def test_layer_errors(c):
    name = unique_name("errlayer")
    # SNAP test_layer_exceptions/publish_layer_version_exc_invalid_runtime_arch
    msg = expect_client_error("ValidationException", 400, c.publish_layer_version, LayerName=name,
                              Content={"ZipFile": make_zip({"a": "b"})},
                              CompatibleRuntimes=["invalidruntime"],
                              CompatibleArchitectures=["invalidarch"])
    assert msg == (
        "2 validation errors detected: Value '[invalidruntime]' at 'compatibleRuntimes' failed to "
        f"satisfy constraint: Member must satisfy enum value set: {SUPPORTED}; Value "
        "'[invalidarch]' at 'compatibleArchitectures' failed to satisfy constraint: Member must "
        "satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not "
        "be null]")
    # SNAP test_layer_exceptions/get_layer_version_exc_layer_version_doesnotexist_zero, _negative,
    # delete_layer_version_exc_layerversion_invalid_version
    c.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip({"a": "b"})})
    for n in (0, -1):
        assert expect_client_error("InvalidParameterValueException", 400, c.get_layer_version,
                                   LayerName=name, VersionNumber=n) == \
            "Layer Version Cannot be less than 1"
    assert expect_client_error("InvalidParameterValueException", 400, c.delete_layer_version,
                               LayerName=name, VersionNumber=-1) == \
        "Layer Version Cannot be less than 1"
    # SNAP test_layer_function_exceptions/two_layer_versions_single_function_exc
    arn2 = c.publish_layer_version(LayerName=name,
                                   Content={"ZipFile": make_zip({"a": "c"})})["LayerVersionArn"]
    arn1 = arn2.rsplit(":", 1)[0] + ":1"
    assert refused_create(c, "InvalidParameterValueException", Layers=[arn1, arn2]) == (
        "Two different versions of the same layer are not allowed to be referenced in the same "
        f"function. {arn1} and {arn2} are versions of the same layer.")
    # SNAP test_layer_function_exceptions/add_layer_arn_without_version_exc
    layer = arn1.rsplit(":", 1)[0]
    assert refused_create(c, "ValidationException", Layers=[layer]) == (
        f"1 validation error detected: Value '[{layer}]' at 'layers' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must have length less than or equal "
        "to 2048, Member must have length greater than or equal to 1, Member must satisfy regular "
        r"expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?"
        r"-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:"
        r"[a-zA-Z0-9-_]+), Member must not be null]")


def test_event_invoke_config_errors(c, fn):
    # SNAP TestLambdaEventInvokeConfig::test_lambda_eventinvokeconfig_exceptions
    own = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{fn}"
    # put_functionname_nootherargs
    assert expect_client_error("InvalidParameterValueException", 400,
                               c.put_function_event_invoke_config, FunctionName=fn) == \
        "You must specify at least one of error handling or destination setting."
    # put_destination_recursive
    assert expect_client_error("InvalidParameterValueException", 400,
                               c.put_function_event_invoke_config, FunctionName=fn,
                               DestinationConfig={"OnSuccess": {"Destination": own}}) == \
        "You can't specify the function as a destination for itself."
    # put_destination_invalid_service_arn
    iam = own.replace(":lambda:", ":iam:")
    assert expect_client_error("InvalidParameterValueException", 400,
                               c.put_function_event_invoke_config, FunctionName=fn,
                               DestinationConfig={"OnSuccess": {"Destination": iam}}) == (
        f"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination={iam}),"
        " onFailure=null) is invalid.")
    # put_destination_invalid_arn_pattern
    bad = own.replace(":lambda:", ":_-/!lambda:")
    assert expect_client_error("ValidationException", 400, c.put_function_event_invoke_config,
                               FunctionName=fn,
                               DestinationConfig={"OnFailure": {"Destination": bad}}) == (
        f"1 validation error detected: Value '{bad}' at 'destinationConfig.onFailure.destination' "
        r"failed to satisfy constraint: Member must satisfy regular expression pattern: "
        r"$|kafka://([^.]([a-zA-Z0-9\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:"
        r"((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)")
    # put_destination_success_no_destination_arn: an empty target is accepted.
    c.put_function_event_invoke_config(FunctionName=fn, DestinationConfig={"OnSuccess": {}})
    c.delete_function_event_invoke_config(FunctionName=fn)


def test_event_invoke_config_not_found(c, fn):
    # SNAP test_lambda_eventinvokeconfig_exceptions: Put, Update and List say "The function
    # doesn't exist."; Get and Delete name the configuration that is not there.
    fake = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:doesnotexist"
    for call in (lambda: c.put_function_event_invoke_config(FunctionName="doesnotexist",
                                                            MaximumRetryAttempts=1),
                 lambda: c.put_function_event_invoke_config(FunctionName=fake,
                                                            MaximumRetryAttempts=1),
                 lambda: c.put_function_event_invoke_config(FunctionName=fn, Qualifier="nope",
                                                            MaximumRetryAttempts=1),
                 lambda: c.update_function_event_invoke_config(FunctionName="doesnotexist",
                                                               MaximumRetryAttempts=1),
                 lambda: c.list_function_event_invoke_configs(FunctionName="doesnotexist")):
        assert expect_client_error("ResourceNotFoundException", 404, call) == \
            "The function doesn't exist."
    # put_functionname_nootherargs: checked before the function is looked up.
    assert expect_client_error("InvalidParameterValueException", 400,
                               c.put_function_event_invoke_config,
                               FunctionName="doesnotexist") == \
        "You must specify at least one of error handling or destination setting."
    # get_function_doesnotexist, delete_function_doesnotexist, get_qualifier_doesnotexist
    for kw, arn in ((dict(FunctionName="doesnotexist"), f"{fake}:$LATEST"),
                    (dict(FunctionName=fn, Qualifier="doesnotexist"),
                     f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{fn}:doesnotexist")):
        for op in (c.get_function_event_invoke_config, c.delete_function_event_invoke_config):
            assert expect_client_error("ResourceNotFoundException", 404, op, **kw) == \
                f"The function {arn} doesn't have an EventInvokeConfig"
    # put_destination_lambda_doesntexist
    assert expect_client_error("InvalidParameterValueException", 400,
                               c.put_function_event_invoke_config, FunctionName=fn,
                               DestinationConfig={"OnSuccess": {"Destination": fake}}) == \
        f"The destination ARN {fake} is invalid."
    expect_client_error("ResourceNotFoundException", 404, c.get_function_event_invoke_config,
                        FunctionName=fn)


def test_tag_errors(c, fn):
    # SNAP TestLambdaTags::test_tag_exceptions
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{fn}"
    assert expect_client_error("ValidationException", 400, c.tag_resource,
                               Resource="arn:aws:something", Tags={"key_a": "value_a"}) == (
        "1 validation error detected: Value 'arn:aws:something' at 'resource' failed to satisfy "
        r"constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:"
        r"(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+"
        r"(:(\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|code-signing-config:csc-[a-z0-9]{17}"
        r"|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
        r"[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)")
    # untag_empty_keys: "Value null", unquoted.
    assert expect_client_error("ValidationException", 400, c.untag_resource, Resource=arn,
                               TagKeys=[]) == (
        "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: "
        "Member must not be null")
    # tag_empty_tags
    assert expect_client_error("InvalidParameterValueException", 400, c.tag_resource,
                               Resource=arn, Tags={}) == \
        "An error occurred and the request cannot be processed."
    # tag_lambda_qualifier_doesnotexist
    assert expect_client_error("InvalidParameterValueException", 400, c.tag_resource,
                               Resource=f"{arn}:v1", Tags={"key_a": "value_a"}) == \
        "Tags on function aliases and versions are not supported. Please specify a function ARN."


def test_alias_and_concurrency_errors(c, fn):
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{fn}"
    # SNAP TestLambdaAlias::test_non_existent_alias_update/update_alias_response
    assert expect_client_error("ResourceNotFoundException", 404, c.update_alias, FunctionName=fn,
                               Name="non-existent", FunctionVersion="$LATEST") == \
        f"Alias not found: {arn}:non-existent"
    # SNAP test_notfound_and_invalid_routingconfigs/routing_config_exc_fn_doesnotexist
    assert expect_client_error("ResourceNotFoundException", 404, c.create_alias,
                               FunctionName=f"{fn}-unknown", Name="custom", FunctionVersion="1",
                               RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}}) == \
        f"Function not found: {arn}-unknown:1"
    # SNAP TestLambdaReservedConcurrency::test_function_concurrency_exceptions/
    # put_function_concurrency_with_qualified_arn
    assert expect_client_error("InvalidParameterValueException", 400, c.put_function_concurrency,
                               FunctionName=f"{arn}:$LATEST", ReservedConcurrentExecutions=0) == (
        "This operation is permitted on Lambda functions only. Aliases and versions do not support "
        "this operation. Please specify either a function name or an unqualified function ARN.")


def test_layer_policy_errors(c, fn):
    # SNAP TestLambdaLayer::test_layer_policy_exceptions
    name = unique_name("errpol")
    c.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip({"a": "b"})})
    perm = dict(Action="lambda:GetLayerVersion", Principal="*")
    c.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="s1", **perm)
    revision = ("The Revision Id provided does not match the latest Revision Id. Call the "
                "GetLayerPolicy API to retrieve the latest Revision Id")
    assert expect_client_error("PreconditionFailedException", 412, c.add_layer_version_permission,
                               LayerName=name, VersionNumber=1, StatementId="s2",
                               RevisionId="wrong", **perm) == revision
    assert expect_client_error("PreconditionFailedException", 412,
                               c.remove_layer_version_permission, LayerName=name,
                               VersionNumber=1, StatementId="s1", RevisionId="wrong") == revision
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:{name}"
    for layer, version in ((name, 2), (f"{name}-doesnotexist", 1)):
        missing = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:{layer}:{version}"
        for call in (lambda: c.add_layer_version_permission(LayerName=layer,
                                                            VersionNumber=version,
                                                            StatementId="s3", **perm),
                     lambda: c.get_layer_version_policy(LayerName=layer, VersionNumber=version),
                     lambda: c.remove_layer_version_permission(LayerName=layer,
                                                               VersionNumber=version,
                                                               StatementId="s1")):
            assert expect_client_error("ResourceNotFoundException", 404, call) == \
                f"Layer version {missing} does not exist."
    # SNAP TestLambdaLayer::test_layer_function_exceptions/
    # create_function_with_layer_in_different_region
    other = arn.replace("us-east-1", "eu-west-1") + ":1"
    assert expect_client_error("InvalidParameterValueException", 400,
                               c.update_function_configuration, FunctionName=fn,
                               Layers=[other]) == \
        "Layers are not in the same region as the function. Layers are expected to be in region " \
        "us-east-1."
