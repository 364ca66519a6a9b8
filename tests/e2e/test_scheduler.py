"""EventBridge Scheduler through boto3 and the aws CLI, against the real binary.

AWS's answers asserted here come from LocalStack's AWS-recorded snapshots
(tests/aws/services/scheduler/test_scheduler.snapshot.json): test_get_schedule's shape and
defaults (ScheduleExpressionTimezone "UTC", ActionAfterCompletion "NONE", RetryPolicy
{86400, 185}), test_get_schedule_not_found / test_delete_schedule_not_found ("Schedule
not-existing-schedule-name does not exist.", 404), tests_create_schedule_with_invalid_schedule_
expression ("Invalid Schedule Expression rate(10 seconds).", 400),
test_create_schedule_with_valid_cron_expressions, test_tag_resource and test_untag_resource.
Next-fire computation (cron with L/W/#, time zones, DST) is tested in virtual time in the crate
(crates/scheduler/src/expr.rs); here schedules fire for real, with at() a few seconds ahead.
"""

import datetime
import json
import time

import boto3
import pytest
from botocore.config import Config

from conftest import (CREDENTIALS, REGION, expect_client_error, unique_name)

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/scheduler-role"


def client(endpoint, service):
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60,
                 connect_timeout=10)
    return boto3.session.Session().client(service, endpoint_url=endpoint, region_name=REGION,
                                          config=cfg, **CREDENTIALS)


@pytest.fixture(scope="module")
def scheduler(hako):
    return client(hako.endpoint, "scheduler")


def target(arn="arn:aws:lambda:us-east-1:123456789012:function:dummy", **kw):
    return {"Arn": arn, "RoleArn": ROLE, **kw}


