//! Server transactions: INVITE (RFC 3261 §17.2.1, RFC 6026), non-INVITE (§17.2.2),
//! CANCEL matching (§9.2) and RFC 2543 matching (§17.2.3).

use super::*;

// ---- INVITE server transaction ---------------------------------------------------------

#[test]
fn invite_100_200_ack_completes_without_retransmission() {
    let mut sim = Sim::new();
    let inv = Req::new("INVITE", "z9hG4bKinv1");
    let (id, req) = sim.incoming(&inv, udp());
    sim.respond(id, answer(&req, 100));
    sim.respond(id, answer(&req, 200));
    let out = sim.transmits();
    assert_eq!(
        out.iter().map(first_line).collect::<Vec<_>>(),
        ["SIP/2.0 100 Test", "SIP/2.0 200 Test"]
    );
    assert!(out.iter().all(|t| t.to == udp()));

    sim.wait(ms(100));
    // The ACK for a 2xx has its own branch and the 2xx's To tag.
    let ack = Req::new("ACK", "z9hG4bKack1")
        .cseq(1, "ACK")
        .with_to_tag("uas1");
    sim.recv(ack.message(), udp());
    match sim.events().as_slice() {
        [TxEvent::Ack { invite, from, req }] => {
            assert_eq!(*invite, Some(id));
            assert_eq!(*from, udp());
            assert_eq!(req.method, Method::Ack);
        }
        other => panic!("expected Ack, got {other:?}"),
    }
    // No 2xx retransmission after the ACK; the transaction ends at 64*T1 without AckTimeout.
    let sent = sim.run_until(ms(40_000));
    assert!(sent.is_empty(), "retransmitted after ACK: {sent:?}");
    assert_eq!(sim.events(), [TxEvent::ServerTerminated { id }]);
    assert_eq!(sim.elapsed(), T1 * 64);
    assert_eq!(sim.layer.server_count(), 0);
    assert_eq!(sim.layer.poll_timeout(), None);
}

#[test]
fn lost_ack_retransmits_2xx_then_ack_timeout() {
    let mut sim = Sim::new();
    let (id, req) = sim.incoming(&Req::new("INVITE", "z9hG4bKinv2"), udp());
    sim.respond(id, answer(&req, 200));
    assert_eq!(sim.transmits().len(), 1);
    let sent = sim.run_until(ms(40_000));
    // T1, then doubling up to T2: 0.5, 1.5, 3.5, 7.5, then every 4 s until 64*T1.
    assert_eq!(
        times(&sent),
        [
            500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
    );
    assert!(sent.iter().all(|(_, l)| l == "SIP/2.0 200 Test"));
    assert_eq!(
        sim.events(),
        [TxEvent::AckTimeout { id }, TxEvent::ServerTerminated { id }]
    );
    assert_eq!(sim.elapsed(), ms(32_000));
    assert_eq!(sim.layer.server_count(), 0);
}

#[test]
fn lost_200_is_resent_on_invite_retransmission() {
    let mut sim = Sim::new();
    let inv = Req::new("INVITE", "z9hG4bKinv3");
    let (id, req) = sim.incoming(&inv, udp());
    sim.respond(id, answer(&req, 200));
    let first = sim.transmits();
    sim.wait(ms(200));
    sim.recv(inv.message(), udp());
    let again = sim.transmits();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].data, first[0].data);
    assert!(
        sim.events().is_empty(),
        "a retransmission is not a new request"
    );
}

#[test]
fn invite_retransmission_in_proceeding_resends_last_provisional() {
    let mut sim = Sim::new();
    let inv = Req::new("INVITE", "z9hG4bKinv4");
    let (id, req) = sim.incoming(&inv, udp());
    // Before any response a retransmission is absorbed silently.
    sim.recv(inv.message(), udp());
    assert!(sim.transmits().is_empty());
    assert!(sim.events().is_empty());

    sim.respond(id, answer(&req, 100));
    sim.respond(id, answer(&req, 180));
    sim.transmits();
    sim.recv(inv.message(), udp());
    let out = sim.transmits();
    assert_eq!(
        out.iter().map(first_line).collect::<Vec<_>>(),
        ["SIP/2.0 180 Test"]
    );
    assert!(sim.events().is_empty());
    assert_eq!(
        sim.layer.poll_timeout(),
        None,
        "no timer runs in Proceeding"
    );
}

