//! The sandbox's network: its own namespace with `lo` (where the Runtime API listener is opened,
//! and handed to Hako over the control socket) and, for outbound access, `eth0`: one end of a veth
//! pair whose other end (`hk<slot>`) is in the host's namespace.
//!
//! Addressing: the sandboxes' range (a /16, [`DEFAULT_SUBNET`]) is cut into /30s, one per
//! sandbox: slot `n` has the host side at `base + 4n + 1` (the sandbox's gateway, named
//! `hako.host` in its `/etc/hosts`) and the sandbox at `base + 4n + 2`. The host-side link's
//! name is the slot, so the kernel allocates slots across every Hako on the host (a taken name
//! is `EEXIST`: the next slot is tried), and its alias (`hako:<pid>`) names the Hako that owns
//! it, for the sweep of leftovers at start. The pair is created by the sandbox's init while it
//! is prepared (ahead of demand), with the peer created directly in the sandbox's namespace (no
//! namespace move), and disappears with that namespace.
//!
//! Host side, set once at start ([`host_setup`]): IPv4 forwarding, a policy rule that prohibits
//! traffic from the range to the range (sandboxes cannot reach each other; the host's own
//! addresses stay reachable, being local), and masquerading of the range's traffic that leaves
//! the host (an nftables table `ip hako`, through the `nft` tool when it is installed).
//! Listeners bound to the host's 127.0.0.1 stay out of reach: the sandbox's 127.0.0.1 is its own.
//!
//! Rootless, there is no veth pair (creating one needs root in the host's namespace): a
//! user-space helper per sandbox, slirp4netns, gives it `eth0` (a tap device, 10.0.2.100/24 with
//! 10.0.2.2 as its gateway) and makes its connections from the host's namespace as Hako's user.
//! The init forks the helper while still in the host's namespaces (before the user namespace),
//! starts it once the sandbox's namespaces exist ([`Slirp::start`]); it dies with the init
//! (parent-death signal, and its exit fd closing). It runs with `--disable-host-loopback`: as
//! under root, the host's 127.0.0.1 stays out of reach, and `hako.host` names the host's own address
//! (the source of its default route), so services listening on it or on all addresses are
//! reachable, those on the host's loopback only are not. Sandboxes cannot reach each other: each
//! has its own helper and private range, and has no listener on the host.

use std::io::{IoSlice, IoSliceMut};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use serde::{Deserialize, Serialize};

use super::netlink::{Netlink, Rule};

/// The sandboxes' addresses unless configured otherwise: 10.213.0.0/16.
pub const DEFAULT_SUBNET: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 0);
/// The range's prefix length; each sandbox gets a /30 of it.
pub(crate) const SUBNET_PREFIX: u8 = 16;
const SLOTS: u32 = 1 << (32 - SUBNET_PREFIX as u32 - 2);
/// Host-side links are named `hk<slot>`.
pub(crate) const HOST_LINK_PREFIX: &str = "hk";
/// The sandbox's side of its veth pair.
const SANDBOX_LINK: &str = "eth0";
/// The name of the sandbox's gateway (the host) in the sandbox's `/etc/hosts`.
pub const HOST_NAME: &str = "hako.host";
/// Priority of the rule that keeps sandboxes apart (before the main table's 32766; the rule for
/// the host's own traffic comes just before it).
const RULE_PRIORITY: u32 = 32000;
/// How many slots an init tries before giving up.
const SLOT_ATTEMPTS: u32 = 512;

/// What the sandbox's outer helper needs to give the sandbox outbound access.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NetPrepare {
    /// The first address of the sandboxes' /16.
    pub(crate) base: Ipv4Addr,
    /// The slot to try first (then the next ones).
    pub(crate) first_slot: u32,
    /// The alias of the host-side link: `hako:<pid>` of the Hako that owns it.
    pub(crate) owner: String,
}

/// What the init needs to start a sandbox's slirp4netns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SlirpPrepare {
    pub(crate) program: std::path::PathBuf,
    /// The host's address, `hako.host` inside (none when the host has no route out).
    pub(crate) host: Option<Ipv4Addr>,
}

/// slirp4netns's DNS forwarder: it asks the host's resolvers, whatever they are (also a
/// 127.0.0.53 of systemd-resolved, which a sandbox could not reach by itself).
const SLIRP_DNS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 3);

