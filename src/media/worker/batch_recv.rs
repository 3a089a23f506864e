//! Batched RTP receive: one `recvmmsg` per socket per tick returns every datagram the kernel
//! queued since the last tick, each with its kernel arrival time (`SO_TIMESTAMPNS`).
//!
//! Why tick-driven instead of readiness-driven: a caller sends one packet per 20 ms, so
//! waking on every arrival costs a context switch per packet (most of the worker's CPU in
//! profiles). Reading at the tick costs one syscall per call per tick, and the kernel
//! timestamp keeps jitter statistics exact although the packet is read up to 20 ms later.
//! `sendmmsg` does not help the send side: symmetric RTP needs each call's packet to leave
//! from that call's own socket, and a call sends one packet per tick.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime};

/// Datagrams read per `recvmmsg`. A call queues one per 20 ms; more means a burst after a
/// stall or a flood, and the caller loops (bounded) to drain it.
pub const BATCH: usize = 16;
/// Largest datagram we keep: RTP for G.711 at 60 ms is 492 bytes; anything bigger is
/// truncated (and then rejected by the RTP parser as malformed).
const DATAGRAM: usize = 1500;
/// Room for an `SO_TIMESTAMPNS` control message (a `timespec`, 32 bytes with its header) and
/// an `SO_RXQ_OVFL` one (a `u32`, 20), with alignment slack.
const CONTROL: usize = 64;

/// One datagram of a batch.
pub struct Datagram<'a> {
    pub data: &'a [u8],
    pub from: SocketAddr,
    pub arrival: Instant,
    /// Datagrams the kernel had dropped on this socket (a running count) when this one was
    /// queued, when `udp_options::enable_drop_count` is on; `None` while it has dropped none.
    pub kernel_drops: Option<u32>,
}

/// The buffers of one `recvmmsg` call, owned by a worker and reused for all its calls: no
/// allocation on the hot path.
pub struct RecvBatch {
    bufs: Box<[[u8; DATAGRAM]; BATCH]>,
    addrs: [libc::sockaddr_storage; BATCH],
    control: [[u8; CONTROL]; BATCH],
    iovecs: [libc::iovec; BATCH],
    headers: [libc::mmsghdr; BATCH],
    received: usize,
    /// The same instant on both clocks, taken once per tick, to turn kernel stamps into
    /// `Instant`s.
    now: Instant,
    now_wall: SystemTime,
}

// SAFETY: the raw pointers inside the headers only ever point into this struct's own
// buffers; they are rewritten before every `recvmmsg` and re-derived in `get`, so moving the
// batch to the worker's thread (or anywhere) cannot leave a dangling use.
unsafe impl Send for RecvBatch {}

impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch::new()
    }
}

impl RecvBatch {
    pub fn new() -> RecvBatch {
        // SAFETY: all-zero is a valid value for these plain C structs (null pointers, zero
        // lengths); `recv` points them at our buffers before every call.
        unsafe {
            RecvBatch {
                bufs: Box::new([[0; DATAGRAM]; BATCH]),
                addrs: zeroed(),
                control: [[0; CONTROL]; BATCH],
                iovecs: zeroed(),
                headers: zeroed(),
                received: 0,
                now: Instant::now(),
                now_wall: SystemTime::now(),
            }
        }
    }

    /// Sets the clock pair used to convert arrival stamps; call once per tick.
    pub fn set_clock(&mut self, now: Instant, now_wall: SystemTime) {
        self.now = now;
        self.now_wall = now_wall;
    }

    /// Reads up to [`BATCH`] queued datagrams without blocking. Returns how many (0 when
    /// none are queued); read them with [`RecvBatch::get`].
    pub fn recv(&mut self, socket: &impl AsRawFd) -> io::Result<usize> {
        self.received = 0;
        for i in 0..BATCH {
            self.iovecs[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr().cast(),
                iov_len: DATAGRAM,
            };
            let h = &mut self.headers[i].msg_hdr;
            h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &mut self.iovecs[i];
            h.msg_iovlen = 1;
            h.msg_control = self.control[i].as_mut_ptr().cast();
            h.msg_controllen = CONTROL as _;
            h.msg_flags = 0;
            self.headers[i].msg_len = 0;
        }
        // SAFETY: every header points at buffers owned by `self` that outlive the call, with
        // the lengths given; the fd is valid for the borrow.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                self.headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(0),
                _ => Err(e),
            };
        }
        self.received = n as usize;
        Ok(self.received)
    }

    /// The `i`-th datagram of the last [`RecvBatch::recv`]; `None` past the end or for a
    /// sender address that is neither IPv4 nor IPv6.
    pub fn get(&self, i: usize) -> Option<Datagram<'_>> {
        if i >= self.received {
            return None;
        }
        let header = &self.headers[i];
        let len = (header.msg_len as usize).min(DATAGRAM);
        let from = sockaddr_to_std(&self.addrs[i])?;
        // Re-point the control buffer at ours: the header's own pointer was set before the
        // call and would be stale had the batch moved since.
        let mut h = header.msg_hdr;
        h.msg_control = self.control[i].as_ptr() as *mut libc::c_void;
        h.msg_controllen = header.msg_hdr.msg_controllen.min(CONTROL as _);
        let (stamp, kernel_drops) = control_messages(&h);
        let arrival = stamp.map_or(self.now, |wall| self.to_instant(wall));
        Some(Datagram {
            data: &self.bufs[i][..len],
            from,
            arrival,
            kernel_drops,
        })
    }

    /// A wall-clock arrival as an `Instant`, clamped to the last second: a wall-clock step
    /// (NTP) must not make packets look minutes old or from the future.
    fn to_instant(&self, wall: SystemTime) -> Instant {
        let age = self
            .now_wall
            .duration_since(wall)
            .unwrap_or(Duration::ZERO)
            .min(Duration::from_secs(1));
        self.now.checked_sub(age).unwrap_or(self.now)
    }
}

