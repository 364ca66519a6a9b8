//! A minimal rtnetlink client: the few requests the sandboxes' network needs (veth pairs, IPv4
//! addresses, routes, a policy rule, link listing), over a plain `NETLINK_ROUTE` socket.
//!
//! Synchronous and allocation-light, so that it runs in the sandbox's single-threaded init. A
//! netlink socket stays in the network namespace it was opened in: the init opens one before it
//! unshares its network namespace (the host's) and one after (the sandbox's).

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

// From linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h, linux/fib_rules.h.
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;
const RTM_NEWRULE: u16 = 32;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINKINFO: u16 = 18;
const IFLA_IFALIAS: u16 = 20;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const FRA_DST: u16 = 1;
const FRA_SRC: u16 = 2;
const FRA_IIFNAME: u16 = 3;
const FRA_PRIORITY: u16 = 6;
const FR_ACT_TO_TBL: u8 = 1;
const FR_ACT_PROHIBIT: u8 = 8;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RTN_UNICAST: u8 = 1;
const RTN_UNREACHABLE: u8 = 7;
const RTA_DST: u16 = 1;
const AF_INET: u8 = libc::AF_INET as u8;
const IFF_UP: u32 = libc::IFF_UP as u32;
/// `struct nlmsghdr`, `struct ifinfomsg`.
const HDR_LEN: usize = 16;
const IFINFO_LEN: usize = 16;

/// One request being built: the header, a fixed-size family header, then attributes.
struct Msg {
    buf: Vec<u8>,
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

impl Msg {
    fn new(kind: u16, flags: u16, family_header: &[u8]) -> Msg {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set by `finish`
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // sequence, set by `finish`
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
        let mut m = Msg { buf };
        m.raw(family_header);
        m
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.buf.resize(align(self.buf.len()), 0);
    }

    fn attr(&mut self, kind: u16, data: &[u8]) {
        self.buf
            .extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.raw(data);
    }

    fn attr_str(&mut self, kind: u16, s: &str) {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.attr(kind, &v);
    }

    /// Opens a nested attribute; returns where to close it with [`Msg::end`].
    fn begin(&mut self, kind: u16) -> usize {
        let at = self.buf.len();
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        at
    }

    fn end(&mut self, at: usize) {
        let len = (self.buf.len() - at) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn finish(mut self, seq: u32) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
}

/// `struct ifinfomsg` with the given index, flags and change mask.
fn ifinfo(index: i32, flags: u32, change: u32) -> [u8; IFINFO_LEN] {
    let mut h = [0u8; IFINFO_LEN];
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h[8..12].copy_from_slice(&flags.to_ne_bytes());
    h[12..16].copy_from_slice(&change.to_ne_bytes());
    h
}

/// A policy routing rule for [`Netlink::add_rule`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule<'a> {
    pub(crate) net: Ipv4Addr,
    pub(crate) prefix: u8,
    pub(crate) to_net: bool,
    pub(crate) iif: Option<&'a str>,
    pub(crate) lookup_main: bool,
    pub(crate) priority: u32,
}

/// A link as listed by [`Netlink::links`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) index: i32,
    pub(crate) name: String,
    pub(crate) alias: Option<String>,
}

/// A `NETLINK_ROUTE` socket, bound to the network namespace it was opened in.
#[derive(Debug)]
pub(crate) struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

impl Netlink {
    pub(crate) fn open() -> io::Result<Netlink> {
        // SAFETY: socket(2) with constant arguments; the result is checked before use.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: socket(2) just returned this descriptor and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Netlink { fd, seq: 0 })
    }

