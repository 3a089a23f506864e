//! A browser-like WebRTC client written with str0m (full ICE, not lite): it offers audio in
//! the codecs it is given, connects to Hotline's gateway over loopback UDP, sends a tone and
//! records what it receives (as 8 kHz samples). With Opus it does what a browser does:
//! 48 kHz audio in and out of libopus. Used by the gateway tests and the load benchmark.

use hotline::media::g711;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

fn g711_of(c: Codec) -> hotline::sdp::Codec {
    if c == Codec::PCMA {
        hotline::sdp::Codec::Pcma
    } else {
        hotline::sdp::Codec::Pcmu
    }
}

/// A browser's Opus: 48 kHz in and out.
struct BrowserOpus {
    enc: opus::Encoder,
    dec: opus::Decoder,
    pcm48: Vec<i16>,
    /// One second of the tone, encoded once and sent in a loop, so a load run of hundreds
    /// of clients measures Hotline rather than the clients' own encoders.
    looped: Option<(f64, Vec<Vec<u8>>)>,
}

impl BrowserOpus {
    /// `narrowband`: the answer said `maxplaybackrate=8000`, which Chrome turns into the
    /// encoder's maximum bandwidth.
    fn new(narrowband: bool) -> BrowserOpus {
        let mut enc =
            opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
        if narrowband {
            enc.set_max_bandwidth(opus::Bandwidth::Narrowband).unwrap();
        }
        BrowserOpus {
            enc,
            dec: opus::Decoder::new(48_000, opus::Channels::Mono).unwrap(),
            pcm48: vec![0; 5760],
            looped: None,
        }
    }
}

pub struct Client {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    mid: Mid,
    pending: Option<SdpPendingOffer>,
    pub connected: Option<Instant>,
    pub started: Instant,
    pt: Option<Pt>,
    codec: Option<Codec>,
    rtp_time: u64,
    /// Decoded samples received from the gateway, in order.
    pub received: Vec<i16>,
    pub packets_in: u64,
    opus: Option<BrowserOpus>,
    /// Off for load runs: count packets, skip decoding what arrives.
    pub decode: bool,
    /// For load runs: Opus packets come from one pre-encoded second of the tone.
    pub loop_opus: bool,
    /// The answer asked for narrowband Opus (RFC 7587 maxplaybackrate).
    narrowband: bool,
}

impl Client {
    /// Binds a loopback socket and makes the offer (audio, sendrecv, `codecs`).
    pub fn offer(codecs: &[Codec]) -> (Client, String) {
        str0m::crypto::from_feature_flags().install_process_default();
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind client socket");
        let local = socket.local_addr().unwrap();
        let now = Instant::now();
        let mut cfg = RtcConfig::new().clear_codecs();
        for c in codecs {
            cfg = match c {
                Codec::PCMU => cfg.enable_pcmu(true, false),
                Codec::PCMA => cfg.enable_pcma(true, false),
                Codec::Opus => cfg.enable_opus(true, false),
                Codec::G722 => cfg.enable_g722(true, false),
                _ => cfg,
            };
        }
        let mut rtc = cfg.build(now);
        rtc.add_local_candidate(Candidate::host(local, "udp").unwrap());
        let mut api = rtc.sdp_api();
        let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = api.apply().expect("an offer");
        let sdp = offer.to_sdp_string();
        (
            Client {
                rtc,
                socket,
                local,
                mid,
                pending: Some(pending),
                connected: None,
                started: now,
                pt: None,
                codec: None,
                rtp_time: 0,
                received: Vec::new(),
                packets_in: 0,
                opus: None,
                decode: true,
                loop_opus: false,
                narrowband: false,
            },
            sdp,
        )
    }

    pub fn accept_answer(&mut self, answer: &str) {
        self.narrowband = answer.contains("maxplaybackrate=8000");
        let answer = SdpAnswer::from_sdp_string(answer).expect("the gateway's answer parses");
        let pending = self.pending.take().expect("an offer is pending");
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .expect("the answer is accepted");
        self.socket
            .set_read_timeout(Some(Duration::from_millis(1)))
            .unwrap();
    }