/// The kernel's `SCM_TIMESTAMPNS` arrival stamp and `SO_RXQ_OVFL` drop count, when present.
fn control_messages(h: &libc::msghdr) -> (Option<SystemTime>, Option<u32>) {
    let (mut stamp, mut drops) = (None, None);
    // SAFETY: `h` was filled by recvmmsg; the CMSG_* macros stay within msg_controllen, and
    // the payloads are a timespec and a u32 (read unaligned).
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(h);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET {
                match (*cmsg).cmsg_type {
                    libc::SCM_TIMESTAMPNS => {
                        let ts: libc::timespec =
                            std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                        let since = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
                        stamp = Some(SystemTime::UNIX_EPOCH + since);
                    }
                    libc::SO_RXQ_OVFL => {
                        drops = Some(std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast()));
                    }
                    _ => {}
                }
            }
            cmsg = libc::CMSG_NXTHDR(h, cmsg);
        }
    }
    (stamp, drops)
}

fn sockaddr_to_std(a: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match a.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let v4: libc::sockaddr_in =
                unsafe { *(a as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)),
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let v6: libc::sockaddr_in6 =
                unsafe { *(a as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(v6.sin6_addr.s6_addr),
                u16::from_be(v6.sin6_port),
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::udp_options::{enable_drop_count, enable_timestamps};
    use std::net::UdpSocket;

    #[test]
    fn reads_a_burst_in_one_call_with_sources_and_stamps() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        enable_timestamps(&rx).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let before = Instant::now();
        for i in 0..5u8 {
            tx.send_to(&[i; 12], rx.local_addr().unwrap()).unwrap();
        }
        // Loopback delivery is synchronous with send_to, but stay bounded anyway.
        let mut batch = RecvBatch::new();
        let mut got = Vec::new();
        for _ in 0..100 {
            batch.set_clock(Instant::now(), SystemTime::now());
            let n = batch.recv(&rx).unwrap();
            for i in 0..n {
                let d = batch.get(i).unwrap();
                assert_eq!(d.from, tx.local_addr().unwrap());
                assert!(d.arrival >= before, "stamp before the send");
                assert!(d.arrival <= Instant::now());
                got.push(d.data.to_vec());
            }
            if got.len() == 5 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(got, (0..5u8).map(|i| vec![i; 12]).collect::<Vec<_>>());
        assert_eq!(
            batch.recv(&rx).unwrap(),
            0,
            "nothing left: no error, no block"
        );
        assert!(batch.get(0).is_none());
    }

    #[test]
    fn more_than_a_batch_needs_a_second_call() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..(BATCH as u8 + 3) {
            tx.send_to(&[i], rx.local_addr().unwrap()).unwrap();
        }
        let mut batch = RecvBatch::new();
        let mut total = 0;
        for _ in 0..100 {
            let n = batch.recv(&rx).unwrap();
            assert!(n <= BATCH);
            total += n;
            if total == BATCH + 3 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(total, BATCH + 3);
    }

    #[test]
    fn a_full_socket_buffer_is_counted_beside_the_arrival_stamp() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        // The smallest buffer the kernel allows holds a few datagrams, not 300.
        socket2::SockRef::from(&rx)
            .set_recv_buffer_size(1024)
            .unwrap();
        enable_timestamps(&rx).unwrap();
        enable_drop_count(&rx).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        for _ in 0..300 {
            tx.send_to(&[7; 200], rx.local_addr().unwrap()).unwrap();
        }
        // A datagram carries the count as it was when it was queued: the ones queued before
        // the buffer filled carry none; one queued after the drops carries them.
        let mut batch = RecvBatch::new();
        batch.set_clock(Instant::now(), SystemTime::now());
        let mut held = 0;
        for _ in 0..100 {
            let n = batch.recv(&rx).unwrap();
            for i in 0..n {
                assert_eq!(batch.get(i).unwrap().kernel_drops, None);
            }
            held += n;
            if n == 0 {
                break;
            }
        }
        assert!(
            held > 0 && held < 300,
            "{held} held: the buffer took them all?"
        );
        tx.send_to(&[8; 200], rx.local_addr().unwrap()).unwrap();
        batch.set_clock(Instant::now(), SystemTime::now());
        assert_eq!(batch.recv(&rx).unwrap(), 1);
        let d = batch.get(0).unwrap();
        assert_eq!(d.data, &[8; 200]);
        assert_eq!(d.kernel_drops, Some(300 - held as u32));
        let (stamp, drops) = {
            let mut h = batch.headers[0].msg_hdr;
            h.msg_control = batch.control[0].as_ptr() as *mut libc::c_void;
            control_messages(&h)
        };
        assert!(stamp.is_some(), "the stamp is still read next to the count");
        assert_eq!(drops, d.kernel_drops);
    }

    #[test]
    fn old_or_future_stamps_are_clamped() {
        let mut b = RecvBatch::new();
        let now = Instant::now();
        let wall = SystemTime::now();
        b.set_clock(now, wall);
        assert_eq!(b.to_instant(wall + Duration::from_secs(5)), now);
        assert_eq!(
            b.to_instant(wall - Duration::from_secs(600)),
            now - Duration::from_secs(1)
        );
        assert_eq!(
            b.to_instant(wall - Duration::from_millis(7)),
            now - Duration::from_millis(7)
        );
    }
}