    fn send(&mut self, msg: Msg) -> io::Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let bytes = msg.finish(self.seq);
        // SAFETY: `bytes` is a valid buffer of the given length for the duration of the call;
        // a netlink socket with no address sends to the kernel.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(self.seq)
    }

    /// Reads replies to `seq`, handing each message (type, payload) to `each`, until the
    /// kernel's acknowledgement or the end of a dump. A kernel error becomes an `io::Error`.
    fn replies(&mut self, seq: u32, mut each: impl FnMut(u16, &[u8])) -> io::Result<()> {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut buf)?;
            let mut at = 0;
            while at + HDR_LEN <= n {
                let len = u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap_or([0; 4])) as usize;
                let kind = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
                let mseq = u32::from_ne_bytes(buf[at + 8..at + 12].try_into().unwrap_or([0; 4]));
                if len < HDR_LEN || at + len > n {
                    return Err(io::Error::other("a malformed netlink reply"));
                }
                let payload = &buf[at + HDR_LEN..at + len];
                at += align(len);
                if mseq != seq {
                    continue;
                }
                match kind {
                    NLMSG_ERROR => {
                        let code = payload
                            .get(0..4)
                            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                            .unwrap_or(-libc::EIO);
                        return if code == 0 {
                            Ok(())
                        } else {
                            Err(io::Error::from_raw_os_error(-code))
                        };
                    }
                    NLMSG_DONE => return Ok(()),
                    _ => each(kind, payload),
                }
            }
        }
    }

    /// Sends a request and waits for its acknowledgement.
    fn call(&mut self, msg: Msg) -> io::Result<()> {
        let seq = self.send(msg)?;
        self.replies(seq, |_, _| {})
    }

    /// The index of the link named `name`.
    pub(crate) fn index(&mut self, name: &str) -> io::Result<i32> {
        let mut m = Msg::new(RTM_GETLINK, NLM_F_ACK, &ifinfo(0, 0, 0));
        m.attr_str(IFLA_IFNAME, name);
        let seq = self.send(m)?;
        let mut index = None;
        self.replies(seq, |kind, p| {
            if kind == RTM_NEWLINK && p.len() >= IFINFO_LEN {
                index = Some(i32::from_ne_bytes([p[4], p[5], p[6], p[7]]));
            }
        })?;
        // The link comes first, then the acknowledgement (or only an error when there is none).
        index.ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))
    }

    /// Every link of the namespace, with its name and alias.
    pub(crate) fn links(&mut self) -> io::Result<Vec<Link>> {
        let m = Msg::new(RTM_GETLINK, NLM_F_DUMP, &ifinfo(0, 0, 0));
        let seq = self.send(m)?;
        let mut out = Vec::new();
        self.replies(seq, |kind, p| {
            if kind != RTM_NEWLINK || p.len() < IFINFO_LEN {
                return;
            }
            let index = i32::from_ne_bytes([p[4], p[5], p[6], p[7]]);
            let (mut name, mut alias) = (None, None);
            for (k, v) in attrs(&p[IFINFO_LEN..]) {
                let s = || {
                    String::from_utf8_lossy(v.split(|b| *b == 0).next().unwrap_or(v)).into_owned()
                };
                match k {
                    IFLA_IFNAME => name = Some(s()),
                    IFLA_IFALIAS => alias = Some(s()),
                    _ => {}
                }
            }
            if let Some(name) = name {
                out.push(Link { index, name, alias });
            }
        })?;
        Ok(out)
    }

    /// Creates a veth pair: `name` here, `peer` in the network namespace open at `netns`.
    pub(crate) fn add_veth(&mut self, name: &str, peer: &str, netns: RawFd) -> io::Result<()> {
        let mut m = Msg::new(
            RTM_NEWLINK,
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &ifinfo(0, 0, 0),
        );
        m.attr_str(IFLA_IFNAME, name);
        let info = m.begin(IFLA_LINKINFO);
        m.attr_str(IFLA_INFO_KIND, "veth");
        let data = m.begin(IFLA_INFO_DATA);
        let p = m.begin(VETH_INFO_PEER);
        m.raw(&ifinfo(0, 0, 0));
        m.attr_str(IFLA_IFNAME, peer);
        m.attr(IFLA_NET_NS_FD, &(netns as u32).to_ne_bytes());
        m.end(p);
        m.end(data);
        m.end(info);
        self.call(m)
    }

    /// Brings a link up or down, and sets its alias when given.
    pub(crate) fn set_link(&mut self, index: i32, up: bool, alias: Option<&str>) -> io::Result<()> {
        let flags = if up { IFF_UP } else { 0 };
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_ACK, &ifinfo(index, flags, IFF_UP));
        if let Some(a) = alias {
            m.attr(IFLA_IFALIAS, a.as_bytes());
        }
        self.call(m)
    }

    pub(crate) fn delete_link(&mut self, index: i32) -> io::Result<()> {
        let m = Msg::new(RTM_DELLINK, NLM_F_ACK, &ifinfo(index, 0, 0));
        self.call(m)
    }

    /// Adds `addr/prefix` to a link.
    pub(crate) fn add_address(&mut self, index: i32, addr: Ipv4Addr, prefix: u8) -> io::Result<()> {
        let mut h = [0u8; 8];
        h[0] = AF_INET;
        h[1] = prefix;
        h[4..8].copy_from_slice(&(index as u32).to_ne_bytes());
        let mut m = Msg::new(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &h);
        m.attr(IFA_LOCAL, &addr.octets());
        m.attr(IFA_ADDRESS, &addr.octets());
        self.call(m)
    }

    /// Adds the default route, via `gateway` on the link `index`.
    pub(crate) fn add_default_route(&mut self, index: i32, gateway: Ipv4Addr) -> io::Result<()> {
        // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
        let h = [
            AF_INET,
            0,
            0,
            0,
            RT_TABLE_MAIN,
            RTPROT_BOOT,
            0,
            RTN_UNICAST,
            0,
            0,
            0,
            0,
        ];
        let mut m = Msg::new(RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &h);
        m.attr(RTA_GATEWAY, &gateway.octets());
        m.attr(RTA_OIF, &(index as u32).to_ne_bytes());
        self.call(m)
    }

    /// Adds an "unreachable" route for `net/prefix`: connects there fail at once
    /// (`EHOSTUNREACH`).
    pub(crate) fn add_unreachable_route(&mut self, net: Ipv4Addr, prefix: u8) -> io::Result<()> {
        let h = [
            AF_INET,
            prefix,
            0,
            0,
            RT_TABLE_MAIN,
            RTPROT_BOOT,
            0,
            RTN_UNREACHABLE,
            0,
            0,
            0,
            0,
        ];
        let mut m = Msg::new(RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &h);
        m.attr(RTA_DST, &net.octets());
        self.call(m)
    }

    /// Adds a policy rule at `priority` (kept when an identical one exists): traffic from
    /// `net/prefix` (and to it, with `to_net`), arriving on `iif` when given, is prohibited
    /// (`lookup_main` false) or looked up in the main table.
    pub(crate) fn add_rule(&mut self, rule: Rule<'_>) -> io::Result<()> {
        let (action, table) = if rule.lookup_main {
            (FR_ACT_TO_TBL, RT_TABLE_MAIN)
        } else {
            (FR_ACT_PROHIBIT, 0)
        };
        let dst_len = if rule.to_net { rule.prefix } else { 0 };
        // struct fib_rule_hdr: family, dst_len, src_len, tos, table, res1, res2, action, flags.
        let h = [
            AF_INET,
            dst_len,
            rule.prefix,
            0,
            table,
            0,
            0,
            action,
            0,
            0,
            0,
            0,
        ];
        let mut m = Msg::new(RTM_NEWRULE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &h);
        m.attr(FRA_SRC, &rule.net.octets());
        if rule.to_net {
            m.attr(FRA_DST, &rule.net.octets());
        }
        if let Some(iif) = rule.iif {
            m.attr_str(FRA_IIFNAME, iif);
        }
        m.attr(FRA_PRIORITY, &rule.priority.to_ne_bytes());
        match self.call(m) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            r => r,
        }
    }
}

fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is a valid, writable buffer of the given length for the call.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// The (type, value) attributes of a netlink payload.
fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
        let kind = u16::from_ne_bytes([b[2], b[3]]) & 0x3fff;
        if len < 4 || len > b.len() {
            return None;
        }
        let v = &b[4..len];
        b = &b[align(len).min(b.len())..];
        Some((kind, v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_framed_and_nested() {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_ACK, &ifinfo(7, IFF_UP, IFF_UP));
        let n = m.begin(IFLA_LINKINFO);
        m.attr_str(IFLA_INFO_KIND, "veth");
        m.end(n);
        let b = m.finish(9);
        assert_eq!(
            u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize,
            b.len()
        );
        assert_eq!(u32::from_ne_bytes(b[8..12].try_into().unwrap()), 9);
        assert_eq!(b.len() % 4, 0);
        let a: Vec<_> = attrs(&b[HDR_LEN + IFINFO_LEN..]).collect();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].0, IFLA_LINKINFO);
        let inner: Vec<_> = attrs(a[0].1).collect();
        assert_eq!(inner, vec![(IFLA_INFO_KIND, &b"veth\0"[..])]);
    }

    #[test]
    fn lists_the_loopback_link() {
        // Any process may list the links of its namespace.
        let mut nl = Netlink::open().unwrap();
        let links = nl.links().unwrap();
        let lo = links.iter().find(|l| l.name == "lo").expect("lo is listed");
        assert_eq!(nl.index("lo").unwrap(), lo.index);
        assert!(nl.index("no-such-link0").is_err());
    }
}
