//! TCP: accept connections, frame messages by Content-Length, write responses back on the
//! same connection (RFC 3261 §18.2.2), close idle connections.

use super::TcpIn;
use crate::sip::message::StreamFramer;
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tracing::debug;

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let sock = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    sock.set_reuseaddr(true)?;
    sock.bind(addr)
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot bind TCP {addr}: {e}")))?;
    sock.listen(1024)
}

pub async fn accept_loop(
    listener: TcpListener,
    to_core: mpsc::Sender<TcpIn>,
    idle: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(connection(stream, peer, to_core.clone(), idle));
                }
                Err(e) => {
                    debug!(error = %e, "TCP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => if *shutdown.borrow() { return },
        }
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    to_core: mpsc::Sender<TcpIn>,
    idle: Duration,
) {
    let conn = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let Ok(local) = stream.local_addr() else {
        return;
    };
    let (mut rd, mut wr) = stream.into_split();
    let (wtx, mut wrx) = mpsc::channel::<Bytes>(256);
    if to_core
        .send(TcpIn::Open { conn, writer: wtx })
        .await
        .is_err()
    {
        return;
    }
    let writer = tokio::spawn(async move {
        while let Some(b) = wrx.recv().await {
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut framer = StreamFramer::new();
    let mut buf = vec![0u8; 16 * 1024];
    'read: loop {
        let n = match tokio::time::timeout(idle, rd.read(&mut buf)).await {
            Err(_) => {
                debug!(%peer, "closing idle TCP connection");
                break;
            }
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => n,
        };
        framer.push(&buf[..n]);
        while let Some(parsed) = framer.next_message() {
            let broken = parsed.is_err();
            if let Err(e) = &parsed {
                debug!(%peer, error = %e, "TCP stream cannot be framed; closing");
            }
            let raw = Bytes::new();
            let msg = TcpIn::Message {
                conn,
                peer,
                local,
                parsed: Box::new(parsed),
                raw,
            };
            if to_core.send(msg).await.is_err() || broken {
                break 'read;
            }
        }
    }
    let _ = to_core.send(TcpIn::Closed { conn }).await;
    // Let queued responses (e.g. the 400 for a broken message) go out before closing.
    let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
}
