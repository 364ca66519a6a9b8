//! The sandbox's network: its own namespace with only `lo` (outbound access through a veth pair is
//! not done yet), the Runtime API listener opened inside it, and the fd passing that hands the
//! listener to Hako.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

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
