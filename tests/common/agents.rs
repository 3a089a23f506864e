//! Agents for the ACD tests: added through the real CLI, signed in through the real API.

use super::Hotline;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tungstenite::client::IntoClientRequest;

/// Adds an agent with `hotline agents add` (password `correct horse battery`); `sip_user`
/// names their desk phone, `None` makes a browser agent.
pub fn add_agent(server: &Hotline, login: &str, sip_user: Option<&str>) {
    add_agent_with_skills(server, login, sip_user, "lang:en=5");
}

/// As [`add_agent`], with `skills` such as `lang:zh=3,dialect:sichuan=4`.
pub fn add_agent_with_skills(server: &Hotline, login: &str, sip_user: Option<&str>, skills: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["agents", "add", "--tenant", "default", "--login", login])
        .args(["--name", &format!("Agent {login}"), "--skills", skills])
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

type Ws = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;

/// An agent's live channel, as the softphone page holds it: signed in over HTTP, then
/// the WebSocket with the token. Events read are kept in `seen`.
pub struct AgentWs {
    ws: Ws,
    pub seen: Vec<Value>,
    pub token: String,
}

impl AgentWs {
    /// Signs `login` in (password of [`add_agent`]) and opens `/api/v1/agent/ws`.
    pub fn sign_in(server: &Hotline, login: &str) -> AgentWs {
        let (status, body) = http_post(
            server.http,
            "/api/v1/agent/login",
            &serde_json::json!({"tenant": "default", "login": login, "password": "correct horse battery"}),
        );
        assert_eq!(status, 200, "sign-in of {login}: {body}");
        let token = body["token"].as_str().unwrap_or_default().to_string();
        let mut req = format!("ws://{}/api/v1/agent/ws", server.http)
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("Authorization", format!("Bearer {token}").parse().unwrap());
        let (ws, _) = tungstenite::connect(req).expect("open the agent WebSocket");
        if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
        }
        AgentWs {
            ws,
            seen: Vec::new(),
            token,
        }
    }

    pub fn send(&mut self, v: Value) {
        self.ws
            .send(tungstenite::Message::Text(v.to_string().into()))
            .expect("send on the agent WebSocket");
    }

    /// Sets the agent available and waits until the server says so.
    pub fn go_available(&mut self) {
        self.send(serde_json::json!({"type": "set_state", "state": "available"}));
        self.wait_for("state", Duration::from_secs(5), |v| {
            v["state"] == "available"
        });
    }

    /// The next event of `kind` matching `pred` (bounded); panics with all seen otherwise.
    pub fn wait_for(&mut self, kind: &str, wait: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        match self.poll_for(kind, wait, pred) {
            Some(v) => v,
            None => panic!(
                "no {kind} event within {wait:?}; events so far: {:?}",
                self.seen
            ),
        }
    }

    /// As [`AgentWs::wait_for`], `None` when it does not come in time.
    pub fn poll_for(
        &mut self,
        kind: &str,
        wait: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            match self.ws.read() {
                Ok(tungstenite::Message::Text(t)) => {
                    let v: Value = serde_json::from_str(t.as_str()).expect("events are JSON");
                    self.seen.push(v.clone());
                    if v["type"] == kind && pred(&v) {
                        return Some(v);
                    }
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!(
                    "agent WebSocket failed: {e}; events so far: {:?}",
                    self.seen
                ),
            }
        }
        None
    }
}

/// Waits (bounded) until the first SIP profile has a registered phone.
pub fn wait_registered(server: &Hotline) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok((200, body)) = super::http_get(server.http, "/api/v1/health") {
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            if v["profiles"][0]["registrations"].as_u64().unwrap_or(0) > 0 {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "the agent's phone did not register; log:\n{}",
        server.log_tail(40)
    );
}
