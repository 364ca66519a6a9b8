"""Environment variables encrypted at rest, through the real boto3 and the real `hako` binary:
no value in clear anywhere in the data directory (database, WAL, any file) or in Hako's own log;
Hako's platform key (0600, made on first start); customer keys (`hako keys create`) named by
KMSKeyArn, and AWS's errors for unknown ones; validation errors that change nothing; the
migration of a database written with clear values."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import uuid
from pathlib import Path

from conftest import boto_lambda_client, create_function, fixture_zip, hako_cmd, hako_env, unique_name
from conftest import expect_client_error as expect_error

ECHO = "rust-echo"


def secret(tag: str) -> str:
    """A value that cannot occur anywhere by chance."""
    return f"hako-secret-{tag}-{uuid.uuid4().hex}"


def env_in_function(client, name, var, qualifier=None):
    kw = {"Qualifier": qualifier} if qualifier else {}
    out = client.invoke(FunctionName=name, Payload=json.dumps({"env": var}), **kw)
    assert "FunctionError" not in out, out
    return json.loads(out["Payload"].read())


def wait_updated(client, name):
    client.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})


def files_holding(data_dir: Path, needles: list[str]) -> list[str]:
    """Every file under the data directory whose bytes hold one of `needles`."""
    found = []
    for root, _dirs, files in os.walk(data_dir):
        for f in files:
            p = Path(root) / f
            try:
                data = p.read_bytes()
            except OSError:
                continue
            for n in needles:
                if n.encode() in data:
                    found.append(f"{p} holds {n}")
    return found


def hako_keys(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(hako_cmd("keys", *args, "--data-dir", str(data_dir)), env=hako_env(),
                          capture_output=True, text=True, timeout=30)


def test_values_never_in_clear_on_disk_or_in_logs(hako_factory):
    server = hako_factory()
    c = boto_lambda_client(server.endpoint)
    v1, v2 = secret("one"), secret("two")
    name = unique_name("env")
    create_function(c, name, "provided.al2023", "bootstrap", fixture_zip(ECHO),
                    Environment={"Variables": {"SECRET": v1}})
    c.publish_version(FunctionName=name)
    c.update_function_configuration(FunctionName=name,
                                    Environment={"Variables": {"SECRET": v2, "MORE": v1 + "x"}})
    wait_updated(c, name)

    # The authorised caller and the function see the values in clear.
    assert c.get_function_configuration(FunctionName=name)["Environment"]["Variables"] == {
        "SECRET": v2, "MORE": v1 + "x"}
    assert c.get_function_configuration(FunctionName=name, Qualifier="1")[
        "Environment"]["Variables"] == {"SECRET": v1}
    assert c.get_function(FunctionName=name)["Configuration"]["Environment"]["Variables"][
        "SECRET"] == v2
    assert env_in_function(c, name, "SECRET") == v2
    assert env_in_function(c, name, "SECRET", qualifier="1") == v1
    assert "KMSKeyArn" not in c.get_function_configuration(FunctionName=name)

    # The database file and its WAL, read raw while the server runs, and every other file.
    db = server.data_dir / "hako.db"
    wal = server.data_dir / "hako.db-wal"
    assert db.exists()
    raw = db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert v1.encode() not in raw and v2.encode() not in raw
    assert b"SECRET" not in raw  # keys are sealed too, not only values
    assert files_holding(server.data_dir, [v1, v2]) == []
    # Hako's own log (tracing) says nothing of them either.
    assert v1 not in server.log_text() and v2 not in server.log_text()

    # After a restart (same key from the data directory) everything still opens.
    server.restart()
    c = boto_lambda_client(server.endpoint)
    assert env_in_function(c, name, "SECRET") == v2
    assert c.get_function_configuration(FunctionName=name, Qualifier="1")[
        "Environment"]["Variables"] == {"SECRET": v1}
    assert files_holding(server.data_dir, [v1, v2]) == []


def test_platform_key_file_is_owner_only(hako_factory):
    server = hako_factory()
    keys = server.data_dir / "keys"
    key = keys / "platform.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    text = key.read_text()
    assert len(text.strip()) == 64 and all(ch in "0123456789abcdef" for ch in text.strip())
    # Never logged.
    assert text.strip() not in server.log_text()
    # Kept across restarts (not made again).
    server.restart()
    assert key.read_text() == text
    # A key file opened to others is refused at start, with a clear message.
    server.stop()
    key.chmod(0o644)
    p = subprocess.run(hako_cmd("serve", "--listen", "127.0.0.1:0", "--data-dir",
                                str(server.data_dir)), env=hako_env(),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "0600" in p.stderr, p.stderr
    key.chmod(0o600)


def test_kms_key_arn_registered_unknown_and_reset(hako_factory):
    server = hako_factory()
    made = hako_keys(server.data_dir, "create")
    assert made.returncode == 0, made.stderr
    arn = made.stdout.strip()
    assert arn.startswith("arn:aws:kms:us-east-1:123456789012:key/"), arn
    key_file = server.data_dir / "keys" / (arn.rsplit("/", 1)[1] + ".key")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    listed = hako_keys(server.data_dir, "list")
    assert listed.stdout.split() == [arn]

    c = boto_lambda_client(server.endpoint)
    value = secret("kms")
    name = unique_name("kms")
    # Registered while the server runs: it finds the key at once.
    create_function(c, name, "provided.al2023", "bootstrap", fixture_zip(ECHO),
                    Environment={"Variables": {"SECRET": value}}, KMSKeyArn=arn)
    cfg = c.get_function_configuration(FunctionName=name)
    assert cfg["KMSKeyArn"] == arn
    assert cfg["Environment"]["Variables"] == {"SECRET": value}
    assert env_in_function(c, name, "SECRET") == value
    assert files_holding(server.data_dir, [value]) == []

    # An unknown key: AWS's InvalidParameterValueException, nothing created or changed.
    unknown = f"arn:aws:kms:us-east-1:123456789012:key/{uuid.uuid4()}"
    other = unique_name("kms")
    msg = expect_error("InvalidParameterValueException", 400, c.create_function,
                       FunctionName=other, Runtime="provided.al2023", Handler="bootstrap",
                       Role="arn:aws:iam::123456789012:role/r", Code={"ZipFile": fixture_zip(ECHO)},
                       Environment={"Variables": {"AB": "c"}}, KMSKeyArn=unknown)
    assert msg == ("Lambda was unable to configure access to your environment variables because "
                   "the KMS key is invalid for CreateGrant. Please check your KMS key settings. "
                   f"KMS Exception: NotFoundExceptionKMS Message: Key '{unknown}' does not exist")
    expect_error("ResourceNotFoundException", 404, c.get_function, FunctionName=other)
    # A key of another region or account is not Hako's either.
    for wrong in (arn.replace("us-east-1", "eu-west-1"), arn.replace("123456789012", "111122223333")):
        expect_error("InvalidParameterValueException", 400, c.update_function_configuration,
                     FunctionName=name, KMSKeyArn=wrong)
    # Not an ARN at all: the model's pattern.
    msg = expect_error("ValidationException", 400, c.update_function_configuration,
                       FunctionName=name, KMSKeyArn="my-key")
    assert "kMSKeyArn" in msg
    after = c.get_function_configuration(FunctionName=name)
    assert after["KMSKeyArn"] == arn and after["RevisionId"] == cfg["RevisionId"]

    # KMSKeyArn "" goes back to Hako's own key; the values stay.
    c.update_function_configuration(FunctionName=name, KMSKeyArn="")
    wait_updated(c, name)
    cfg = c.get_function_configuration(FunctionName=name)
    assert "KMSKeyArn" not in cfg
    assert cfg["Environment"]["Variables"] == {"SECRET": value}
    assert env_in_function(c, name, "SECRET") == value


def test_validation_errors_leave_the_function_unchanged(hako_factory):
    server = hako_factory()
    c = boto_lambda_client(server.endpoint)
    name = unique_name("envval")
    create_function(c, name, "provided.al2023", "bootstrap", fixture_zip(ECHO),
                    Environment={"Variables": {"KEEP": "me"}})
    before = c.get_function_configuration(FunctionName=name)

    msg = expect_error("InvalidParameterValueException", 400, c.update_function_configuration,
                       FunctionName=name,
                       Environment={"Variables": {"AWS_REGION": "x", "LAMBDA_TASK_ROOT": "y", "OK": "z"}})
    assert msg.startswith("Lambda was unable to configure your environment variables because the "
                          "environment variables you have provided contains reserved keys")
    assert "AWS_REGION" in msg and "LAMBDA_TASK_ROOT" in msg and "OK" not in msg
    # Keys outside the model's pattern (the reserved `_HANDLER` among them).
    for bad_key in ("1ABC", "A-B", "X", "_HANDLER"):
        msg = expect_error("ValidationException", 400, c.update_function_configuration,
                           FunctionName=name, Environment={"Variables": {bad_key: "v"}})
        assert "[a-zA-Z]([a-zA-Z0-9_])+" in msg
    msg = expect_error("InvalidParameterValueException", 400, c.update_function_configuration,
                       FunctionName=name, Environment={"Variables": {"BIG": "x" * 4100}})
    assert "exceeded the 4KB limit" in msg
    # The same rules at CreateFunction: nothing is created.
    other = unique_name("envval")
    expect_error("InvalidParameterValueException", 400, c.create_function, FunctionName=other,
                 Runtime="provided.al2023", Handler="bootstrap",
                 Role="arn:aws:iam::123456789012:role/r", Code={"ZipFile": fixture_zip(ECHO)},
                 Environment={"Variables": {"AWS_LAMBDA_RUNTIME_API": "x"}})
    expect_error("ResourceNotFoundException", 404, c.get_function, FunctionName=other)

    after = c.get_function_configuration(FunctionName=name)
    assert after["Environment"] == before["Environment"] == {"Variables": {"KEEP": "me"}}
    assert after["RevisionId"] == before["RevisionId"]
    assert env_in_function(c, name, "KEEP") == "me"
    # Just under the limit is fine.
    c.update_function_configuration(FunctionName=name,
                                    Environment={"Variables": {"BIG": "x" * 4000}})
    wait_updated(c, name)
    assert len(env_in_function(c, name, "BIG")) == 4000


def test_clear_values_of_an_older_data_dir_are_sealed_on_start(hako_factory):
    server = hako_factory()
    c = boto_lambda_client(server.endpoint)
    name = unique_name("mig")
    create_function(c, name, "provided.al2023", "bootstrap", fixture_zip(ECHO))
    server.stop()
    # Make the database look like one an older Hako wrote: schema 2, the value in clear.
    value = secret("old")
    db = server.data_dir / "hako.db"
    conn = sqlite3.connect(db)
    rec = json.loads(conn.execute("SELECT record FROM functions WHERE name = ?",
                                  (name,)).fetchone()[0])
    rec.pop("sealed_environment", None)
    rec.pop("kms_key_arn", None)
    rec["environment"] = {"OLD": value}
    conn.execute("UPDATE functions SET record = ? WHERE name = ?", (json.dumps(rec), name))
    # Tables of later migrations go: schema 2 had only these.
    schema_2 = {"functions", "logs", "aliases", "version_counters", "sqlite_sequence"}
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        if table not in schema_2:
            conn.execute(f"DROP TABLE {table}")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    assert files_holding(server.data_dir, [value]) != []

    server.start()
    c = boto_lambda_client(server.endpoint)
    assert files_holding(server.data_dir, [value]) == []
    assert c.get_function_configuration(FunctionName=name)["Environment"]["Variables"] == {
        "OLD": value}
    assert env_in_function(c, name, "OLD") == value
    assert value not in server.log_text()
