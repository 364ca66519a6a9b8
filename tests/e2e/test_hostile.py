"""Hostile functions under the linux sandbox backend (issue 3, point 5).

Each hostile handler tries something a function must not be able to do and returns what it
observed (errno names, what it could see), so the assertions are precise. Around every hostile
invocation a well-behaved function (the rust-echo fixture) must keep answering correctly: after
each one, and for the slow ones concurrently in a thread while the hostile one runs. Every invoke
must come back with a response (an error or not): no accepted invocation is lost.

Only meaningful with the linux backend: skipped under HAKO_SANDBOX=process and when not root.
In CI (CI=true) as root without HAKO_SANDBOX=process, nothing is skipped and the server must
report `sandbox backend: linux`. With HAKO_TEST_RUN_AS (hako rootless), the same attacks must
fail the same way; where rootless differs (the function's processes are Hako's user on the host,
uid 0 does not exist inside), the tests say so.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
from conftest import REPO, boto_lambda_client, greeter, run_as_user, create_function, fixture_zip, make_zip, unique_name, wait_for

IN_CI = os.environ.get("CI") == "true"
if os.environ.get("HAKO_SANDBOX") == "process":
    pytest.skip("hostile-function tests need the linux sandbox backend; HAKO_SANDBOX=process",
                allow_module_level=True)
if os.geteuid() != 0:
    pytest.skip("hostile-function tests need the linux sandbox backend, which needs root",
                allow_module_level=True)

PY = "python3.11"
SANDBOX_UID = 993
ROOTLESS = run_as_user() is not None
# The uid of the functions' processes as the host sees them: rootless, Hako's own user (which
# also runs Hako and each sandbox's init and network helper).
HOST_UID = run_as_user().pw_uid if ROOTLESS else SANDBOX_UID
PIDS_LIMIT = 1024

# The hostile handler: one module, the case chosen by event["case"]. Every case returns what it
# observed; OSErrors are reported as errno names ("EROFS"), never raised.
HOSTILE_APP = r'''
import ctypes, errno, os, signal, socket, time, uuid

TOKEN = uuid.uuid4().hex  # changes with every new sandbox (fresh interpreter)
libc = ctypes.CDLL(None, use_errno=True)


def ename(n):
    return errno.errorcode.get(n, str(n))


def attempt(f):
    try:
        return {"ok": True, "value": f()}
    except OSError as e:
        return {"ok": False, "errno": ename(e.errno) if e.errno else type(e).__name__}


def c_call(fn, *args):
    ctypes.set_errno(0)
    r = fn(*args)
    return {"ret": r, "errno": ename(ctypes.get_errno()) if r == -1 else None}


def read(p):
    with open(p, "rb") as f:
        return f.read(4096).decode("latin-1")


def status_field(key):
    for line in read("/proc/self/status").splitlines():
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()


def case_token(ev):
    return {"token": TOKEN, "pid": os.getpid()}


def case_read(ev):
    return {p: attempt(lambda p=p: read(p)) for p in ev["paths"]}


def case_stat(ev):
    def look(p):
        return sorted(os.listdir(p)) if os.path.isdir(p) else os.stat(p).st_size
    return {p: attempt(lambda p=p: look(p)) for p in ev["paths"]}


SYSTEM = {"/proc", "/sys", "/dev", "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin"}


def case_find(ev):
    """Every file outside the host's system directories whose name or content holds the secret."""
    secret = ev["secret"].encode()
    hits, files, errors = [], 0, 0
    for root, dirs, names in os.walk("/", onerror=lambda e: None):
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in SYSTEM]
        for n in names:
            p = os.path.join(root, n)
            files += 1
            if secret in p.encode():
                hits.append(p)
                continue
            try:
                if os.path.islink(p) or os.path.getsize(p) > (4 << 20):
                    continue
                with open(p, "rb") as f:
                    if secret in f.read():
                        hits.append(p)
            except OSError:
                errors += 1
    mounts = read("/proc/self/mountinfo")
    return {"hits": hits, "files": files, "errors": errors,
            "mountinfo_has_secret": secret.decode() in mounts,
            "mountinfo_has_code_dir": ev["code_dir"] in mounts,
            "code_dir": attempt(lambda: os.listdir(ev["code_dir"]))}


def case_write(ev):
    out = {}
    for d in ev["dirs"]:
        p = os.path.join(d, ev["probe"])
        def w(p=p):
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, b"hostile")
            os.close(fd)
            return p
        out["create " + p] = attempt(w)
    out["mkdir /var/task/x"] = attempt(lambda: os.mkdir("/var/task/" + ev["probe"]))
    out["append /var/task/app.py"] = attempt(lambda: open("/var/task/app.py", "ab").close())
    out["chmod /var/task/app.py"] = attempt(lambda: os.chmod("/var/task/app.py", 0o777))
    out["unlink /var/task/app.py"] = attempt(lambda: os.unlink("/var/task/app.py"))
    out["create /tmp"] = attempt(lambda: open("/tmp/" + ev["probe"], "wb").close())
    return out


