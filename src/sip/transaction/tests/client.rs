//! Client transactions (RFC 3261 §17.1, RFC 6026) and reliable transports.

use super::*;

// ---- client transactions ---------------------------------------------------------------

#[test]
fn client_invite_timer_a_then_timer_b_timeout() {
    let mut sim = Sim::new();
    let inv = Req::new("INVITE", "z9hG4bKout1");
    let id = sim.layer.send_request(sim.now, inv.request(), udp());
    let first = sim.transmits();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].to, udp());
    assert_eq!(
        first_line(&first[0]),
        "INVITE sip:400@hotline.example SIP/2.0"
    );
    let sent = sim.run_until(ms(40_000));
    // Timer A doubles without a cap until Timer B at 64*T1.
    assert_eq!(times(&sent), [500, 1_500, 3_500, 7_500, 15_500, 31_500]);
    assert_eq!(
        sim.events(),
        [TxEvent::Timeout { id }, TxEvent::ClientTerminated { id }]
    );
    assert_eq!(sim.elapsed(), T1 * 64);
    assert_eq!(sim.layer.client_count(), 0);
}

#[test]
fn client_invite_provisional_stops_retransmission_and_timer_b() {
    let mut sim = Sim::new();
    let inv = Req::new("INVITE", "z9hG4bKout2");
    let id = sim.layer.send_request(sim.now, inv.request(), udp());
    sim.transmits();
    assert_eq!(times(&sim.wait(ms(700))), [500], "one retransmission at T1");
    sim.recv_text(&response_text(&inv, 180, "Ringing", Some("b1")), udp());
    assert!(
        matches!(sim.events().as_slice(), [TxEvent::Response { id: i, resp }] if *i == id && resp.status == 180)
    );
    assert_eq!(sim.layer.poll_timeout(), None, "Proceeding runs no timer");

    sim.recv_text(&response_text(&inv, 200, "OK", Some("b1")), udp());
    sim.recv_text(&response_text(&inv, 200, "OK", Some("b1")), udp());
    let evs = sim.events();
    assert_eq!(evs.len(), 2, "every 2xx goes up so the TU ACKs each");
    assert!(sim.transmits().is_empty(), "the layer never ACKs a 2xx");
    sim.run_until(ms(60_000));
    assert_eq!(sim.events(), [TxEvent::ClientTerminated { id }]);
    assert_eq!(sim.elapsed(), ms(700) + T1 * 64, "Timer M");
}

#[test]
fn client_invite_non_2xx_final_generates_ack() {
    let mut sim = Sim::new();
    let inv = Req::new("INVITE", "z9hG4bKout3").cseq(7, "INVITE");
    let id = sim.layer.send_request(sim.now, inv.request(), udp());
    sim.transmits();
    sim.recv_text(&response_text(&inv, 486, "Busy Here", Some("busy1")), udp());
    assert!(
        matches!(sim.events().as_slice(), [TxEvent::Response { resp, .. }] if resp.status == 486)
    );
    let out = sim.transmits();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].to, udp());
    let ack = match parse_datagram(out[0].data.clone()).expect("ACK parses") {
        Message::Request(r) => r,
        Message::Response(_) => panic!("ACK expected"),
    };
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(&ack.uri[..], b"sip:400@hotline.example");
    assert_eq!(ack.headers.cseq().expect("CSeq").seq, 7);
    assert_eq!(ack.headers.cseq().expect("CSeq").method, Method::Ack);
    assert_eq!(
        ack.headers
            .top_via()
            .expect("Via")
            .branch()
            .map(|b| b.to_vec()),
        Some(b"z9hG4bKout3".to_vec())
    );
    assert_eq!(ack.headers.count(&HeaderName::Via), 1);
    assert_eq!(
        ack.headers.to_addr().expect("To").tag().map(|t| t.to_vec()),
        Some(b"busy1".to_vec())
    );
    assert_eq!(
        &ack.headers.call_id().expect("Call-ID")[..],
        b"call-1@carrier.example"
    );

    // A retransmitted 486 is absorbed and re-ACKed.
    sim.recv_text(&response_text(&inv, 486, "Busy Here", Some("busy1")), udp());
    assert!(sim.events().is_empty());
    let again = sim.transmits();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].data, out[0].data);

    sim.run_until(ms(60_000));
    assert_eq!(sim.events(), [TxEvent::ClientTerminated { id }]);
    assert_eq!(sim.elapsed(), ms(32_000), "Timer D");
}