/// Makes the plan's `/etc/resolv.conf` name slirp4netns's DNS forwarder instead of being the
/// host's file.
pub(crate) fn use_slirp_dns(ops: &mut Vec<super::mounts::MountOp>) {
    use super::mounts::MountOp;
    let path = std::path::Path::new("/etc/resolv.conf");
    ops.retain(|op| !matches!(op, MountOp::BindRo { dst, .. } if dst == path));
    ops.push(MountOp::File {
        path: path.into(),
        contents: format!("nameserver {SLIRP_DNS}\n"),
        mode: 0o644,
    });
}

/// The MTU of a slirp4netns tap (its maximum: fewer, larger packets through the helper).
const SLIRP_MTU: u32 = 65520;
/// How long a sandbox waits for its slirp4netns to configure `eth0`.
const SLIRP_READY_MS: u16 = 5000;

/// The host's own IPv4 address: the source of its route towards the outside (no packet is sent).
pub(crate) fn host_address() -> Option<Ipv4Addr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // TEST-NET-1: never routed anywhere, but picks the default route's source address.
    s.connect("192.0.2.1:9").ok()?;
    match s.local_addr().ok()?.ip() {
        std::net::IpAddr::V4(a) if !a.is_loopback() && !a.is_unspecified() => Some(a),
        _ => None,
    }
}

/// A sandbox's slirp4netns, forked before the init left the host's namespaces and waiting for
/// [`Slirp::start`].
#[derive(Debug)]
pub(crate) struct Slirp {
    pid: nix::unistd::Pid,
    go: Option<OwnedFd>,
    /// The read end of the helper's ready fd (for whichever process waits for it).
    ready: Option<OwnedFd>,
    /// Held by the init: when it closes (the init is gone), the helper exits.
    _exit: OwnedFd,
}

impl Slirp {
    /// Forks the launcher: it waits for [`Slirp::start`], then execs slirp4netns on the network
    /// namespace of this process (its parent). Runs in the single-threaded init.
    pub(crate) fn fork(plan: &SlirpPrepare) -> Result<Slirp, String> {
        use nix::unistd::{pipe2, ForkResult};
        let p = || {
            pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("cannot create a pipe: {e}"))
        };
        let (go_r, go_w) = p()?;
        let (ready_r, ready_w) = p()?;
        let (exit_r, exit_w) = p()?;
        let parent = nix::unistd::getpid();
        let c = |s: String| std::ffi::CString::new(s).map_err(|_| "a NUL byte".to_string());
        let program = c(plan.program.to_string_lossy().into_owned())?;
        let argv = [
            program.clone(),
            c("--configure".into())?,
            c(format!("--mtu={SLIRP_MTU}"))?,
            c("--disable-host-loopback".into())?,
            // It parses the function's traffic: a syscall filter of its own. (Its
            // --enable-sandbox needs uid 0 mapped in the sandbox's namespace, which the one-id
            // mapping does not have.)
            c("--enable-seccomp".into())?,
            c(format!("--ready-fd={}", ready_w.as_raw_fd()))?,
            c(format!("--exit-fd={}", exit_r.as_raw_fd()))?,
            c(parent.to_string())?,
            c(SANDBOX_LINK.into())?,
        ];
        // SAFETY: the init is single-threaded (a fresh exec of the hako binary that started no
        // threads), so the child may allocate and run anything.
        match unsafe { nix::unistd::fork() }.map_err(|e| format!("cannot fork slirp4netns: {e}"))? {
            ForkResult::Child => {
                drop((go_w, ready_r, exit_w));
                let code = launch(parent, go_r, &[&ready_w, &exit_r], &program, &argv);
                // SAFETY: _exit ends the process without running anything else.
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => Ok(Slirp {
                pid: child,
                go: Some(go_w),
                ready: Some(ready_r),
                _exit: exit_w,
            }),
        }
    }

    /// Lets the helper attach to this process's (new) namespaces.
    pub(crate) fn start(&mut self) -> Result<(), String> {
        let go = self.go.take().ok_or("slirp4netns was started already")?;
        nix::unistd::write(&go, b"1")
            .map(|_| ())
            .map_err(|e| format!("cannot start slirp4netns: {e}"))
    }

    /// The read end of the ready fd, for the process that waits ([`wait_ready`]).
    pub(crate) fn take_ready(&mut self) -> Option<OwnedFd> {
        self.ready.take()
    }

    /// Kills the helper and reaps it.
    pub(crate) fn stop(self) {
        let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(self.pid, None);
    }
}