    /// Runs for `dur`: sends `tone` (Hz, 0 for silence) every 20 ms once connected.
    pub fn run(&mut self, dur: Duration, tone: f64) {
        let end = Instant::now() + dur;
        let mut next_frame = Instant::now();
        let mut buf = vec![0u8; 2000];
        while Instant::now() < end {
            let timeout = self.drain();
            let now = Instant::now();
            if self.connected.is_some() && now >= next_frame {
                self.send_frame(now, tone);
                next_frame += Duration::from_millis(20);
                continue;
            }
            let wait = timeout.min(next_frame).saturating_duration_since(now);
            self.socket
                .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
                .unwrap();
            match self.socket.recv_from(&mut buf) {
                Ok((n, source)) => self.receive(&buf[..n], source),
                Err(_) => self
                    .rtc
                    .handle_input(Input::Timeout(Instant::now()))
                    .expect("client timeout"),
            }
        }
    }

    fn receive(&mut self, data: &[u8], source: SocketAddr) {
        let input = Input::Receive(
            Instant::now(),
            Receive {
                proto: Protocol::Udp,
                source,
                destination: self.local,
                contents: data.try_into().unwrap(),
            },
        );
        self.rtc.handle_input(input).expect("client input");
    }

    /// One 20 ms step of a client in a [`run_fleet`]: everything its socket holds, its
    /// timers, its frame.
    fn step(&mut self, now: Instant, tone: f64, buf: &mut [u8]) {
        while let Ok((n, source)) = self.socket.recv_from(buf) {
            self.receive(&buf[..n], source);
        }
        self.rtc
            .handle_input(Input::Timeout(now))
            .expect("client timeout");
        self.drain();
        if self.connected.is_some() {
            self.send_frame(now, tone);
            self.drain();
        }
    }

    fn send_frame(&mut self, now: Instant, tone: f64) {
        let (Some(pt), Some(codec)) = (self.pt, self.codec) else {
            return;
        };
        let rate = if codec == Codec::Opus { 48_000 } else { 8000 };
        let len = rate / 50;
        let pcm: Vec<i16> = (0..len)
            .map(|i| {
                let n = self.rtp_time + i;
                if tone > 0.0 {
                    (8000.0 * (2.0 * std::f64::consts::PI * tone * n as f64 / rate as f64).sin())
                        as i16
                } else {
                    0
                }
            })
            .collect();
        let (data, time) = if codec == Codec::Opus {
            let narrowband = self.narrowband;
            let o = self
                .opus
                .get_or_insert_with(|| BrowserOpus::new(narrowband));
            let data = if self.loop_opus {
                if o.looped.as_ref().is_none_or(|(t, _)| *t != tone) {
                    let packets = (0..50u64)
                        .map(|f| {
                            let pcm: Vec<i16> = (0..len)
                                .map(|i| {
                                    let n = (f * len + i) as f64;
                                    (8000.0
                                        * (2.0 * std::f64::consts::PI * tone * n / 48_000.0).sin())
                                        as i16
                                })
                                .collect();
                            o.enc.encode_vec(&pcm, 1500).expect("opus encode")
                        })
                        .collect();
                    o.looped = Some((tone, packets));
                }
                let (_, packets) = o.looped.as_ref().expect("made above");
                packets[((self.rtp_time / len) % 50) as usize].clone()
            } else {
                o.enc.encode_vec(&pcm, 1500).expect("opus encode")
            };
            (
                data,
                MediaTime::new(self.rtp_time, Frequency::FORTY_EIGHT_KHZ),
            )
        } else {
            let mut data = vec![0u8; len as usize];
            g711::encode(g711_of(codec), &pcm, &mut data);
            (data, MediaTime::new(self.rtp_time, Frequency::EIGHT_KHZ))
        };
        self.rtp_time += len;
        if let Some(w) = self.rtc.writer(self.mid) {
            w.write(pt, now, time, data).expect("client write");
        }
    }