#[test]
fn non_2xx_final_g_then_ack_absorbed_then_timer_i() {
    let mut sim = Sim::new();
    let inv = Req::new("INVITE", "z9hG4bKinv5");
    let (id, req) = sim.incoming(&inv, udp());
    sim.respond(id, answer(&req, 486));
    assert_eq!(first_line(&sim.transmits()[0]), "SIP/2.0 486 Test");
    let sent = sim.run_until(ms(4_000));
    assert_eq!(times(&sent), [500, 1_500, 3_500]);
    assert!(sent.iter().all(|(_, l)| l == "SIP/2.0 486 Test"));

    sim.wait(ms(4_000) - sim.elapsed());
    // The non-2xx ACK: same branch as the INVITE.
    let ack = Req::new("ACK", "z9hG4bKinv5")
        .cseq(1, "ACK")
        .with_to_tag("uas1");
    sim.recv(ack.message(), udp());
    sim.recv(ack.message(), udp());
    assert!(sim.events().is_empty(), "the non-2xx ACK is absorbed");
    assert!(sim.transmits().is_empty());
    // A late INVITE retransmission in Confirmed gets nothing.
    sim.recv(inv.message(), udp());
    assert!(sim.transmits().is_empty());

    let sent = sim.run_until(ms(40_000));
    assert!(sent.is_empty(), "Timer G stopped by the ACK: {sent:?}");
    assert_eq!(sim.events(), [TxEvent::ServerTerminated { id }]);
    assert_eq!(sim.elapsed(), ms(4_000) + T4, "Timer I = T4");
}

#[test]
fn non_2xx_final_without_ack_ends_at_timer_h() {
    let mut sim = Sim::new();
    let (id, req) = sim.incoming(&Req::new("INVITE", "z9hG4bKinv6"), udp());
    sim.respond(id, answer(&req, 603));
    sim.transmits();
    let sent = sim.run_until(ms(40_000));
    assert_eq!(
        times(&sent),
        [
            500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
    );
    assert_eq!(
        sim.events(),
        [TxEvent::ServerTerminated { id }],
        "no AckTimeout for a non-2xx"
    );
    assert_eq!(sim.elapsed(), T1 * 64);
}

#[test]
fn respond_after_final_is_refused() {
    let mut sim = Sim::new();
    let (id, req) = sim.incoming(&Req::new("INVITE", "z9hG4bKinv7"), udp());
    sim.respond(id, answer(&req, 486));
    let err = sim
        .layer
        .respond(sim.now, id, answer(&req, 200))
        .expect_err("second final");
    assert!(
        matches!(
            err,
            TxError::AlreadyFinal {
                status: 200,
                state: "Completed",
                ..
            }
        ),
        "{err}"
    );
    let err = sim
        .layer
        .respond(sim.now, id, answer(&req, 99))
        .expect_err("bad status");
    assert_eq!(err, TxError::BadStatus(99));
    let err = sim
        .layer
        .respond(sim.now, ServerTxId(9_999), answer(&req, 200))
        .expect_err("unknown");
    assert_eq!(err, TxError::UnknownServerTx(ServerTxId(9_999)));
}

#[test]
fn second_2xx_in_accepted_is_sent_and_retransmitted() {
    let mut sim = Sim::new();
    let (id, req) = sim.incoming(&Req::new("INVITE", "z9hG4bKinv8"), udp());
    sim.respond(id, answer(&req, 200));
    let mut fixed = answer(&req, 200);
    fixed.reason = Bytes::from_static(b"Fixed");
    sim.respond(id, fixed);
    assert_eq!(sim.transmits().len(), 2);
    // Timer G now retransmits the newest 2xx.
    assert_eq!(
        sim.run_until(ms(500)),
        [(ms(500), "SIP/2.0 200 Fixed".to_string())]
    );
    let err = sim
        .layer
        .respond(sim.now, id, answer(&req, 486))
        .expect_err("non-2xx after 2xx");
    assert!(matches!(
        err,
        TxError::AlreadyFinal {
            state: "Accepted",
            ..
        }
    ));
}

#[test]
fn sent_by_host_case_is_ignored_but_port_is_not() {
    let mut sim = Sim::new();
    let inv = Req::new("INVITE", "z9hG4bKcase");
    let (id, req) = sim.incoming(&inv, udp());
    sim.respond(id, answer(&req, 180));
    sim.transmits();
    let upper = inv
        .text()
        .replace("192.0.2.10:5060;branch", "GW.Example:5060;branch");
    let lower = inv
        .text()
        .replace("192.0.2.10:5060;branch", "gw.example:5060;branch");
    sim.recv_text(&lower, udp());
    let lower_id = match sim.events().as_slice() {
        [TxEvent::Request { id, .. }] => *id,
        other => panic!("another sent-by is another transaction, got {other:?}"),
    };
    assert_ne!(lower_id, id);
    sim.recv_text(&upper, udp());
    assert!(sim.events().is_empty(), "host compared case-insensitively");
    let other_port = inv
        .text()
        .replace("192.0.2.10:5060;branch", "192.0.2.10:5070;branch");
    sim.recv_text(&other_port, udp());
    assert!(matches!(sim.events().as_slice(), [TxEvent::Request { .. }]));
}

#[test]
fn ack_retransmission_in_accepted_reaches_the_tu_each_time() {
    let mut sim = Sim::new();
    let (id, req) = sim.incoming(&Req::new("INVITE", "z9hG4bKinv9"), udp());
    sim.respond(id, answer(&req, 200));
    let ack = Req::new("ACK", "z9hG4bKack9")
        .cseq(1, "ACK")
        .with_to_tag("uas1");
    sim.recv(ack.message(), udp());
    sim.recv(ack.message(), udp());
    let acks = sim.events();
    assert_eq!(acks.len(), 2);
    assert!(
        acks.iter()
            .all(|e| matches!(e, TxEvent::Ack { invite: Some(i), .. } if *i == id))
    );
}

#[test]
fn stray_ack_is_passed_up_without_invite() {
    let mut sim = Sim::new();
    let ack = Req::new("ACK", "z9hG4bKnobody")
        .cseq(5, "ACK")
        .with_to_tag("x");
    sim.recv(ack.message(), udp());
    assert!(matches!(
        sim.events().as_slice(),
        [TxEvent::Ack { invite: None, .. }]
    ));
    assert_eq!(sim.layer.server_count(), 0);
}

// ---- non-INVITE server transaction -----------------------------------------------------

#[test]
fn non_invite_trying_completed_timer_j() {
    let mut sim = Sim::new();
    let opt = Req::new("OPTIONS", "z9hG4bKopt1");
    let (id, req) = sim.incoming(&opt, udp());
    sim.recv(opt.message(), udp());
    assert!(sim.transmits().is_empty(), "Trying absorbs retransmissions");
    assert!(sim.events().is_empty());

    sim.respond(id, answer(&req, 200));
    let first = sim.transmits();
    assert_eq!(first.len(), 1);
    sim.wait(ms(1_000));
    sim.recv(opt.message(), udp());
    let again = sim.transmits();
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].data, first[0].data,
        "Completed answers with the final response"
    );
    assert!(sim.events().is_empty());

    let sent = sim.run_until(ms(60_000));
    assert!(
        sent.is_empty(),
        "a server never retransmits non-INVITE responses by itself"
    );
    assert_eq!(sim.events(), [TxEvent::ServerTerminated { id }]);
    assert_eq!(
        sim.elapsed(),
        T1 * 64,
        "Timer J = 64*T1 from the final response"
    );
}

