//! Datagrams the gateway's peers want sent, gathered over one pass of the loop and sent
//! with `sendmmsg`, many per system call. Every browser leg shares the gateway's one
//! socket, so unlike the media workers' per-call sockets the whole tick's audio can leave
//! in a few calls instead of one `sendto` per packet.

use socket2::SockAddr;
use std::io;
use std::mem::zeroed;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

/// Datagrams per `sendmmsg`.
const BATCH: usize = 64;

#[derive(Default)]
pub struct Outbox {
    queued: Vec<(SockAddr, Vec<u8>)>,
    /// Datagrams the kernel refused (buffer full, unreachable) since the last `take_dropped`.
    dropped: u64,
}

impl Outbox {
    pub fn push(&mut self, to: SocketAddr, data: Vec<u8>) {
        self.queued.push((SockAddr::from(to), data));
    }

    pub fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }

    /// Sends everything queued. A datagram the kernel refuses is dropped, as a lost UDP
    /// packet would be: audio must not wait, and the next frame follows in 20 ms.
    pub fn flush(&mut self, socket: &impl AsRawFd) {
        let mut sent = 0;
        while sent < self.queued.len() {
            let chunk = &self.queued[sent..(sent + BATCH).min(self.queued.len())];
            match send_chunk(socket, chunk) {
                Ok(0) | Err(_) => {
                    // The first of the chunk could not go: skip it, try the rest.
                    self.dropped += 1;
                    sent += 1;
                }
                Ok(n) => sent += n,
            }
        }
        self.queued.clear();
    }
}

/// One `sendmmsg` of up to [`BATCH`] datagrams; how many the kernel took.
fn send_chunk(socket: &impl AsRawFd, chunk: &[(SockAddr, Vec<u8>)]) -> io::Result<usize> {
    debug_assert!(chunk.len() <= BATCH);
    // SAFETY: plain C structs, all-zero is a valid value for each.
    let mut iovecs: [libc::iovec; BATCH] = unsafe { zeroed() };
    let mut headers: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
    for (i, (to, data)) in chunk.iter().enumerate() {
        iovecs[i] = libc::iovec {
            iov_base: data.as_ptr() as *mut libc::c_void,
            iov_len: data.len(),
        };
        let h = &mut headers[i].msg_hdr;
        h.msg_name = to.as_ptr() as *mut libc::c_void;
        h.msg_namelen = to.len();
        h.msg_iov = &mut iovecs[i];
        h.msg_iovlen = 1;
    }
    // SAFETY: each header points at an address and a buffer borrowed from `chunk` and an
    // iovec in `iovecs`, all alive for the call; the kernel only reads them. The fd is
    // valid for the borrow.
    let n = unsafe {
        libc::sendmmsg(
            socket.as_raw_fd(),
            headers.as_mut_ptr(),
            chunk.len() as libc::c_uint,
            libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::Duration;

    #[test]
    fn a_batch_larger_than_one_call_arrives_whole_and_in_order() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut out = Outbox::default();
        for i in 0..150u32 {
            out.push(rx.local_addr().unwrap(), i.to_be_bytes().to_vec());
        }
        out.flush(&tx);
        assert!(out.queued.is_empty());
        let mut buf = [0u8; 16];
        for i in 0..150u32 {
            let (n, from) = rx.recv_from(&mut buf).unwrap();
            assert_eq!(from, tx.local_addr().unwrap());
            assert_eq!(&buf[..n], &i.to_be_bytes());
        }
        assert_eq!(out.take_dropped(), 0);
    }

    #[test]
    fn a_datagram_the_kernel_refuses_is_dropped_and_the_rest_still_go() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut out = Outbox::default();
        out.push(rx.local_addr().unwrap(), vec![1]);
        // Too big for UDP: EMSGSIZE for this one only.
        out.push(rx.local_addr().unwrap(), vec![0; 70_000]);
        out.push(rx.local_addr().unwrap(), vec![3]);
        out.flush(&tx);
        let mut buf = [0u8; 16];
        let got: Vec<u8> = (0..2)
            .map(|_| {
                let (n, _) = rx.recv_from(&mut buf).unwrap();
                assert_eq!(n, 1);
                buf[0]
            })
            .collect();
        assert_eq!(got, [1, 3]);
        assert_eq!(out.take_dropped(), 1);
    }
}
