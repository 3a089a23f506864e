//! The gateway's one UDP socket. Every browser leg shares it, and connected legs are read
//! once per 20 ms tick, so the kernel must hold a whole tick of every leg's datagrams: the
//! default receive buffer (208 KiB, about 150 small datagrams) overflows near 200 legs and
//! drops audio and ICE checks alike. We ask for 8 MiB, past `net.core.rmem_max` when we
//! may (root or CAP_NET_ADMIN), and have the kernel count what it still drops
//! (`SO_RXQ_OVFL`) so an overflow is logged instead of silent.

use crate::media::worker::batch_recv::{enable_drop_count, enable_timestamps};
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::mem::size_of;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use tracing::{info, warn};

const BUFFER_BYTES: usize = 8 << 20;
/// A buffer smaller than this holds a tick of fewer than ~500 legs (a small datagram takes
/// about 2 KiB of buffer once the kernel's bookkeeping is counted): worth a warning.
const WARN_BELOW: usize = 1 << 20;

/// Binds the gateway's socket: non-blocking, big buffers, arrival stamps and drop count.
pub fn bind(addr: SocketAddr) -> io::Result<mio::net::UdpSocket> {
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        // FORCE ignores net.core.*mem_max but needs CAP_NET_ADMIN; the plain option is
        // capped at the maximum instead.
        if set_int(&sock, force, BUFFER_BYTES).is_err() {
            let _ = set_int(&sock, plain, BUFFER_BYTES);
        }
    }
    let got = sock.recv_buffer_size().unwrap_or(0);
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

fn set_int(sock: &Socket, option: libc::c_int, value: usize) -> io::Result<()> {
    let v = value as libc::c_int;
    // SAFETY: valid fd; the option value points at a live c_int of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&v as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receive_buffer_is_forced_to_8_mib_or_as_big_as_the_system_allows() {
        let s = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let got = socket2::SockRef::from(&s).recv_buffer_size().unwrap();
        let max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        // The kernel doubles what it is asked for (room for its bookkeeping).
        let at_least = 2 * BUFFER_BYTES.min(max);
        assert!(got >= at_least, "{got} bytes; rmem_max {max}");
    }
}