/// The launcher, in the forked child: dies with the init, waits for the go, execs slirp4netns
/// with `keep` open. Returns the exit code when it cannot.
fn launch(
    parent: nix::unistd::Pid,
    go: OwnedFd,
    keep: &[&OwnedFd],
    program: &std::ffi::CStr,
    argv: &[std::ffi::CString],
) -> i32 {
    if nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).is_err()
        || nix::unistd::getppid() != parent
    {
        return 1;
    }
    let mut b = [0u8; 1];
    if !matches!(nix::unistd::read(go.as_raw_fd(), &mut b), Ok(1)) {
        return 0; // the init went away before its namespaces were made
    }
    for fd in keep {
        if nix::fcntl::fcntl(
            fd.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )
        .is_err()
        {
            return 1;
        }
    }
    // Its chatter must not end up in the function's log.
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for target in 0..=2 {
            let _ = nix::unistd::dup2(null.as_raw_fd(), target);
        }
    }
    let _ = nix::unistd::execv(program, argv);
    127
}

/// Waits (bounded) until the sandbox's slirp4netns has configured `eth0`.
pub(crate) fn wait_ready(ready: OwnedFd) -> Result<(), String> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let mut fds = [PollFd::new(ready.as_fd(), PollFlags::POLLIN)];
    loop {
        match poll(&mut fds, PollTimeout::from(SLIRP_READY_MS)) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("poll: {e}")),
            Ok(0) => {
                return Err(format!(
                    "slirp4netns did not configure the sandbox's network within {SLIRP_READY_MS} ms"
                ))
            }
            Ok(_) => break,
        }
    }
    let mut b = [0u8; 1];
    match nix::unistd::read(ready.as_raw_fd(), &mut b) {
        Ok(1) => Ok(()),
        _ => Err("slirp4netns exited before configuring the sandbox's network".into()),
    }
}

/// The addresses a sandbox got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Attached {
    /// The host side: the sandbox's gateway.
    pub(crate) gateway: Ipv4Addr,
    pub(crate) address: Ipv4Addr,
}

/// The gateway and sandbox addresses of a slot.
fn slot_addresses(base: Ipv4Addr, slot: u32) -> (Ipv4Addr, Ipv4Addr) {
    let first = u32::from(base) + (slot % SLOTS) * 4;
    (Ipv4Addr::from(first + 1), Ipv4Addr::from(first + 2))
}