#[test]
fn non_invite_proceeding_resends_provisional() {
    let mut sim = Sim::new();
    let reg = Req::new("REGISTER", "z9hG4bKreg1");
    let (id, req) = sim.incoming(&reg, udp());
    sim.respond(id, answer(&req, 100));
    sim.transmits();
    sim.recv(reg.message(), udp());
    assert_eq!(
        sim.transmits().iter().map(first_line).collect::<Vec<_>>(),
        ["SIP/2.0 100 Test"]
    );
}

// ---- CANCEL ----------------------------------------------------------------------------

#[test]
fn cancel_is_matched_to_its_invite() {
    let mut sim = Sim::new();
    let inv = Req::new("INVITE", "z9hG4bKinvc");
    let (inv_id, req) = sim.incoming(&inv, udp());
    sim.respond(inv_id, answer(&req, 180));
    sim.transmits();

    let cancel = Req::new("CANCEL", "z9hG4bKinvc");
    sim.recv(cancel.message(), udp());
    let (cancel_id, cancel_req) = match sim.events().as_slice() {
        [
            TxEvent::Cancel {
                id,
                invite,
                req,
                from,
            },
        ] => {
            assert_eq!(*invite, Some(inv_id));
            assert_eq!(*from, udp());
            (*id, req.clone())
        }
        other => panic!("expected Cancel, got {other:?}"),
    };
    assert_ne!(cancel_id, inv_id, "the CANCEL has its own transaction");
    sim.respond(cancel_id, answer(&cancel_req, 200));
    sim.respond(inv_id, answer(&req, 487));
    let lines: Vec<_> = sim.transmits().iter().map(first_line).collect();
    assert_eq!(lines, ["SIP/2.0 200 Test", "SIP/2.0 487 Test"]);

    // A retransmitted CANCEL is answered from its own transaction.
    sim.recv(cancel.message(), udp());
    assert_eq!(
        sim.transmits().iter().map(first_line).collect::<Vec<_>>(),
        ["SIP/2.0 200 Test"]
    );
    assert!(sim.events().is_empty());

    // The ACK for the 487 is absorbed.
    let ack = Req::new("ACK", "z9hG4bKinvc")
        .cseq(1, "ACK")
        .with_to_tag("uas1");
    sim.recv(ack.message(), udp());
    assert!(sim.events().is_empty());
    assert!(sim.transmits().is_empty());
}

