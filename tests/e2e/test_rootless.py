"""Rootless mode of the linux backend: hako runs as an ordinary user (HAKO_TEST_RUN_AS, set by
scripts/test's rootless pass, which also makes that user, delegates its cgroups and installs
slirp4netns).

What is checked here is what only rootless has: the mode reported, the ids (the sandbox user
993 inside mapped onto Hako's user outside, nothing of it root on the host), slirp4netns for
outbound access and loopback only without it, and the loud fall-back to the process backend
(with the commands that fix it) when no cgroup subtree is delegated. The attacks of
test_hostile.py run rootless in the same pass.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest
from conftest import create_function, greeter, hako_cmd, hako_env, make_zip, run_as_user, unique_name

if run_as_user() is None:
    pytest.skip("rootless tests run in scripts/test's rootless pass (HAKO_TEST_RUN_AS=USER, as root)",
                allow_module_level=True)

USER = run_as_user()
PY = "python3.11"
APP = r'''
import os, socket

def handler(event, context):
    out = {"pid": os.getpid(), "uid": os.getuid(), "gid": os.getgid(),
           "uid_map": open("/proc/self/uid_map").read().split(),
           "gid_map": open("/proc/self/gid_map").read().split(),
           "interfaces": sorted(n for _, n in socket.if_nameindex()),
           "hosts": open("/etc/hosts").read(), "resolv": open("/etc/resolv.conf").read(),
           "connect": {}}
    for host, port in event.get("targets", []):
        try:
            s = socket.create_connection((host, port), timeout=3)
            out["connect"]["%s:%d" % (host, port)] = s.recv(100).decode()
            s.close()
        except OSError as e:
            out["connect"]["%s:%d" % (host, port)] = "errno %s" % (e.errno,)
    return out
'''


def call(client, name, **event):
    out = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    return body


def descendants(pid: int) -> list[int]:
    """Host pids of every process below `pid`."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int(Path(d, "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def uid_of(pid: int) -> int | None:
    try:
        return Path(f"/proc/{pid}").stat().st_uid
    except OSError:
        return None


def test_runs_rootless_and_says_so(hako):
    log = hako.log_text()
    assert "sandbox backend: linux" in log and "mode=rootless" in log, hako.log_tail(20)
    assert 'network="slirp4netns"' in log, hako.log_tail(20)
    assert f"hako-{USER.pw_name}" in log, hako.log_tail(20)
    assert uid_of(hako.proc.pid) == USER.pw_uid


def test_ids_inside_and_on_the_host(hako, lambda_client):
    name = unique_name("ids")
    create_function(lambda_client, name, PY, "app.handler", make_zip({"app.py": APP}))
    seen = call(lambda_client, name)
    # 993/990 inside, Hako's own user and group outside: the only ids the sandbox knows.
    assert (seen["uid"], seen["gid"]) == (993, 990), seen
    assert seen["uid_map"] == ["993", str(USER.pw_uid), "1"], seen
    assert seen["gid_map"] == ["990", str(USER.pw_gid), "1"], seen
    # On the host, every process Hako started (inits, network helpers, the function) is Hako's
    # user: nothing of a rootless Hako runs as root.
    procs = descendants(hako.proc.pid)
    assert procs, "no sandbox process found below hako"
    comms = {}
    for p in procs:
        uid = uid_of(p)
        if uid is not None:
            assert uid == USER.pw_uid, (p, uid)
            try:
                comms[p] = Path(f"/proc/{p}/comm").read_text().strip()
            except OSError:
                pass  # it ended meanwhile
    assert "slirp4netns" in comms.values() and "python3.11" in comms.values(), comms


@pytest.fixture
def greeter_port():
    with greeter() as port:
        yield port