/// Gives the calling process's (new) network namespace its veth pair, addresses and default
/// route. `host` is a netlink socket opened in the host's namespace before the unshare. Runs in
/// the single-threaded init.
pub(crate) fn attach(host: &mut Netlink, plan: &NetPrepare) -> Result<Attached, String> {
    let ns = std::fs::File::open("/proc/self/ns/net")
        .map_err(|e| format!("cannot open the sandbox's network namespace: {e}"))?;
    // IPv4 only: no IPv6 link-local address on eth0 (this is the new namespace's /proc/sys).
    let _ = std::fs::write("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
    let mut slot = None;
    for i in 0..SLOT_ATTEMPTS {
        let s = (plan.first_slot.wrapping_add(i)) % SLOTS;
        let name = format!("{HOST_LINK_PREFIX}{s}");
        match host.add_veth(&name, SANDBOX_LINK, ns.as_raw_fd()) {
            Ok(()) => {
                slot = Some((s, name));
                break;
            }
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => continue,
            Err(e) => return Err(format!("cannot create the sandbox's veth pair: {e}")),
        }
    }
    let Some((slot, name)) = slot else {
        return Err(format!(
            "no free network slot among {SLOT_ATTEMPTS} (every {HOST_LINK_PREFIX}<n> link is taken)"
        ));
    };
    let (gateway, address) = slot_addresses(plan.base, slot);
    let err = |what: &str| {
        let what = what.to_string();
        move |e: std::io::Error| format!("cannot {what}: {e}")
    };
    let hi = host.index(&name).map_err(err("find the host side"))?;
    host.add_address(hi, gateway, 30)
        .map_err(err("address the host side"))?;
    host.set_link(hi, true, Some(&plan.owner))
        .map_err(err("bring the host side up"))?;
    let mut inside = Netlink::open().map_err(err("open a netlink socket"))?;
    let si = inside.index(SANDBOX_LINK).map_err(err("find eth0"))?;
    inside
        .set_link(si, true, None)
        .map_err(err("bring eth0 up"))?;
    inside
        .add_address(si, address, 30)
        .map_err(err("address eth0"))?;
    inside
        .add_default_route(si, gateway)
        .map_err(err("add the default route"))?;
    // The rest of the range (other sandboxes) is prohibited on the host; this makes a connect
    // there fail at once instead of waiting for the host's (rate-limited) ICMP answer.
    inside
        .add_unreachable_route(plan.base, SUBNET_PREFIX)
        .map_err(err("add the route for the other sandboxes"))?;
    Ok(Attached { gateway, address })
}

/// Takes the sandbox's outbound access away (its `eth0` down: connects to anything but its own
/// loopback fail at once with `ENETUNREACH`). Runs in the sandbox's namespace, as root.
pub(crate) fn detach() -> Result<(), String> {
    let mut nl = Netlink::open().map_err(|e| format!("cannot open a netlink socket: {e}"))?;
    let i = nl
        .index(SANDBOX_LINK)
        .map_err(|e| format!("cannot find eth0: {e}"))?;
    nl.set_link(i, false, None)
        .map_err(|e| format!("cannot bring eth0 down: {e}"))
}

/// The host's part, once at start: forwarding, the rule that keeps sandboxes apart, and
/// masquerading for traffic leaving the host. Returns a warning when masquerading could not be
/// set up (sandboxes then reach the host but nothing beyond it).
pub(crate) fn host_setup(base: Ipv4Addr) -> Result<Option<String>, String> {
    std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")
        .map_err(|e| format!("cannot turn IPv4 forwarding on: {e}"))?;
    let mut nl = Netlink::open().map_err(|e| format!("cannot open a netlink socket: {e}"))?;
    let rule = Rule {
        net: base,
        prefix: SUBNET_PREFIX,
        to_net: false,
        iif: Some("lo"),
        lookup_main: true,
        priority: RULE_PRIORITY - 1,
    };
    // The host's own traffic from the range (its side of each pair: answers to sandboxes) is
    // routed as usual; what comes from a sandbox for the range is prohibited.
    nl.add_rule(rule)
        .and_then(|()| {
            nl.add_rule(Rule {
                to_net: true,
                iif: None,
                lookup_main: false,
                priority: RULE_PRIORITY,
                ..rule
            })
        })
        .map_err(|e| format!("cannot add the rules that keep sandboxes apart: {e}"))?;
    Ok(masquerade(base).err())
}

/// (Re)creates the nftables table `ip hako` that masquerades the range's traffic leaving the
/// host. Idempotent; shared by every Hako on the host.
fn masquerade(base: Ipv4Addr) -> Result<(), String> {
    use std::io::Write;
    let net = format!("{base}/{SUBNET_PREFIX}");
    let rules = format!(
        "table ip hako {{}}\ndelete table ip hako\ntable ip hako {{\n  chain postrouting {{\n    \
         type nat hook postrouting priority srcnat; policy accept;\n    \
         ip saddr {net} ip daddr != {net} masquerade\n  }}\n}}\n"
    );
    let nft = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .ok_or("nft (nftables) is not installed: sandboxes reach this host but not beyond it")?;
    let mut child = std::process::Command::new(nft)
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {nft}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(rules.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("cannot run {nft}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "nft could not set up masquerading: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// Deletes the host-side links (`hk<n>`) whose owner (`hako:<pid>` alias) is not running, e.g.
/// after a `kill -9` of Hako when something kept a sandbox's namespace alive. Returns how many.
pub(crate) fn remove_leftover_links(alive: impl Fn(u32) -> bool) -> usize {
    let Ok(mut nl) = Netlink::open() else {
        return 0;
    };
    let Ok(links) = nl.links() else {
        return 0;
    };
    let mut n = 0;
    for l in links {
        let is_ours = l
            .name
            .strip_prefix(HOST_LINK_PREFIX)
            .is_some_and(|s| s.parse::<u32>().is_ok());
        let owner = l
            .alias
            .as_deref()
            .and_then(|a| a.strip_prefix("hako:"))
            .and_then(|p| p.parse::<u32>().ok());
        if let (true, Some(pid)) = (is_ours, owner) {
            if !alive(pid) && nl.delete_link(l.index).is_ok() {
                n += 1;
            }
        }
    }
    n
}

/// Brings the namespace's loopback interface up.
pub(crate) fn loopback_up() -> Result<(), String> {
    let sock = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        nix::sys::socket::SockType::Datagram,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| format!("cannot open a socket to configure lo: {e}"))?;
    // SAFETY: ifreq is a plain C struct for which all-zero bytes are a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads into `ifr`, a valid, properly sized ifreq owned by this frame.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) } != 0 {
        return Err(format!(
            "cannot read lo's flags: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: after SIOCGIFFLAGS the union holds the flags member, which is what we update.
    unsafe {
        ifr.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    }
    // SAFETY: SIOCSIFFLAGS reads `ifr`, a valid ifreq naming lo with its flags set.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) } != 0 {
        return Err(format!(
            "cannot bring lo up: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Sends `msg`, with `fd` attached when given, over a unix socket.
pub(crate) fn send_with_fd(sock: BorrowedFd<'_>, msg: &[u8], fd: Option<RawFd>) -> nix::Result<()> {
    match fd {
        Some(f) => send_with_fds(sock, msg, &[f]),
        None => send_with_fds(sock, msg, &[]),
    }
}

/// Sends one message with `fds` attached (none when empty).
pub(crate) fn send_with_fds(sock: BorrowedFd<'_>, msg: &[u8], fds: &[RawFd]) -> nix::Result<()> {
    let cmsgs: Vec<ControlMessage<'_>> = if fds.is_empty() {
        vec![]
    } else {
        vec![ControlMessage::ScmRights(fds)]
    };
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(msg)],
        &cmsgs,
        MsgFlags::empty(),
        None,
    )?;
    Ok(())
}

/// Receives one message (and the fd attached to it, if any). An empty message means the other
/// end has closed.
pub(crate) fn recv_with_fd(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> nix::Result<(usize, Option<OwnedFd>)> {
    let (n, mut fds) = recv_with_fds(sock, buf)?;
    Ok((
        n,
        if fds.is_empty() {
            None
        } else {
            Some(fds.remove(0))
        },
    ))
}

/// Receives one message and every fd attached to it, in order.
pub(crate) fn recv_with_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> nix::Result<(usize, Vec<OwnedFd>)> {
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut out = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for f in fds {
                // SAFETY: the kernel just installed this descriptor in our table for us; nothing
                // else owns it.
                out.push(unsafe { OwnedFd::from_raw_fd(f) });
            }
        }
    }
    Ok((msg.bytes, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn rootless_dns_is_slirps_forwarder() {
        use super::super::mounts::MountOp;
        let mut ops = vec![
            MountOp::Dir {
                path: "/etc".into(),
                mode: 0o755,
            },
            MountOp::BindRo {
                src: "/etc/resolv.conf".into(),
                dst: "/etc/resolv.conf".into(),
            },
        ];
        use_slirp_dns(&mut ops);
        assert_eq!(ops.len(), 2);
        assert_eq!(
            ops[1],
            MountOp::File {
                path: "/etc/resolv.conf".into(),
                contents: "nameserver 10.0.2.3\n".into(),
                mode: 0o644
            }
        );
    }

    #[test]
    fn slots_are_30s_of_the_range() {
        let base = DEFAULT_SUBNET;
        assert_eq!(
            slot_addresses(base, 0),
            (Ipv4Addr::new(10, 213, 0, 1), Ipv4Addr::new(10, 213, 0, 2))
        );
        assert_eq!(
            slot_addresses(base, 70),
            (Ipv4Addr::new(10, 213, 1, 25), Ipv4Addr::new(10, 213, 1, 26))
        );
        assert_eq!(
            slot_addresses(base, SLOTS - 1),
            (
                Ipv4Addr::new(10, 213, 255, 253),
                Ipv4Addr::new(10, 213, 255, 254)
            )
        );
        assert_eq!(slot_addresses(base, SLOTS), slot_addresses(base, 0));
    }

    #[test]
    fn a_listener_crosses_a_socketpair() {
        use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        send_with_fd(a.as_fd(), b"OK", Some(l.as_raw_fd())).unwrap();
        drop(l);
        let mut buf = [0u8; 16];
        let (n, fd) = recv_with_fd(b.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"OK");
        let got = std::net::TcpListener::from(fd.unwrap());
        assert_eq!(got.local_addr().unwrap(), addr);
        let _c = std::net::TcpStream::connect(addr).unwrap();
        assert!(got.accept().is_ok());
        drop(a);
        assert_eq!(recv_with_fd(b.as_fd(), &mut buf).unwrap().0, 0);
    }
}