#[test]
fn cancel_after_final_response_has_no_invite() {
    let mut sim = Sim::new();
    let (inv_id, req) = sim.incoming(&Req::new("INVITE", "z9hG4bKinvd"), udp());
    sim.respond(inv_id, answer(&req, 200));
    sim.recv(Req::new("CANCEL", "z9hG4bKinvd").message(), udp());
    assert!(matches!(
        sim.events().as_slice(),
        [TxEvent::Cancel { invite: None, .. }]
    ));
}

// ---- RFC 2543 matching -----------------------------------------------------------------

/// RFC 4475 §3.4.1 `inv2543` (no branch cookie; From without a tag), body dropped.
const INV2543: &str = "INVITE sip:UserB@example.com SIP/2.0\r\n\
    Via: SIP/2.0/UDP iftgw.example.com\r\n\
    From: <sip:+13035551111@ift.client.example.net;user=phone>\r\n\
    Record-Route: <sip:UserB@example.com;maddr=ss1.example.com>\r\n\
    To: sip:+16505552222@ss1.example.net;user=phone\r\n\
    Call-ID: inv2543.1717@ift.client.example.com\r\n\
    CSeq: 56 INVITE\r\n\
    Content-Length: 0\r\n\r\n";

const ACK2543: &str = "ACK sip:UserB@example.com SIP/2.0\r\n\
    Via: SIP/2.0/UDP iftgw.example.com\r\n\
    From: <sip:+13035551111@ift.client.example.net;user=phone>\r\n\
    To: sip:+16505552222@ss1.example.net;user=phone;tag=uas1\r\n\
    Call-ID: inv2543.1717@ift.client.example.com\r\n\
    CSeq: 56 ACK\r\n\
    Content-Length: 0\r\n\r\n";

#[test]
fn rfc2543_invite_retransmission_and_ack_match() {
    let mut sim = Sim::new();
    sim.recv_text(INV2543, udp());
    let (id, req) = match sim.events().as_slice() {
        [TxEvent::Request { id, req, .. }] => (*id, req.clone()),
        other => panic!("expected Request, got {other:?}"),
    };
    sim.respond(id, answer(&req, 100));
    sim.transmits();
    sim.recv_text(INV2543, udp());
    assert!(
        sim.events().is_empty(),
        "retransmission matched without a branch"
    );
    assert_eq!(
        sim.transmits().iter().map(first_line).collect::<Vec<_>>(),
        ["SIP/2.0 100 Test"]
    );

    // Another CSeq is another transaction.
    sim.recv_text(&INV2543.replace("CSeq: 56", "CSeq: 57"), udp());
    assert!(
        matches!(sim.events().as_slice(), [TxEvent::Request { id: other, .. }] if *other != id)
    );

    sim.respond(id, answer(&req, 486));
    sim.transmits();
    // An ACK whose To tag is not the response's does not match: it goes up as stray.
    sim.recv_text(&ACK2543.replace("tag=uas1", "tag=other"), udp());
    assert!(matches!(
        sim.events().as_slice(),
        [TxEvent::Ack { invite: None, .. }]
    ));
    // The right ACK is absorbed and stops Timer G.
    sim.recv_text(ACK2543, udp());
    assert!(sim.events().is_empty());
    let sent = sim.run_until(ms(40_000));
    assert!(sent.is_empty(), "{sent:?}");
    assert!(sim.events().contains(&TxEvent::ServerTerminated { id }));
    assert_eq!(sim.elapsed(), T4, "Timer I after the ACK");
}

#[test]
fn rfc2543_cancel_finds_its_invite() {
    let mut sim = Sim::new();
    sim.recv_text(INV2543, udp());
    let id = match sim.events().as_slice() {
        [TxEvent::Request { id, .. }] => *id,
        other => panic!("expected Request, got {other:?}"),
    };
    let cancel = INV2543
        .replacen("INVITE sip", "CANCEL sip", 1)
        .replace("56 INVITE", "56 CANCEL");
    sim.recv_text(&cancel, udp());
    assert!(
        matches!(sim.events().as_slice(), [TxEvent::Cancel { invite: Some(i), .. }] if *i == id)
    );
}