    fn drain(&mut self) -> Instant {
        loop {
            match self.rtc.poll_output().expect("client poll") {
                Output::Timeout(t) => return t,
                Output::Transmit(t) => {
                    let _ = self.socket.send_to(&t.contents, t.destination);
                }
                Output::Event(Event::Connected) => {
                    self.connected = Some(Instant::now());
                    // As a browser does: send the first codec of the answer.
                    let answer_order: Vec<Pt> = self
                        .rtc
                        .media(self.mid)
                        .map(|m| m.remote_pts().to_vec())
                        .unwrap_or_default();
                    if let Some(w) = self.rtc.writer(self.mid) {
                        let params: Vec<(Pt, Codec)> = w
                            .payload_params()
                            .map(|p| (p.pt(), p.spec().codec))
                            .collect();
                        let first = answer_order.iter().find_map(|pt| {
                            params.iter().find(|(p, c)| {
                                p == pt && matches!(c, Codec::PCMA | Codec::PCMU | Codec::Opus)
                            })
                        });
                        self.pt = first.map(|(p, _)| *p);
                        self.codec = first.map(|(_, c)| *c);
                    }
                }
                Output::Event(Event::MediaData(d)) => {
                    self.packets_in += 1;
                    if !self.decode {
                        continue;
                    }
                    if d.params.spec().codec == Codec::Opus {
                        // Heard at 48 kHz as a browser hears it; kept at 8 kHz for the
                        // tests' analysis (Opus from an 8 kHz source has nothing above 4 kHz).
                        let narrowband = self.narrowband;
                        let o = self
                            .opus
                            .get_or_insert_with(|| BrowserOpus::new(narrowband));
                        let n = o
                            .dec
                            .decode(&d.data, &mut o.pcm48, false)
                            .expect("opus decode");
                        self.received.extend(o.pcm48[..n].iter().step_by(6));
                    } else {
                        let mut pcm = vec![0i16; d.data.len()];
                        let n = g711::decode(g711_of(d.params.spec().codec), &d.data, &mut pcm);
                        self.received.extend(&pcm[..n]);
                    }
                }
                Output::Event(_) => {}
            }
        }
    }

    pub fn codec(&self) -> Option<Codec> {
        self.codec
    }
}

/// Runs many connected clients on this one thread until `stop`, as a load generator does:
/// every 20 ms each client reads what its (non-blocking) socket holds, serves its timers and
/// sends its frame. Clients join through `join` at any time. With a thread per client
/// sleeping on its socket, every datagram the gateway sends over loopback wakes a thread,
/// and the kernel charges that wake-up (and the preemption it causes) to the gateway's
/// send; browsers on other machines cost it nothing of the kind. Returns the clients.
pub fn run_fleet(join: mpsc::Receiver<Client>, stop: &AtomicBool, tone: f64) -> Vec<Client> {
    const TICK: Duration = Duration::from_millis(20);
    let mut clients: Vec<Client> = Vec::new();
    let mut buf = vec![0u8; 2000];
    let mut next = Instant::now();
    let (mut passes, mut late, mut busy) = (0u64, 0u64, Duration::ZERO);
    while !stop.load(Ordering::Relaxed) {
        while let Ok(c) = join.try_recv() {
            c.socket.set_nonblocking(true).expect("non-blocking socket");
            clients.push(c);
        }
        let now = Instant::now();
        for c in &mut clients {
            c.step(now, tone, &mut buf);
        }
        passes += 1;
        next += TICK;
        let after = Instant::now();
        busy += after - now;
        if next > after {
            std::thread::sleep(next - after);
        } else {
            late += 1;
            next = after; // behind: carry on without a burst of catch-up ticks
        }
    }
    eprintln!(
        "fleet of {} clients: {passes} passes of 20 ms, {late} late, {:.1} ms busy per pass",
        clients.len(),
        busy.as_secs_f64() * 1000.0 / passes.max(1) as f64
    );
    clients
}
