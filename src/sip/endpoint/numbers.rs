//! Phone numbers in URIs: the user part, and masking for logs.

use bytes::Bytes;

/// The user part of a SIP/tel URI (the phone number), unescaped; the whole text otherwise.
pub fn uri_user(uri: &[u8]) -> String {
    let b = Bytes::copy_from_slice(uri);
    match crate::sip::message::Uri::parse(&b) {
        Ok(u) => match u.user {
            Some(user) => String::from_utf8_lossy(&user).into_owned(),
            None if &u.scheme[..] == b"tel" => String::from_utf8_lossy(&u.host).into_owned(),
            None => String::new(),
        },
        Err(_) => String::from_utf8_lossy(uri).into_owned(),
    }
}

/// Masks the middle digits of the user part (a phone number) of a URI for logs
/// (DESIGN.md: no full numbers at info level): `sip:13812345678@h` → `sip:138****5678@h`.
pub fn mask(uri: &[u8]) -> String {
    let s = String::from_utf8_lossy(uri);
    let (user_start, user_end) = match (s.find(':'), s.find('@')) {
        (Some(c), Some(a)) if c < a => (c + 1, a),
        _ => (0, s.find(['@', ';']).unwrap_or(s.len())),
    };
    let user = &s[user_start..user_end];
    let digits = user.chars().filter(|c| c.is_ascii_digit()).count();
    if digits < 7 {
        return s.into_owned();
    }
    let (keep_head, keep_tail) = (3, 4);
    let mut seen = 0;
    let masked: String = user
        .chars()
        .map(|c| {
            if !c.is_ascii_digit() {
                return c;
            }
            seen += 1;
            if seen > keep_head && seen <= digits - keep_tail {
                '*'
            } else {
                c
            }
        })
        .collect();
    format!("{}{}{}", &s[..user_start], masked, &s[user_end..])
}

#[cfg(test)]
mod mask_tests {
    #[test]
    fn masks_only_the_number() {
        assert_eq!(
            super::mask(b"sip:13812345678@10.0.0.1:5060"),
            "sip:138****5678@10.0.0.1:5060"
        );
        assert_eq!(super::mask(b"sip:+8613812345678@h"), "sip:+861******5678@h");
        assert_eq!(
            super::mask(b"sip:sipp@127.0.0.1:5080"),
            "sip:sipp@127.0.0.1:5080"
        );
        assert_eq!(super::mask(b"tel:4008001234"), "tel:400***1234");
    }
}
