//! The UDP socket: large kernel buffers so bursts of INVITEs are not dropped before we read.

use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use tokio::net::UdpSocket;

const BUFFER_BYTES: usize = 8 * 1024 * 1024;

pub fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    crate::udp_options::enlarge(&sock, BUFFER_BYTES);
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot bind UDP {addr}: {e}")))?;
    UdpSocket::from_std(sock.into())
}

/// Receives one datagram; pends forever when the profile has no UDP.
pub async fn recv(
    sock: Option<&UdpSocket>,
    buf: &mut [u8],
) -> std::io::Result<(usize, SocketAddr)> {
    match sock {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}