#[test]
fn client_non_invite_timer_e_doubles_to_t2_then_f() {
    let mut sim = Sim::new();
    let id = sim
        .layer
        .send_request(sim.now, Req::new("OPTIONS", "z9hG4bKout4").request(), udp());
    sim.transmits();
    let sent = sim.run_until(ms(40_000));
    let mut expected = vec![500, 1_500, 3_500, 7_500];
    expected.extend((1..).map(|k| 7_500 + 4_000 * k).take_while(|t| *t < 32_000));
    assert_eq!(times(&sent), expected);
    assert_eq!(
        sim.events(),
        [TxEvent::Timeout { id }, TxEvent::ClientTerminated { id }]
    );
    assert_eq!(sim.elapsed(), T1 * 64, "Timer F");
}

#[test]
fn client_non_invite_e_goes_to_t2_after_provisional() {
    let mut sim = Sim::new();
    let bye = Req::new("BYE", "z9hG4bKout5");
    let id = sim.layer.send_request(sim.now, bye.request(), udp());
    sim.transmits();
    assert_eq!(times(&sim.run_until(ms(600))), [500]);
    sim.wait(ms(600) - sim.elapsed());
    sim.recv_text(&response_text(&bye, 100, "Trying", None), udp());
    assert!(
        matches!(sim.events().as_slice(), [TxEvent::Response { resp, .. }] if resp.status == 100)
    );
    // E was armed for 1.5 s; after it fires in Proceeding the interval is T2.
    assert_eq!(times(&sim.run_until(ms(10_000))), [1_500, 5_500, 9_500]);

    sim.wait(ms(10_000) - sim.elapsed());
    sim.recv_text(&response_text(&bye, 200, "OK", Some("t")), udp());
    assert!(
        matches!(sim.events().as_slice(), [TxEvent::Response { resp, .. }] if resp.status == 200)
    );
    sim.recv_text(&response_text(&bye, 200, "OK", Some("t")), udp());
    assert!(sim.events().is_empty(), "retransmitted final absorbed");
    let sent = sim.run_until(ms(60_000));
    assert!(sent.is_empty());
    assert_eq!(sim.events(), [TxEvent::ClientTerminated { id }]);
    assert_eq!(sim.elapsed(), ms(10_000) + T4, "Timer K = T4");
}

#[test]
fn cancel_shares_branch_but_not_transaction() {
    let mut sim = Sim::new();
    let inv = Req::new("INVITE", "z9hG4bKout6");
    let invite_req = inv.request();
    let inv_id = sim.layer.send_request(sim.now, invite_req.clone(), udp());
    let cancel_req = build_cancel(&invite_req);
    assert_eq!(cancel_req.method, Method::Cancel);
    assert_eq!(cancel_req.headers.cseq().expect("CSeq").seq, 1);
    assert_eq!(
        cancel_req.headers.cseq().expect("CSeq").method,
        Method::Cancel
    );
    let cancel_id = sim.layer.send_request(sim.now, cancel_req, udp());
    sim.transmits();
    let cancel = Req::new("CANCEL", "z9hG4bKout6");
    sim.recv_text(&response_text(&cancel, 200, "OK", Some("c")), udp());
    sim.recv_text(
        &response_text(&inv, 487, "Request Terminated", Some("c")),
        udp(),
    );
    let evs = sim.events();
    assert!(
        matches!(&evs[0], TxEvent::Response { id, resp } if *id == cancel_id && resp.status == 200)
    );
    assert!(
        matches!(&evs[1], TxEvent::Response { id, resp } if *id == inv_id && resp.status == 487)
    );
}