def test_create_get_list_delete(scheduler):
    name = unique_name("sched")
    arn = scheduler.create_schedule(
        Name=name, ScheduleExpression="rate(1 minute)", FlexibleTimeWindow={"Mode": "OFF"},
        Target=target(Input=json.dumps({"key": "value"})), Description="Test description",
        State="DISABLED")["ScheduleArn"]
    assert arn == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{name}"
    g = scheduler.get_schedule(Name=name)
    assert g["Arn"] == arn
    assert g["GroupName"] == "default"
    assert g["Name"] == name
    assert g["ScheduleExpression"] == "rate(1 minute)"
    assert g["ScheduleExpressionTimezone"] == "UTC"
    assert g["State"] == "DISABLED"
    assert g["ActionAfterCompletion"] == "NONE"
    assert g["Description"] == "Test description"
    assert g["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert g["Target"]["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400,
                                          "MaximumRetryAttempts": 185}
    assert json.loads(g["Target"]["Input"]) == {"key": "value"}
    assert isinstance(g["CreationDate"], datetime.datetime)
    assert abs(g["CreationDate"].timestamp() - time.time()) < 60
    listed = scheduler.list_schedules(NamePrefix=name)["Schedules"]
    assert [(s["Name"], s["GroupName"], s["State"], s["Target"]) for s in listed] == [
        (name, "default", "DISABLED", {"Arn": "arn:aws:lambda:us-east-1:123456789012:function:dummy"})]
    # Update replaces the whole definition.
    scheduler.update_schedule(Name=name, ScheduleExpression="rate(2 minute)",
                              FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 60},
                              Target=target(), State="DISABLED", ActionAfterCompletion="DELETE")
    g = scheduler.get_schedule(Name=name)
    assert "Description" not in g
    assert g["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 60}
    assert g["ActionAfterCompletion"] == "DELETE"
    scheduler.delete_schedule(Name=name)
    msg = expect_client_error("ResourceNotFoundException", 404, scheduler.get_schedule, Name=name)
    assert msg == f"Schedule {name} does not exist."


def test_not_found_and_invalid_expressions(scheduler):
    msg = expect_client_error("ResourceNotFoundException", 404, scheduler.get_schedule,
                              Name="not-existing-schedule-name")
    assert msg == "Schedule not-existing-schedule-name does not exist."
    msg = expect_client_error("ResourceNotFoundException", 404, scheduler.delete_schedule,
                              Name="not-existing-schedule-name")
    assert msg == "Schedule not-existing-schedule-name does not exist."
    for expr in ["cron(0 1 * * * *)", "cron(71 8 1 * ? *)", "rate(10 seconds)", "rate(10)",
                 " rate(10 minutes)", "at(2021-12-31T23:59:59Z)", "at(2021-12-31)"]:
        msg = expect_client_error(
            "ValidationException", 400, scheduler.create_schedule, Name=unique_name("bad"),
            ScheduleExpression=expr,
            FlexibleTimeWindow={"MaximumWindowInMinutes": 4, "Mode": "FLEXIBLE"},
            Target=target())
        assert msg == f"Invalid Schedule Expression {expr}."
    for expr in ["cron(0-15/1 8-8 ? * 2,3,4,5,6,7 *)", "cron(*/15 * * * ? *)",
                 "cron(0-59/10 0-23/2 ? * * *)", "at(2022-12-31T23:59:59)"]:
        name = unique_name("ok")
        scheduler.create_schedule(Name=name, ScheduleExpression=expr,
                                  FlexibleTimeWindow={"Mode": "OFF"}, Target=target())
        scheduler.delete_schedule(Name=name)
    # The model's constraints reach the server (botocore checks no pattern).
    msg = expect_client_error("ValidationException", 400, scheduler.create_schedule,
                              Name="bad name", ScheduleExpression="rate(1 minute)",
                              FlexibleTimeWindow={"Mode": "OFF"}, Target=target())
    assert msg == ("1 validation error detected: Value 'bad name' at 'name' failed to satisfy "
                   "constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+")
    name = unique_name("dup")
    scheduler.create_schedule(Name=name, ScheduleExpression="rate(1 minute)",
                              FlexibleTimeWindow={"Mode": "OFF"}, Target=target(),
                              State="DISABLED")
    expect_client_error("ConflictException", 409, scheduler.create_schedule, Name=name,
                        ScheduleExpression="rate(1 minute)", FlexibleTimeWindow={"Mode": "OFF"},
                        Target=target())
    # A ClientToken repeated is the same request: answered, not refused.
    tok = unique_name("tok")
    n2 = unique_name("idem")
    for _ in range(2):
        scheduler.create_schedule(Name=n2, ScheduleExpression="rate(1 minute)",
                                  FlexibleTimeWindow={"Mode": "OFF"}, Target=target(),
                                  State="DISABLED", ClientToken=tok)


def test_groups_tags_and_pagination(scheduler):
    group = unique_name("grp")
    garn = scheduler.create_schedule_group(
        Name=group, Tags=[{"Key": "TagKey", "Value": "TagValue"}])["ScheduleGroupArn"]
    assert garn == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/{group}"
    g = scheduler.get_schedule_group(Name=group)
    assert (g["Arn"], g["Name"], g["State"]) == (garn, group, "ACTIVE")
    assert scheduler.get_schedule_group(Name="default")["State"] == "ACTIVE"
    tags = scheduler.list_tags_for_resource(ResourceArn=garn)["Tags"]
    assert tags == [{"Key": "TagKey", "Value": "TagValue"}]
    scheduler.tag_resource(ResourceArn=garn, Tags=[{"Key": "K2", "Value": "V2"}])
    assert len(scheduler.list_tags_for_resource(ResourceArn=garn)["Tags"]) == 2
    scheduler.untag_resource(ResourceArn=garn, TagKeys=["TagKey", "K2"])
    assert scheduler.list_tags_for_resource(ResourceArn=garn)["Tags"] == []
    names = [f"s{i}" for i in range(5)]
    for n in names:
        scheduler.create_schedule(Name=n, GroupName=group, ScheduleExpression="rate(5 minutes)",
                                  FlexibleTimeWindow={"Mode": "OFF"}, Target=target(),
                                  State="DISABLED")
    pages = scheduler.get_paginator("list_schedules").paginate(
        GroupName=group, PaginationConfig={"PageSize": 2})
    seen = [s["Name"] for p in pages for s in p["Schedules"]]
    assert seen == names
    assert scheduler.get_schedule(Name="s3", GroupName=group)["GroupName"] == group
    expect_client_error("ResourceNotFoundException", 404, scheduler.get_schedule, Name="s3")
    groups = [x["Name"] for x in scheduler.list_schedule_groups()["ScheduleGroups"]]
    assert "default" in groups and group in groups
    # Deleting the group deletes its schedules.
    scheduler.delete_schedule_group(Name=group)
    expect_client_error("ResourceNotFoundException", 404, scheduler.get_schedule_group, Name=group)
    expect_client_error("ResourceNotFoundException", 404, scheduler.list_schedules,
                        GroupName=group)
    assert all(s["GroupName"] != group
               for s in scheduler.list_schedules(NamePrefix="s3")["Schedules"])


def test_aws_cli(aws):
    name = unique_name("cli")
    rc, out, err = aws("scheduler", "create-schedule", "--name", name,
                       "--schedule-expression", "cron(0 9 ? * MON-FRI *)",
                       "--schedule-expression-timezone", "Europe/Paris",
                       "--flexible-time-window", "Mode=OFF",
                       "--target", json.dumps(target()), parse_json=True)
    assert rc == 0, err
    assert out["ScheduleArn"].endswith(f":schedule/default/{name}")
    rc, out, err = aws("scheduler", "get-schedule", "--name", name, parse_json=True)
    assert rc == 0, err
    assert out["ScheduleExpressionTimezone"] == "Europe/Paris"
    rc, out, err = aws("scheduler", "delete-schedule", "--name", name)
    assert rc == 0, err
    rc, out, err = aws("scheduler", "get-schedule", "--name", name)
    assert rc != 0 and "ResourceNotFoundException" in err and f"Schedule {name} does not exist." in err
