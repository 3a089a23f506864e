//! The gateway's one UDP socket. Every browser leg shares it, and connected legs are read
//! once per 20 ms tick, so the kernel must hold a whole tick of every leg's datagrams: the
//! default receive buffer (208 KiB, about 150 small datagrams) overflows near 200 legs and
//! drops audio and ICE checks alike. We ask for 8 MiB, past `net.core.rmem_max` when we
//! may (root or CAP_NET_ADMIN), and have the kernel count what it still drops
//! (`SO_RXQ_OVFL`) so an overflow is logged instead of silent.

use crate::udp_options::{self, enable_drop_count, enable_timestamps};
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::SocketAddr;
use tracing::{info, warn};

const BUFFER_BYTES: usize = 8 << 20;
/// A buffer smaller than this holds a tick of fewer than ~500 legs (a small datagram takes
/// about 2 KiB of buffer once the kernel's bookkeeping is counted): worth a warning.
const WARN_BELOW: usize = 1 << 20;

/// Binds the gateway's socket: non-blocking, big buffers, arrival stamps and drop count.
pub fn bind(addr: SocketAddr) -> io::Result<mio::net::UdpSocket> {
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    let got = udp_options::enlarge(&sock, BUFFER_BYTES);
    if got < WARN_BELOW {
        warn!(
            bytes = got,
            "the WebRTC socket's receive buffer is small: beyond ~{} agent legs the kernel will \
             drop their audio; run Hotline as root or raise net.core.rmem_max to {BUFFER_BYTES}",
            got / 2048 * 3 / 4
        );
    } else {
        info!(bytes = got, "WebRTC socket receive buffer");
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into()).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot bind the WebRTC socket {addr}: {e}"),
        )
    })?;
    let socket = mio::net::UdpSocket::from_std(sock.into());
    // Arrival stamps: audio read at the tick still reaches str0m with its true time.
    enable_timestamps(&socket)?;
    enable_drop_count(&socket)?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn flag(s: &impl AsRawFd, option: libc::c_int) -> libc::c_int {
        let mut v: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: valid fd; v and len are live and sized for a c_int.
        let rc = unsafe {
            libc::getsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&mut v as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0);
        v
    }

    #[test]
    fn the_socket_is_non_blocking_and_stamps_and_counts_drops() {
        let s = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        assert!(s.local_addr().unwrap().port() > 0);
        assert!(socket2::SockRef::from(&s).nonblocking().unwrap());
        assert_eq!(flag(&s, libc::SO_TIMESTAMPNS), 1);
        assert_eq!(flag(&s, libc::SO_RXQ_OVFL), 1);
    }
}
