//! Socket options of Hotline's UDP sockets.
//!
//! Buffers: the shared sockets (the SIP listener, the WebRTC gateway) hold the traffic of
//! many calls between two reads, so the defaults (208 KiB) drop datagrams under load.
//! `SO_RCVBUFFORCE`/`SO_SNDBUFFORCE` go past `net.core.*mem_max` when we may (root or
//! CAP_NET_ADMIN); otherwise the plain options are capped there.
//! Stamps and drop counts: sockets read once per 20 ms tick (media workers, the gateway)
//! want each datagram's kernel arrival time, and the gateway the kernel's drop count.

use socket2::Socket;
use std::io;
use std::mem::size_of;
use std::os::fd::AsRawFd;

/// Asks for `bytes` of receive and send buffer; returns the receive buffer the kernel gave
/// (it doubles what it grants, for its bookkeeping).
pub fn enlarge(sock: &Socket, bytes: usize) -> usize {
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        if set_int(sock, force, bytes).is_err() {
            let _ = set_int(sock, plain, bytes);
        }
    }
    sock.recv_buffer_size().unwrap_or(0)
}

/// Asks the kernel to stamp each datagram with its arrival time (CLOCK_REALTIME,
/// `SCM_TIMESTAMPNS`; read by `media::worker::batch_recv`).
pub fn enable_timestamps(socket: &impl AsRawFd) -> io::Result<()> {
    set_int(socket, libc::SO_TIMESTAMPNS, 1)
}

/// Asks the kernel to attach to each datagram how many it has dropped on this socket so
/// far for want of buffer room (`SO_RXQ_OVFL`; read by `media::worker::batch_recv`).
pub fn enable_drop_count(socket: &impl AsRawFd) -> io::Result<()> {
    set_int(socket, libc::SO_RXQ_OVFL, 1)
}

fn set_int(sock: &impl AsRawFd, option: libc::c_int, value: usize) -> io::Result<()> {
    let v = libc::c_int::try_from(value).unwrap_or(libc::c_int::MAX);
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
    use socket2::{Domain, Protocol, Type};

    #[test]
    fn the_buffer_is_forced_or_as_big_as_the_system_allows() {
        let sock = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        let want = 8 << 20;
        let got = enlarge(&sock, want);
        let max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        // Forced (root): twice what we asked; else twice the cap at least.
        assert!(got >= 2 * want.min(max), "{got} bytes; rmem_max {max}");
        assert!(got <= 2 * want, "{got} bytes");
    }
}
