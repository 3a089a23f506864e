//! The WebRTC gateway over real loopback UDP with a str0m client playing the browser:
//! ICE + DTLS complete, a tone the client sends arrives at the call side as 20 ms frames,
//! frames from the call side arrive at the client, two clients share the one socket, and a
//! bad offer is refused with a reason.

mod common;

use common::webrtc_client::Client;
use hotline::media::bridge::{BridgeEnd, FRAME, bridge_pair};
use hotline::webrtc::{self, GatewayEvent};
use std::time::Duration;
use str0m::format::Codec;

/// Median over 50 ms blocks of the share of `freq` in each block's power: insensitive to
/// the phase jumps a dropped or skipped 20 ms frame makes in a long tone.
fn tone_share(samples: &[i16], freq: f64) -> f64 {
    let mut shares: Vec<f64> = samples
        .chunks_exact(400)
        .map(|b| block_share(b, freq))
        .collect();
    if shares.is_empty() {
        return 0.0;
    }
    shares.sort_by(f64::total_cmp);
    shares[shares.len() / 2]
}

/// Power of `freq` in `samples` relative to their total power (Goertzel), 0..1.
fn block_share(samples: &[i16], freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    let total: f64 = samples.iter().map(|&x| f64::from(x).powi(2)).sum();
    if total == 0.0 {
        0.0
    } else {
        2.0 * power / (total * samples.len() as f64)
    }
}

fn rms(s: &[i16]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
}

/// The call side: plays a 440 Hz tone into the bridge and keeps what comes out.
fn call_side(mut end: BridgeEnd, secs: u64) -> std::thread::JoinHandle<Vec<i16>> {
    std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut n = 0u64;
        for _ in 0..secs * 50 {
            let mut f = [0i16; FRAME];
            for s in f.iter_mut() {
                *s = (6000.0 * (2.0 * std::f64::consts::PI * 440.0 * n as f64 / 8000.0).sin())
                    as i16;
                n += 1;
            }
            end.send(&f);
            while let Some(f) = end.recv() {
                got.extend_from_slice(&f);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        got
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_like_peer_connects_and_audio_flows_both_ways() {
    let (gw, mut events) = webrtc::start("127.0.0.1:0".parse().unwrap(), None, 3).unwrap();
    let mut clients = Vec::new();
    let mut sides = Vec::new();
    // A browser offering Opus first still gets G.711 (no transcoding); one taking only
    // Opus gets Opus, transcoded.
    let offers = [
        (vec![Codec::Opus, Codec::PCMA, Codec::PCMU], Codec::PCMA),
        (vec![Codec::PCMU], Codec::PCMU),
        (vec![Codec::Opus], Codec::Opus),
    ];
    let n = offers.len();
    for (codecs, expect) in offers {
        let (mut client, offer) = Client::offer(&codecs);
        let (ours, theirs) = bridge_pair();
        let (peer, answer) = gw
            .accept_offer(offer, theirs)
            .await
            .expect("offer accepted");
        assert!(answer.contains("a=ice-lite"), "{answer}");
        if expect == Codec::Opus {
            // The call behind is 8 kHz: the browser is asked for narrowband Opus.
            assert!(answer.contains("maxplaybackrate=8000"), "{answer}");
        }
        assert!(answer.contains(&format!("{}", gw.local.port())), "{answer}");
        client.accept_answer(&answer);
        sides.push(call_side(ours, 4));
        clients.push((
            peer,
            expect,
            std::thread::spawn(move || {
                client.run(Duration::from_secs(4), 1000.0);
                client
            }),
        ));
    }
    let mut connected = Vec::new();
    while connected.len() < n {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
            Ok(Some(GatewayEvent::Connected { peer, setup })) => {
                assert!(setup < Duration::from_secs(2), "setup took {setup:?}");
                connected.push(peer);
            }
            other => panic!("expected {n} peers to connect, got {other:?}"),
        }
    }
    for ((peer, expect, client), side) in clients.into_iter().zip(sides) {
        let client = client.join().unwrap();
        assert_eq!(client.codec(), Some(expect), "the codec the answer chose");
        let heard_by_call = side.join().unwrap();
        assert!(connected.contains(&peer));
        // The call side heard the client's 1 kHz tone, not the 440 Hz it sent itself.
        let tail = &heard_by_call[heard_by_call.len().saturating_sub(8000)..];
        assert!(rms(tail) > 3000.0, "call side level {}", rms(tail));
        assert!(
            tone_share(tail, 1000.0) > 0.8,
            "1 kHz share {}",
            tone_share(tail, 1000.0)
        );
        // The client heard the call side's 440 Hz.
        let tail = &client.received[client.received.len().saturating_sub(8000)..];
        assert!(client.packets_in > 100, "{} packets", client.packets_in);
        assert!(
            tone_share(tail, 440.0) > 0.8,
            "440 Hz share {}",
            tone_share(tail, 440.0)
        );
        gw.close(peer);
    }
    let mut closed = 0;
    while closed < n {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
            Ok(Some(GatewayEvent::Closed { .. })) => closed += 1,
            other => panic!("expected the peers to close, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_bad_offer_is_refused_with_a_reason() {
    let (gw, _events) = webrtc::start("127.0.0.1:0".parse().unwrap(), None, 3).unwrap();
    let (_a, b) = bridge_pair();
    let err = gw
        .accept_offer("this is not sdp".into(), b)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("createOffer"), "{err}");
    // Audio only in a codec we do not take (G.722).
    let (_a, b) = bridge_pair();
    let (_client, offer) = Client::offer(&[Codec::G722]);
    let err = gw.accept_offer(offer, b).await.unwrap_err();
    assert!(err.to_string().contains("PCMA, PCMU or Opus"), "{err}");
}
