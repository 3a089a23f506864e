//! Agents for the ACD tests: added through the real CLI, signed in through the real API.

use super::Hotline;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Adds an agent with `hotline agents add` (password `correct horse battery`); `sip_user`
/// names their desk phone, `None` makes a browser agent.
pub fn add_agent(server: &Hotline, login: &str, sip_user: Option<&str>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["agents", "add", "--tenant", "default", "--login", login])
        .args(["--name", &format!("Agent {login}"), "--skills", "lang:en=5"])
        .args(sip_user.map(|u| ["--sip-user", u]).into_iter().flatten())
        .arg("--config")
        .arg(&server.config)
        .arg("--data-dir")
        .arg(&server.data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run hotline agents add");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse battery\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "hotline agents add failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// POST JSON over a plain TCP connection; (status, body).
pub fn http_post(addr: SocketAddr, path: &str, body: &Value) -> (u16, Value) {
    let body = body.to_string();
    let mut s = TcpStream::connect(addr).expect("connect HTTP");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp[9..12].parse().unwrap_or(0);
    let json = resp
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, json)
}