def test_outbound_through_slirp4netns_but_not_the_hosts_loopback(hako, lambda_client, greeter_port):
    name = unique_name("slirp")
    create_function(lambda_client, name, PY, "app.handler", make_zip({"app.py": APP}))
    # A listener on the host's loopback only: out of reach (--disable-host-loopback), as under root.
    lo = socket.socket()
    lo.bind(("127.0.0.1", 0))
    lo.listen(1)
    lo_port = lo.getsockname()[1]
    try:
        seen = call(lambda_client, name,
                    targets=[["hako.host", greeter_port], ["10.0.2.2", lo_port], ["hako.host", lo_port]])
    finally:
        lo.close()
    assert seen["interfaces"] == ["eth0", "lo"], seen
    # Names are resolved by slirp4netns's forwarder, which asks the host's resolvers (no lookup
    # is made here: tests stay on this machine).
    assert seen["resolv"] == "nameserver 10.0.2.3\n", seen
    assert seen["connect"][f"hako.host:{greeter_port}"] == "hello from the host\n", seen
    assert seen["connect"][f"10.0.2.2:{lo_port}"].startswith("errno"), seen
    assert seen["connect"][f"hako.host:{lo_port}"].startswith("errno"), seen


def test_without_slirp4netns_only_loopback(hako_factory, greeter_port):
    from conftest import boto_lambda_client
    server = hako_factory(extra_args=["--slirp4netns", "/nonexistent/slirp4netns"])
    log = server.log_text()
    assert "mode=rootless" in log and 'network="loopback only"' in log, server.log_tail(20)
    assert "no outbound network access" in log, server.log_tail(20)
    c = boto_lambda_client(server.endpoint)
    name = unique_name("noslirp")
    create_function(c, name, PY, "app.handler", make_zip({"app.py": APP}))
    seen = call(c, name, targets=[["192.0.2.1", greeter_port]])
    assert seen["interfaces"] == ["lo"], seen
    assert "hako.host" not in seen["hosts"], seen
    if Path("/etc/resolv.conf").exists():
        assert seen["resolv"] == Path("/etc/resolv.conf").read_text(), seen
    assert seen["connect"] == {f"192.0.2.1:{greeter_port}": "errno 101"}, seen  # ENETUNREACH


def test_without_delegated_cgroups_falls_back_loudly(hako_factory):
    parent = "hako-not-delegated"
    server = hako_factory(extra_args=["--cgroup-parent", parent])
    log = server.log_text()
    assert "falling back to the process backend" in log, server.log_tail(20)
    assert "sandbox backend: process" in log, server.log_tail(20)
    # It names what is missing and the commands that fix it.
    assert f"/sys/fs/cgroup/memory/{parent}" in log and f"/sys/fs/cgroup/freezer/{parent}" in log, log
    assert "mkdir -p /sys/fs/cgroup/memory/" in log and f"chown -R {USER.pw_name}:" in log, log


def test_linux_backend_demanded_without_delegation_refuses_to_start(tmp_path):
    from conftest import give_to_run_as
    data = tmp_path / "data"
    give_to_run_as(data)
    p = subprocess.run(hako_cmd("serve", "--listen", "127.0.0.1:0", "--data-dir", str(data),
                                "--sandbox", "linux", "--cgroup-parent", "hako-not-delegated"),
                       env=hako_env(), capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "the linux sandbox backend cannot run here (rootless)" in p.stderr, p.stderr
    assert "chown -R" in p.stderr, p.stderr


def test_doctor_says_rootless_and_why(tmp_path):
    from conftest import give_to_run_as
    data = tmp_path / "data"
    give_to_run_as(data)
    ok = subprocess.run(hako_cmd("doctor", "--data-dir", str(data)), env=hako_env(),
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "linux    supported (rootless, cgroup v1" in ok.stdout, ok.stdout
    assert "network: slirp4netns" in ok.stdout, ok.stdout
    assert "root mode: not used" in ok.stdout, ok.stdout
    assert "default  linux (rootless)" in ok.stdout, ok.stdout
    bad = subprocess.run(hako_cmd("doctor", "--data-dir", str(data), "--cgroup-parent", "hako-nope"),
                         env=hako_env(), capture_output=True, text=True, timeout=60)
    assert "linux    not supported (rootless)" in bad.stdout, bad.stdout
    assert "mkdir -p /sys/fs/cgroup/memory/hako-nope" in bad.stdout, bad.stdout
    assert "default  process" in bad.stdout, bad.stdout
    # The sandboxes' state lives in the data dir (no XDG_RUNTIME_DIR), never in root's /run.
    assert (data / "run" / "root").is_dir()
