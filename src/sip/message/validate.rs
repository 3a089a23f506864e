//! Sanity rules applied after parsing (RFC 3261 §8.2, §16.3; RFC 4475 §3.1.2, §3.3).
//! SKELETON: signatures fixed; bodies are being written.

use super::{ParseError, Request, Response};

/// Checks a request a UAS is about to process: mandatory headers present and well
/// formed (Via, From, To, Call-ID, CSeq; Max-Forwards when present), single-valued headers
/// single, CSeq method equal to the request method, scalars in range, Request-URI
/// well formed. An `Err` means answer 400 with the error as reason.
pub fn validate_request(req: &Request) -> Result<(), ParseError> {
    todo!()
}

/// Checks a response before it is matched to a client transaction; an `Err` means drop it.
pub fn validate_response(resp: &Response) -> Result<(), ParseError> {
    todo!()
}