#[test]
fn stray_response_is_dropped() {
    let mut sim = Sim::new();
    let ghost = Req::new("INVITE", "z9hG4bKghost");
    sim.recv_text(&response_text(&ghost, 200, "OK", Some("x")), udp());
    assert!(sim.events().is_empty());
    assert!(sim.transmits().is_empty());
    // A response for the right branch but another method does not match either (§17.1.3).
    let _ = sim.layer.send_request(sim.now, ghost.request(), udp());
    sim.transmits();
    let wrong = Req::new("INVITE", "z9hG4bKghost").cseq(1, "BYE");
    sim.recv_text(&response_text(&wrong, 200, "OK", Some("x")), udp());
    assert!(sim.events().is_empty());
}

// ---- reliable transport ----------------------------------------------------------------

#[test]
fn tcp_has_no_retransmissions() {
    let mut sim = Sim::new();
    // Server INVITE: the 2xx is not retransmitted; Timer L still reports the missing ACK.
    let (id, req) = sim.incoming(&Req::new("INVITE", "z9hG4bKtcp1"), tcp());
    sim.respond(id, answer(&req, 200));
    let out = sim.transmits();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].to,
        tcp(),
        "responses go back on the request's connection"
    );
    // Server non-INVITE: Timer J is zero.
    let (oid, oreq) = sim.incoming(&Req::new("OPTIONS", "z9hG4bKtcp2"), tcp());
    sim.respond(oid, answer(&oreq, 200));
    assert_eq!(sim.events(), [TxEvent::ServerTerminated { id: oid }]);
    // Server INVITE with a non-2xx: no Timer G; the ACK ends it at once (Timer I is zero).
    let (nid, nreq) = sim.incoming(
        &Req::new("INVITE", "z9hG4bKtcp3").call_id("c3".into()),
        tcp(),
    );
    sim.respond(nid, answer(&nreq, 486));
    let ack = Req::new("ACK", "z9hG4bKtcp3")
        .call_id("c3".into())
        .cseq(1, "ACK")
        .with_to_tag("uas1");
    sim.recv(ack.message(), tcp());
    assert_eq!(sim.events(), [TxEvent::ServerTerminated { id: nid }]);
    // Client INVITE: no Timer A.
    let cinv = Req::new("INVITE", "z9hG4bKtcp4");
    let cid = sim.layer.send_request(sim.now, cinv.request(), tcp());
    // Client non-INVITE: no Timer E, Timer K zero.
    let bye = Req::new("BYE", "z9hG4bKtcp5");
    let bid = sim.layer.send_request(sim.now, bye.request(), tcp());
    sim.transmits();
    sim.recv_text(&response_text(&bye, 200, "OK", Some("t")), tcp());
    assert!(matches!(sim.events().as_slice(),
        [TxEvent::Response { id, .. }, TxEvent::ClientTerminated { id: t }] if *id == bid && *t == bid));

    let sent = sim.run_until(ms(40_000));
    assert!(
        sent.is_empty(),
        "nothing is retransmitted over TCP: {sent:?}"
    );
    let evs = sim.events();
    assert!(evs.contains(&TxEvent::AckTimeout { id }));
    assert!(evs.contains(&TxEvent::Timeout { id: cid }));
    assert_eq!(sim.layer.server_count() + sim.layer.client_count(), 0);
}

#[test]
fn tcp_client_invite_non_2xx_ends_at_once() {
    let mut sim = Sim::new();
    let inv = Req::new("INVITE", "z9hG4bKtcp6");
    let id = sim.layer.send_request(sim.now, inv.request(), tcp());
    sim.transmits();
    sim.recv_text(&response_text(&inv, 404, "Not Found", Some("nf")), tcp());
    assert_eq!(sim.transmits().len(), 1, "the ACK");
    let evs = sim.events();
    assert_eq!(
        evs.last(),
        Some(&TxEvent::ClientTerminated { id }),
        "Timer D is zero"
    );
}