def case_fill_tmp(ev):
    """Writes /tmp full; with ev["keep"] the file stays, flushed to the disk under /tmp."""
    before = os.statvfs("/tmp")
    chunk = b"\xa5" * (1 << 20)
    written, err = 0, None
    fd = os.open("/tmp/fill", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while written < ev["cap"]:
            written += os.write(fd, chunk)
    except OSError as e:
        err = ename(e.errno)
    try:
        if ev.get("keep"):
            os.fsync(fd)
    finally:
        os.close(fd)
    if not ev.get("keep"):
        os.unlink("/tmp/fill")
    # What /tmp is: its filesystem type and device (major:minor), from this sandbox's mountinfo.
    tmp = [line.split() for line in read_all("/proc/self/mountinfo").splitlines()
           if line.split()[4] == "/tmp"][-1]
    fstype = tmp[tmp.index("-") + 1]
    return {"written": written, "errno": err, "tmp_size": before.f_blocks * before.f_frsize,
            "tmp_avail": before.f_bavail * before.f_frsize, "tmp_fs": fstype, "tmp_dev": tmp[2],
            "tmp_owner": os.stat("/tmp").st_uid, "tmp_mode": oct(os.stat("/tmp").st_mode & 0o7777),
            "tmp_entries": os.listdir("/tmp")}


def case_exit(ev):
    os._exit(3)


def case_fork_bomb(ev):
    """Forks until fork fails (or the cap), then lets every child exit and reaps them all."""
    r, w = os.pipe()
    pids, err = [], None
    t0 = time.monotonic()
    while len(pids) < ev["cap"] and time.monotonic() - t0 < ev["seconds"]:
        try:
            pid = os.fork()
        except OSError as e:
            err = ename(e.errno)
            break
        if pid == 0:
            try:
                os.close(w)
                os.read(r, 1)  # blocks until the parent closes the write end
            finally:
                os._exit(0)
        pids.append(pid)
    os.close(w)
    reaped = 0
    for p in pids:
        os.waitpid(p, 0)
        reaped += 1
    os.close(r)
    left = [d for d in os.listdir("/proc") if d.isdigit()]
    return {"forked": len(pids), "errno": err, "reaped": reaped, "seconds": time.monotonic() - t0,
            "procs_after": len(left)}


def case_mem_bomb(ev):
    hog = []
    while True:
        hog.append(b"\x01" * (8 << 20))


def case_kill(ev):
    out = {}
    for pid in ev["pids"]:
        visible = os.path.exists("/proc/%d" % pid)
        if visible:  # a number that exists in this namespace is one of ours: leave it
            out[str(pid)] = {"visible": True}
            continue
        r = attempt(lambda pid=pid: os.kill(pid, signal.SIGKILL))
        r["visible"] = False
        out[str(pid)] = r
    if ev.get("kill_all"):
        out["-1"] = attempt(lambda: os.kill(-1, signal.SIGKILL))
    return out


def case_ptrace(ev):
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    libc.ptrace.restype = ctypes.c_long
    PTRACE_ATTACH, PTRACE_SEIZE = 16, 0x4206
    child = os.fork()
    if child == 0:
        try:
            time.sleep(30)
        finally:
            os._exit(0)
    out = {}
    try:
        targets = {"own child": child, "pid 1": 1, "parent": os.getppid()}
        targets.update({"host %d" % p: p for p in ev["pids"]})
        for label, pid in targets.items():
            out["attach " + label] = c_call(libc.ptrace, PTRACE_ATTACH, pid, None, None)
            out["seize " + label] = c_call(libc.ptrace, PTRACE_SEIZE, pid, None, None)
        libc.process_vm_readv.restype = ctypes.c_ssize_t
        out["process_vm_readv own child"] = c_call(libc.process_vm_readv, child, None, 0, None, 0, 0)
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    return out


def case_mount(ev):
    os.makedirs("/tmp/m", exist_ok=True)
    MS_BIND, MS_REMOUNT, MNT_DETACH = 4096, 32, 2
    CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWPID = 0x20000, 0x10000000, 0x40000000, 0x20000000
    out = {
        "mount tmpfs": c_call(libc.mount, b"none", b"/tmp/m", b"tmpfs", 0, None),
        "bind / rw": c_call(libc.mount, b"/", b"/tmp/m", None, MS_BIND, None),
        "remount /var/task rw": c_call(libc.mount, None, b"/var/task", None, MS_REMOUNT | MS_BIND, None),
        "umount /var/task": c_call(libc.umount2, b"/var/task", MNT_DETACH),
        "unshare user": c_call(libc.unshare, CLONE_NEWUSER),
        "unshare user+mount": c_call(libc.unshare, CLONE_NEWUSER | CLONE_NEWNS),
        "unshare mount": c_call(libc.unshare, CLONE_NEWNS),
        "unshare net": c_call(libc.unshare, CLONE_NEWNET),
        "unshare pid": c_call(libc.unshare, CLONE_NEWPID),
        "chroot": c_call(libc.chroot, b"/tmp"),
        "setuid 0": c_call(libc.setuid, 0),
    }
    out["/tmp/m empty"] = os.listdir("/tmp/m") == []
    out["uid"] = [os.getuid(), os.geteuid()]
    out["CapEff"] = status_field("CapEff")
    out["CapPrm"] = status_field("CapPrm")
    out["NoNewPrivs"] = status_field("NoNewPrivs")
    out["Seccomp"] = status_field("Seccomp")
    return out


def case_net(ev):
    out = {"interfaces": sorted(n for _, n in socket.if_nameindex())}
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            for line in read_all(table).splitlines()[1:]:
                f = line.split()
                if f[3] == "0A":
                    listening.add(int(f[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    out["listening"] = sorted(listening)
    conns = {}
    for host, port in ev["targets"]:
        def get(host=host, port=port):
            s = socket.create_connection((host, port), timeout=2)
            try:
                s.settimeout(2)
                s.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
                return s.recv(300).decode("latin-1")
            finally:
                s.close()
        conns["%s:%d" % (host, port)] = attempt(get)
    out["connect"] = conns
    out["hosts"] = read_all("/etc/hosts")
    return out


def read_all(p):
    with open(p) as f:
        return f.read()


def case_proc(ev):
    procs = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                procs[d] = read("/proc/%s/cmdline" % d).replace("\0", " ").strip()
            except OSError as e:
                procs[d] = "<%s>" % ename(e.errno)
    return {"self": os.getpid(), "procs": procs,
            "host_pids_visible": [p for p in ev["pids"] if os.path.exists("/proc/%d" % p)]}


def case_procfs(ev):
    import resource
    out = {"read": {}, "write": {}}
    for p in ev["masked"]:
        def look(p=p):
            if os.path.isdir(p):
                return {"dir": os.listdir(p)}
            return {"bytes": len(read_all_bytes(p))}
        out["read"][p] = attempt(look)
    for p, value in ev["writes"]:
        def write(p=p, value=value):
            with open(p, "w") as f:
                f.write(value)
        out["write"][p] = attempt(write)
    out["ostype"] = attempt(lambda: read("/proc/sys/kernel/ostype").strip())
    # mount point -> its per-mount options, for what is mounted under /proc
    out["mounts"] = {}
    for line in read_all("/proc/self/mountinfo").splitlines():
        f = line.split()
        if f[4].startswith("/proc/"):
            out["mounts"][f[4]] = f[5].split(",")
    out["nofile"] = list(resource.getrlimit(resource.RLIMIT_NOFILE))
    return out


def read_all_bytes(p):
    with open(p, "rb") as f:
        return f.read(1 << 20)


def handler(event, context):
    return globals()["case_" + event["case"]](event)
'''

SECRET_APP = '''SECRET = "{secret}"

def handler(event, context):
    return {{"secret": SECRET}}
'''


# -- helpers ----------------------------------------------------------------------------------
def invoke(client, name, payload):
    """One RequestResponse invoke; it must come back with a response (an error or not)."""
    out = client.invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    assert out["StatusCode"] == 200, out
    body = out["Payload"].read()
    return out, (json.loads(body) if body else None)


def hostile_call(client, name, case, **event):
    """Runs a hostile case that must report (not crash): its handler's return value."""
    out, body = invoke(client, name, {"case": case, **event})
    assert "FunctionError" not in out, f"{case}: the hostile handler failed: {body}"
    return body


def echo_ok(client, name):
    """The well-behaved function answers correctly."""
    payload = {"echo": uuid.uuid4().hex}
    out, body = invoke(client, name, payload)
    assert "FunctionError" not in out, body
    assert body == payload


@contextlib.contextmanager
def echo_meanwhile(endpoint, name, min_ok=1):
    """Invokes the echo function in a loop in a thread (own boto3 client) while the body runs;
    afterwards, every one of those invokes must have answered correctly, at least `min_ok`."""
    stop = threading.Event()
    results, errors = [], []

    def loop():
        client = boto_lambda_client(endpoint, read_timeout=30)
        while not stop.is_set():
            payload = {"meanwhile": uuid.uuid4().hex}
            t0 = time.monotonic()
            try:
                out = client.invoke(FunctionName=name, Payload=json.dumps(payload).encode())
                body = json.loads(out["Payload"].read() or b"null")
                results.append((out["StatusCode"], out.get("FunctionError"), body == payload,
                                round(time.monotonic() - t0, 3)))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))
            stop.wait(0.05)

    t = threading.Thread(target=loop, name="echo-meanwhile", daemon=True)
    t.start()
    try:
        yield results
    finally:
        stop.set()
        t.join(timeout=40)
    assert not t.is_alive(), "an echo invoke made meanwhile did not come back within 40 s"
    assert not errors, f"echo invokes made meanwhile failed: {errors}"
    assert len(results) >= min_ok, f"only {len(results)} echo invokes answered meanwhile"
    bad = [r for r in results if r[:3] != (200, None, True)]
    assert not bad, f"wrong echo answers meanwhile: {bad}"


def host_pids_of_uid(uid: int) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if d.stat().st_uid == uid:
                    pids.append(int(d.name))
            except OSError:
                pass
    return pids


def function_host_pids() -> list[int]:
    """Host pids of the functions' processes (rootless: of Hako's user, but not Hako, its
    sandboxes' inits and network helpers)."""
    pids = host_pids_of_uid(HOST_UID)
    if not ROOTLESS:
        return pids
    out = []
    for p in pids:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{p}/comm").read_text().strip() not in ("hako", "slirp4netns", "setpriv"):
                out.append(p)
    return out


def host_addresses() -> list[str]:
    """The host's non-loopback IPv4 addresses (the one with the default route, if any)."""
    addrs = set()
    with contextlib.suppress(OSError):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("192.0.2.1", 9))  # no packet is sent: only picks the route's source address
        addrs.add(s.getsockname()[0])
        s.close()
    with contextlib.suppress(OSError):
        addrs.update(a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET))
    return sorted(a for a in addrs if not a.startswith("127."))


def host_tcp_listeners() -> set[int]:
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                f = line.split()
                if f[3] == "0A":
                    ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports


def host_loopback_listeners() -> set[int]:
    """Ports the host listens on at 127.0.0.1 only (no wildcard listener on the same port)."""
    local, other = set(), set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                f = line.split()
                if f[3] == "0A":
                    addr, port = f[1].split(":")
                    (local if addr == "0100007F" else other).add(int(port, 16))
    return local - other


def dir_size(p: Path) -> int:
    total = 0
    for root, _, files in os.walk(p):
        for n in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, n)).st_size
    return total


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def linux_hako(hako):
    """The module's server, which must run the linux backend."""
    log = hako.log_text()
    if "sandbox backend: linux" not in log:
        if IN_CI:
            pytest.fail("CI as root without HAKO_SANDBOX=process: the default backend must be linux, "
                        f"but the server log says:\n{hako.log_tail(40)}")
        pytest.skip("the server did not choose the linux sandbox backend (see `hako doctor`)")
    return hako


@pytest.fixture(scope="module")
def echo_fn(lambda_client, linux_hako):
    name = unique_name("echo")
    create_function(lambda_client, name, "provided.al2023", "bootstrap", fixture_zip("rust-echo"))
    echo_ok(lambda_client, name)
    return name


@pytest.fixture(scope="module")
def hostile(lambda_client, linux_hako):
    """The hostile function: 1024 MB (room for a fork bomb's page tables and a full /tmp)."""
    name = unique_name("hostile")
    create_function(lambda_client, name, PY, "app.handler", make_zip({"app.py": HOSTILE_APP}),
                    MemorySize=1024, Timeout=30, EphemeralStorage={"Size": 512})
    return name


@pytest.fixture(scope="module")
def hostile_small(lambda_client, linux_hako):
    """The same handler at 128 MB (memory bomb)."""
    name = unique_name("hostile-small")
    create_function(lambda_client, name, PY, "app.handler", make_zip({"app.py": HOSTILE_APP}),
                    MemorySize=128, Timeout=30, EphemeralStorage={"Size": 512})
    return name


def test_backend_is_linux(linux_hako):
    assert "sandbox backend: linux" in linux_hako.log_text()


# -- reading what is not the function's ---------------------------------------------------------
def test_etc_shadow_and_host_files_unreadable(lambda_client, hostile, echo_fn):
    seen = hostile_call(lambda_client, hostile, "read",
                        paths=["/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/root/.bash_history",
                               "/etc/passwd"])
    for p in ("/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/root/.bash_history"):
        assert seen[p] in ({"ok": False, "errno": "ENOENT"}, {"ok": False, "errno": "EACCES"}), (p, seen[p])
    # /etc/passwd is the sandbox's minimal one, not the host's.
    passwd = seen["/etc/passwd"]
    assert passwd["ok"], passwd
    lines = [line for line in passwd["value"].splitlines() if line]
    assert passwd["value"] != Path("/etc/passwd").read_text()[:4096]
    assert len(lines) <= 3, passwd
    assert all(line.split(":")[1] in ("x", "", "*", "!") for line in lines), \
        f"a password hash in the sandbox's /etc/passwd: {lines}"
    echo_ok(lambda_client, echo_fn)


def test_data_dir_and_working_tree_invisible(lambda_client, hostile, echo_fn, linux_hako):
    data = str(linux_hako.data_dir)
    paths = [data, f"{data}/code", str(linux_hako.log_path), str(REPO), str(REPO / "Cargo.toml"),
             "/home", "/work", "/sys/fs/cgroup", "/var/run/docker.sock", "/run/docker.sock"]
    # Root's home: only the managed runtime's interpreter may be mounted under it (a pyenv build
    # here); nothing else of it (credentials, configuration).
    home = [str(Path("/root") / n) for n in os.listdir("/root") if n != ".pyenv"]
    seen = hostile_call(lambda_client, hostile, "stat", paths=paths + home + ["/root"])
    for p in paths + home:
        assert not seen[p]["ok"] and seen[p]["errno"] in ("ENOENT", "EACCES"), (p, seen[p])
    root = seen["/root"]
    assert (not root["ok"]) or set(root["value"]) <= {".pyenv"}, root
    echo_ok(lambda_client, echo_fn)


def test_another_functions_code_invisible(lambda_client, hostile, echo_fn, linux_hako):
    secret = "hako-secret-" + uuid.uuid4().hex
    a = unique_name("victim")
    zip_a = make_zip({"app.py": SECRET_APP.format(secret=secret)})
    create_function(lambda_client, a, PY, "app.handler", zip_a)
    out, body = invoke(lambda_client, a, {})
    assert body == {"secret": secret}  # A is warm (its code mounted in its sandbox) meanwhile
    # Where A's code lives on the host: <data_dir>/code/<sha256>/ holding the secret.
    code_root = linux_hako.data_dir / "code"
    holders = [d for d in code_root.iterdir()
               if (d / "app.py").exists() and secret in (d / "app.py").read_text()]
    assert len(holders) == 1, list(code_root.iterdir())
    code_dir = holders[0]

    seen = hostile_call(lambda_client, hostile, "find", secret=secret, code_dir=str(code_dir))
    assert seen["files"] > 10, seen  # it did look around
    assert seen["hits"] == [], f"B found A's secret: {seen['hits']}"
    assert seen["code_dir"] == {"ok": False, "errno": "ENOENT"}, seen["code_dir"]
    assert not seen["mountinfo_has_secret"] and not seen["mountinfo_has_code_dir"], seen
    echo_ok(lambda_client, echo_fn)


def test_package_symlinks_find_only_the_sandbox(lambda_client, echo_fn, linux_hako):
    # Links to anywhere are accepted (as AWS); in the sandbox they resolve against its own root,
    # so they reach nothing of the host: not its /etc/shadow, not Hako's data dir, not the code
    # store's tree of the package itself by its host path.
    data = linux_hako.data_dir
    links = {"shadow": "/etc/shadow", "up": "../../../../../../../etc/shadow",
             "data": str(data), "db": str(data / "hako.db"), "store": str(data / "code"),
             "passwd": "/etc/passwd", "passwd_up": "../../etc/passwd"}
    name = unique_name("links")
    create_function(lambda_client, name, PY, "app.handler",
                    make_zip({"app.py": HOSTILE_APP}, links=links))
    paths = [f"/var/task/{link}" for link in links]
    seen = hostile_call(lambda_client, name, "read", paths=paths + ["/etc/passwd"])
    for link in ("shadow", "up", "data", "db", "store"):
        assert seen[f"/var/task/{link}"]["ok"] is False, (link, seen[f"/var/task/{link}"])
        assert seen[f"/var/task/{link}"]["errno"] in ("ENOENT", "EACCES"), (link, seen)
    # /etc/passwd through a link is the sandbox's minimal one, as without.
    assert seen["/var/task/passwd"] == seen["/etc/passwd"] == seen["/var/task/passwd_up"], seen
    assert seen["/etc/passwd"]["value"] != Path("/etc/passwd").read_text()[:4096]
    # The code store on the host kept them as links, and Hako followed none of them.
    trees = [d for d in (data / "code").iterdir()
             if d.is_dir() and (d / "shadow").is_symlink()]
    assert trees and all(os.readlink(d / "shadow") == "/etc/shadow" for d in trees), trees
    echo_ok(lambda_client, echo_fn)


# -- writing outside /tmp -----------------------------------------------------------------------
def test_writes_outside_tmp_refused(lambda_client, hostile, echo_fn, linux_hako):
    probe = "hako-hostile-" + uuid.uuid4().hex[:8]
    dirs = ["/var/task", "/", "/etc", "/var/runtime", "/usr", "/opt", "/var", "/dev"]
    seen = hostile_call(lambda_client, hostile, "write", dirs=dirs, probe=probe)
    for d in dirs:
        r = seen["create " + os.path.join(d, probe)]
        assert not r["ok"] and r["errno"] in ("EROFS", "EACCES"), (d, r)
    for k in ("mkdir /var/task/x", "append /var/task/app.py", "chmod /var/task/app.py",
              "unlink /var/task/app.py"):
        assert not seen[k]["ok"] and seen[k]["errno"] in ("EROFS", "EACCES", "EPERM"), (k, seen[k])
    assert seen["create /tmp"]["ok"], seen["create /tmp"]  # /tmp is the function's
    # Nothing appeared on the host: not in its /, /etc, /usr, /opt, nor in any code directory.
    for d in ("/", "/etc", "/usr", "/opt", "/var", "/tmp"):
        assert not (Path(d) / probe).exists(), f"{d}/{probe} appeared on the host"
    for code in (linux_hako.data_dir / "code").iterdir():
        assert not (code / probe).exists(), f"{code}/{probe} appeared on the host"
        if (code / "app.py").exists() and "case_" in (code / "app.py").read_text():
            assert (code / "app.py").read_text() == HOSTILE_APP
    echo_ok(lambda_client, echo_fn)


# -- limits -------------------------------------------------------------------------------------
MB = 1 << 20


def loop_backing_file(dev: str) -> str | None:
    """The backing file of the loop device `dev` (major:minor), None once it is released."""
    try:
        return Path(f"/sys/dev/block/{dev}/loop/backing_file").read_text().strip()
    except OSError:
        return None


def assert_tmp_is_its_disk(seen, linux_hako, size_mb=512):
    """/tmp is an ext4 of the function's EphemeralStorage on a loop device whose backing file is
    an unlinked file of the data dir's sandbox-tmp/ (nothing named there, nothing elsewhere)."""
    assert seen["tmp_fs"] == "ext4", seen
    assert seen["tmp_owner"] == SANDBOX_UID and seen["tmp_mode"] == "0o1777", seen
    assert "lost+found" not in seen["tmp_entries"], seen
    # The function can write its whole EphemeralStorage (ext4's own metadata comes on top).
    assert size_mb * MB <= seen["tmp_avail"] <= size_mb * MB + MB, seen
    assert size_mb * MB <= seen["tmp_size"] <= size_mb * MB * 1.03, seen
    assert seen["errno"] == "ENOSPC", seen
    assert size_mb * MB - MB <= seen["written"] <= seen["tmp_avail"], seen
    scratch = linux_hako.data_dir / "sandbox-tmp"
    assert list(scratch.iterdir()) == [], "a /tmp disk's backing file has a name"


def assert_tmp_is_a_sized_tmpfs(seen, size_mb=512):
    """Rootless: /tmp is a tmpfs of the function's EphemeralStorage (a disk of its own needs a
    loop device, which needs root)."""
    assert seen["tmp_fs"] == "tmpfs", seen
    assert seen["tmp_owner"] == SANDBOX_UID and seen["tmp_mode"] == "0o1777", seen
    assert seen["tmp_size"] == size_mb * MB, seen
    assert seen["errno"] == "ENOSPC", seen
    assert size_mb * MB - MB <= seen["written"] <= size_mb * MB, seen


def test_fill_tmp_stops_at_ephemeral_storage(lambda_client, hostile, echo_fn, linux_hako):
    data_before = dir_size(linux_hako.data_dir)
    host_tmp_before = set(os.listdir("/tmp"))
    with echo_meanwhile(linux_hako.endpoint, echo_fn):
        seen = hostile_call(lambda_client, hostile, "fill_tmp", cap=2 << 30)
    if ROOTLESS:
        assert_tmp_is_a_sized_tmpfs(seen)
        assert dir_size(linux_hako.data_dir) - data_before < 16 * MB
        assert "fill" not in set(os.listdir("/tmp")) - host_tmp_before
        echo_ok(lambda_client, echo_fn)
        return
    assert_tmp_is_its_disk(seen, linux_hako)
    # Nothing outside is touched: no file of the data dir grew, nothing appeared in the host's /tmp.
    assert dir_size(linux_hako.data_dir) - data_before < 16 * MB
    assert "fill" not in set(os.listdir("/tmp")) - host_tmp_before
    # The sandbox's disk is still there (it is warm), on a released-on-exit loop device.
    backing = loop_backing_file(seen["tmp_dev"])
    assert backing and backing.startswith(str(linux_hako.data_dir / "sandbox-tmp")), backing
    assert backing.endswith("(deleted)"), backing
    echo_ok(lambda_client, echo_fn)


def test_tmp_does_not_count_against_memory(lambda_client, hostile_small, echo_fn, linux_hako):
    """A 128 MB function fills its 512 MB /tmp and keeps it (flushed to the host's disk): no OOM.
    When its sandbox goes, so do its loop device and the disk space it took."""
    out, body = invoke(lambda_client, hostile_small, {"case": "fill_tmp", "cap": 2 << 30, "keep": True})
    if ROOTLESS:
        # Rootless, /tmp is a tmpfs charged to the sandbox's memory: the 128 MB function runs out
        # of memory long before its 512 MB of /tmp (README, "Rootless").
        assert out.get("FunctionError") == "Unhandled", (out, body)
        assert body["errorType"] == "Runtime.OutOfMemory", body
        assert linux_hako.alive()
        echo_ok(lambda_client, echo_fn)
        return
    assert "FunctionError" not in out, body
    echo_ok(lambda_client, echo_fn)
    assert_tmp_is_its_disk(body, linux_hako)
    free_full = shutil.disk_usage(linux_hako.data_dir).free
    assert loop_backing_file(body["tmp_dev"]), body
    # The function's runtime exits: its sandbox goes, and with it its disk.
    out, _ = invoke(lambda_client, hostile_small, {"case": "exit"})
    assert out.get("FunctionError") == "Unhandled", out
    wait_for(lambda: loop_backing_file(body["tmp_dev"]) is None, timeout_s=30,
             what="the sandbox's loop device to be released")
    # The disk space comes back (a generous margin for whatever else runs on this machine).
    wait_for(lambda: shutil.disk_usage(linux_hako.data_dir).free - free_full >= body["written"] // 2,
             timeout_s=30, what="the /tmp disk's space to be given back")
    assert linux_hako.alive()
    echo_ok(lambda_client, echo_fn)


def test_fork_bomb_stops_at_pids_limit(lambda_client, hostile, echo_fn, linux_hako):
    baseline = len(function_host_pids())
    with echo_meanwhile(linux_hako.endpoint, echo_fn):
        seen = hostile_call(lambda_client, hostile, "fork_bomb", cap=4 * PIDS_LIMIT, seconds=20)
    # It stopped because fork failed (EAGAIN: the pids limit), not because of the cap or the clock,
    # after at most the limit's worth of processes (its runtime's own tasks count too).
    assert seen["errno"] == "EAGAIN", seen
    assert PIDS_LIMIT - 32 <= seen["forked"] < PIDS_LIMIT, seen
    assert seen["reaped"] == seen["forked"], seen
    assert seen["procs_after"] <= 5, seen
    # And on the host, the sandbox user's processes are back to what they were.
    wait_for(lambda: len(function_host_pids()) <= baseline + 2, timeout_s=10,
             what="the fork bomb's children to be gone from the host")
    echo_ok(lambda_client, echo_fn)
    # The function itself still works afterwards.
    assert "token" in hostile_call(lambda_client, hostile, "token")


def test_memory_bomb_is_out_of_memory(lambda_client, hostile_small, echo_fn, linux_hako):
    before = hostile_call(lambda_client, hostile_small, "token")["token"]
    with echo_meanwhile(linux_hako.endpoint, echo_fn):
        t0 = time.monotonic()
        out, body = invoke(lambda_client, hostile_small, {"case": "mem_bomb"})
        elapsed = time.monotonic() - t0
    assert out.get("FunctionError") == "Unhandled", (out, body)
    assert body["errorType"] == "Runtime.OutOfMemory", body
    assert elapsed < 20, f"the memory bomb took {elapsed:.1f} s to be reported (not killed at once?)"
    assert linux_hako.alive()
    echo_ok(lambda_client, echo_fn)
    # The next invocation works, on a fresh sandbox.
    after = hostile_call(lambda_client, hostile_small, "token")["token"]
    assert after != before


# -- processes of the host ----------------------------------------------------------------------
def test_cannot_kill_host_processes(lambda_client, hostile, echo_fn, linux_hako):
    witness = unique_name("witness")
    create_function(lambda_client, witness, PY, "app.handler", make_zip({"app.py": HOSTILE_APP}))
    token = hostile_call(lambda_client, witness, "token")["token"]
    # pytest, hako, and the host pids of other sandboxes' processes (the witness's among them).
    targets = [os.getpid(), linux_hako.proc.pid] + host_pids_of_uid(HOST_UID)[:20]
    seen = hostile_call(lambda_client, hostile, "kill", pids=list(dict.fromkeys(targets)),
                        kill_all=True)
    assert len(seen) == len(set(targets)) + 1, seen
    for pid, r in seen.items():
        if pid == "-1":
            continue
        assert r["visible"] is False, f"host pid {pid} is visible in the sandbox"
        assert not r["ok"] and r["errno"] in ("ESRCH", "EPERM"), (pid, r)
    assert linux_hako.alive()
    echo_ok(lambda_client, echo_fn)
    # kill(-1, SIGKILL) reached nothing outside: the warm witness sandbox (same uid) survived.
    assert hostile_call(lambda_client, witness, "token")["token"] == token
    # ...and the hostile function can still be invoked (a fresh sandbox if it killed its own).
    assert "token" in hostile_call(lambda_client, hostile, "token")


def test_ptrace_refused(lambda_client, hostile, echo_fn, linux_hako):
    seen = hostile_call(lambda_client, hostile, "ptrace", pids=[os.getpid(), linux_hako.proc.pid])
    assert seen, seen
    for what, r in seen.items():
        assert r["ret"] == -1 and r["errno"] in ("EPERM", "ESRCH"), (what, r)
    # Attaching to its own child is refused by the seccomp filter itself (EPERM, not ESRCH).
    assert seen["attach own child"]["errno"] == "EPERM"
    assert seen["seize own child"]["errno"] == "EPERM"
    assert seen["process_vm_readv own child"]["errno"] == "EPERM"
    assert linux_hako.alive()
    echo_ok(lambda_client, echo_fn)


def test_mount_and_unshare_refused(lambda_client, hostile, echo_fn):
    seen = hostile_call(lambda_client, hostile, "mount")
    for k in ("mount tmpfs", "bind / rw", "remount /var/task rw", "umount /var/task",
              "unshare user", "unshare user+mount", "unshare mount", "unshare net", "unshare pid",
              "chroot"):
        assert seen[k] == {"ret": -1, "errno": "EPERM"}, (k, seen[k])
    # Rootless, uid 0 does not exist in the sandbox's user namespace (only 993 is mapped).
    assert seen["setuid 0"] == {"ret": -1, "errno": "EINVAL" if ROOTLESS else "EPERM"}, seen
    assert seen["/tmp/m empty"] is True
    assert seen["uid"] == [SANDBOX_UID, SANDBOX_UID], seen
    assert int(seen["CapEff"], 16) == 0 and int(seen["CapPrm"], 16) == 0, seen
    assert seen["NoNewPrivs"] == "1" and seen["Seccomp"] == "2", seen
    echo_ok(lambda_client, echo_fn)


def test_host_proc_invisible(lambda_client, hostile, echo_fn, linux_hako):
    host_pids = [os.getpid(), linux_hako.proc.pid] + host_pids_of_uid(HOST_UID)[:20]
    seen = hostile_call(lambda_client, hostile, "proc", pids=[p for p in host_pids if p > 64])
    assert seen["host_pids_visible"] == [], seen
    procs = seen["procs"]
    assert str(seen["self"]) in procs
    assert len(procs) <= 4, f"more processes visible than the sandbox's own: {procs}"
    assert all(int(p) < 64 for p in procs), procs
    for pid, cmd in procs.items():
        assert "pytest" not in cmd and "hako serve" not in cmd and "systemd" not in cmd, (pid, cmd)
    echo_ok(lambda_client, echo_fn)


def test_sensitive_proc_masked_and_read_only(lambda_client, hostile, echo_fn):
    masked = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
              "/proc/interrupts", "/proc/acpi", "/proc/scsi", "/proc/latency_stats"]
    writes = [("/proc/sysrq-trigger", "h"), ("/proc/sys/kernel/hostname", "x"),
              ("/proc/sys/vm/drop_caches", "3"), ("/proc/sys/net/ipv4/ip_forward", "1")]
    seen = hostile_call(lambda_client, hostile, "procfs", masked=masked, writes=writes)
    for p, r in seen["read"].items():
        # Absent on this kernel, or present and empty: never the host's contents.
        if r["ok"]:
            assert r["value"] in ({"bytes": 0}, {"dir": []}), (p, r)
        else:
            assert r["errno"] in ("ENOENT", "EACCES", "EPERM"), (p, r)
    # /proc/interrupts is world-readable on the host: its emptiness is the mask's doing.
    assert seen["read"]["/proc/interrupts"] == {"ok": True, "value": {"bytes": 0}}, seen
    for p, r in seen["write"].items():
        assert not r["ok"] and r["errno"] in ("EROFS", "EACCES", "EPERM", "ENOENT"), (p, r)
    mounts = seen["mounts"]
    for p in ("/proc/sys", "/proc/irq", "/proc/bus", "/proc/fs"):
        if os.path.exists(p):
            assert "ro" in mounts.get(p, []), (p, mounts)
    for p in ("/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/acpi"):
        if os.path.exists(p):
            assert p in mounts, (p, mounts)
    # Read-only, not hidden: the kernel's tunables stay readable.
    assert seen["ostype"] == {"ok": True, "value": "Linux"}, seen
    assert seen["nofile"] == [1024, 1024], seen
    echo_ok(lambda_client, echo_fn)


# -- network ------------------------------------------------------------------------------------
def test_network_only_own_runtime_api(lambda_client, hostile, echo_fn, linux_hako):
    # Host listeners (hako's own port among them) on the host's loopback and its other
    # addresses; 9000/9001 are the two Hako opens inside each sandbox, so they are left out.
    ports = sorted(({linux_hako.port} | host_tcp_listeners()) - {9000, 9001})[:30]
    targets = [("127.0.0.1", p) for p in ports]
    targets += [(a, p) for a in host_addresses() for p in (linux_hako.port, 9001)]
    # Through the sandbox's veth pair, the host (hako.host) is reachable, but not its listeners
    # that are bound to the host's loopback only (Hako's own port among them).
    targets += [("hako.host", p) for p in sorted({linux_hako.port} | host_loopback_listeners())[:30]]
    seen = hostile_call(lambda_client, hostile, "net", targets=targets)
    # The loopback interface, and eth0 (outbound access).
    assert seen["interfaces"] == ["eth0", "lo"], seen
    # The only listeners inside are the two Hako opened there: its own Runtime API and Hako's API.
    assert seen["listening"] == [9000, 9001], seen
    reached = {t: r for t, r in seen["connect"].items() if r["ok"]}
    assert not reached, f"the sandbox reached host listeners: {reached}"
    for t, r in seen["connect"].items():
        assert r["errno"] in ("ECONNREFUSED", "ENETUNREACH", "EHOSTUNREACH", "TimeoutError"), (t, r)
    assert linux_hako.alive()
    echo_ok(lambda_client, echo_fn)


def test_outbound_network_and_the_switch_that_turns_it_off(lambda_client, echo_fn, linux_hako):
    name = unique_name("net")
    create_function(lambda_client, name, PY, "app.handler", make_zip({"app.py": HOSTILE_APP}),
                    Timeout=30)
    arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    with greeter() as port:
        # On by default: the host, by its name in the sandbox and by its own addresses.
        targets = [("hako.host", port)] + [(a, port) for a in host_addresses()]
        seen = hostile_call(lambda_client, name, "net", targets=targets)
        assert "eth0" in seen["interfaces"], seen
        for t, r in seen["connect"].items():
            assert r["ok"] and r["value"].startswith("hello from the host"), (t, r)
        gateway = next(l.split()[0] for l in seen["hosts"].splitlines() if "hako.host" in l)

        # Off with the reserved tag: new sandboxes have no way out, and a connect fails at once.
        lambda_client.tag_resource(Resource=arn, Tags={"hako:network": "none"})
        assert lambda_client.list_tags(Resource=arn)["Tags"] == {"hako:network": "none"}
        t0 = time.monotonic()
        seen = hostile_call(lambda_client, name, "net",
                            targets=[(gateway, port)] + [(a, port) for a in host_addresses()])
        assert time.monotonic() - t0 < 5, "a connect without network must fail at once"
        assert "hako.host" not in seen["hosts"], seen["hosts"]
        for t, r in seen["connect"].items():
            assert not r["ok"] and r["errno"] in ("ENETUNREACH", "EHOSTUNREACH"), (t, r)
        # Its own loopback still has the Runtime API.
        assert 9001 in seen["listening"], seen

        # Untagged: on again.
        lambda_client.untag_resource(Resource=arn, TagKeys=["hako:network"])
        seen = hostile_call(lambda_client, name, "net", targets=[("hako.host", port)])
        assert seen["connect"]["hako.host:%d" % port]["ok"], seen

    # CreateFunction takes the tag too; a value Hako does not know is refused.
    off = unique_name("net-off")
    create_function(lambda_client, off, PY, "app.handler", make_zip({"app.py": HOSTILE_APP}),
                    Tags={"hako:network": "none"})
    hosts = host_addresses()[:1]
    seen = hostile_call(lambda_client, off, "net", targets=[(a, 9) for a in hosts])
    assert seen["interfaces"] == ["eth0", "lo"], seen
    assert seen["connect"] == {"%s:9" % a: {"ok": False, "errno": "ENETUNREACH"} for a in hosts}
    for bad in ("off", "None", ""):
        with pytest.raises(lambda_client.exceptions.InvalidParameterValueException):
            lambda_client.tag_resource(Resource=arn, Tags={"hako:network": bad})
    echo_ok(lambda_client, echo_fn)


# -- nothing lost -------------------------------------------------------------------------------
def test_no_invocation_lost_under_hostile_load(lambda_client, hostile, hostile_small, echo_fn,
                                               linux_hako):
    """A burst of echo invokes while a memory bomb and a fork bomb run: every invoke answers."""
    from concurrent.futures import ThreadPoolExecutor

    def one_echo(i):
        c = boto_lambda_client(linux_hako.endpoint, read_timeout=40)
        payload = {"burst": i}
        out = c.invoke(FunctionName=echo_fn, Payload=json.dumps(payload).encode())
        return out["StatusCode"], out.get("FunctionError"), json.loads(out["Payload"].read()) == payload

    def bomb(case, fn):
        c = boto_lambda_client(linux_hako.endpoint, read_timeout=40)
        ev = {"case": case, "cap": 4 * PIDS_LIMIT, "seconds": 10}
        out = c.invoke(FunctionName=fn, Payload=json.dumps(ev).encode())
        return out["StatusCode"], out.get("FunctionError"), json.loads(out["Payload"].read())

    with ThreadPoolExecutor(max_workers=12) as pool:
        bombs = [pool.submit(bomb, "mem_bomb", hostile_small), pool.submit(bomb, "fork_bomb", hostile)]
        echoes = [pool.submit(one_echo, i) for i in range(24)]
        echo_results = [f.result(timeout=60) for f in echoes]
        mem, fork = (f.result(timeout=60) for f in bombs)
    assert echo_results == [(200, None, True)] * 24
    assert mem[0] == 200 and mem[1] == "Unhandled" and mem[2]["errorType"] == "Runtime.OutOfMemory", mem
    assert fork[0] == 200 and fork[1] is None and fork[2]["errno"] == "EAGAIN", fork
    assert linux_hako.alive()
    echo_ok(lambda_client, echo_fn)
