//! Header names (with RFC 3261 §7.3.3 compact forms) and the ordered header list.

use bytes::Bytes;

/// Well-known header names get a variant; the rest keep their spelling as received.
/// Comparison of `Other` names is case-insensitive.
#[derive(Clone, Debug)]
pub enum HeaderName {
    Via,
    From,
    To,
    CallId,
    CSeq,
    Contact,
    MaxForwards,
    ContentLength,
    ContentType,
    ContentEncoding,
    Route,
    RecordRoute,
    Require,
    ProxyRequire,
    Supported,
    Unsupported,
    Allow,
    Accept,
    Authorization,
    ProxyAuthorization,
    WwwAuthenticate,
    ProxyAuthenticate,
    Expires,
    MinExpires,
    UserAgent,
    Server,
    Date,
    Event,
    Subject,
    Other(Bytes),
}

impl HeaderName {
    /// Maps a received name (any case, long or compact form) to its variant.
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        let known: &[(&str, HeaderName)] = &[
            ("via", HeaderName::Via),
            ("v", HeaderName::Via),
            ("from", HeaderName::From),
            ("f", HeaderName::From),
            ("to", HeaderName::To),
            ("t", HeaderName::To),
            ("call-id", HeaderName::CallId),
            ("i", HeaderName::CallId),
            ("cseq", HeaderName::CSeq),
            ("contact", HeaderName::Contact),
            ("m", HeaderName::Contact),
            ("max-forwards", HeaderName::MaxForwards),
            ("content-length", HeaderName::ContentLength),
            ("l", HeaderName::ContentLength),
            ("content-type", HeaderName::ContentType),
            ("c", HeaderName::ContentType),
            ("content-encoding", HeaderName::ContentEncoding),
            ("e", HeaderName::ContentEncoding),
            ("route", HeaderName::Route),
            ("record-route", HeaderName::RecordRoute),
            ("require", HeaderName::Require),
            ("proxy-require", HeaderName::ProxyRequire),
            ("supported", HeaderName::Supported),
            ("k", HeaderName::Supported),
            ("unsupported", HeaderName::Unsupported),
            ("allow", HeaderName::Allow),
            ("accept", HeaderName::Accept),
            ("authorization", HeaderName::Authorization),
            ("proxy-authorization", HeaderName::ProxyAuthorization),
            ("www-authenticate", HeaderName::WwwAuthenticate),
            ("proxy-authenticate", HeaderName::ProxyAuthenticate),
            ("expires", HeaderName::Expires),
            ("min-expires", HeaderName::MinExpires),
            ("user-agent", HeaderName::UserAgent),
            ("server", HeaderName::Server),
            ("date", HeaderName::Date),
            ("event", HeaderName::Event),
            ("o", HeaderName::Event),
            ("subject", HeaderName::Subject),
            ("s", HeaderName::Subject),
        ];
        for (n, h) in known {
            if name.eq_ignore_ascii_case(n.as_bytes()) {
                return h.clone();
            }
        }
        HeaderName::Other(Bytes::copy_from_slice(name))
    }

    /// The canonical long form, used when serializing.
    pub fn as_str(&self) -> &str {
        match self {
            HeaderName::Via => "Via",
            HeaderName::From => "From",
            HeaderName::To => "To",
            HeaderName::CallId => "Call-ID",
            HeaderName::CSeq => "CSeq",
            HeaderName::Contact => "Contact",
            HeaderName::MaxForwards => "Max-Forwards",
            HeaderName::ContentLength => "Content-Length",
            HeaderName::ContentType => "Content-Type",
            HeaderName::ContentEncoding => "Content-Encoding",
            HeaderName::Route => "Route",
            HeaderName::RecordRoute => "Record-Route",
            HeaderName::Require => "Require",
            HeaderName::ProxyRequire => "Proxy-Require",
            HeaderName::Supported => "Supported",
            HeaderName::Unsupported => "Unsupported",
            HeaderName::Allow => "Allow",
            HeaderName::Accept => "Accept",
            HeaderName::Authorization => "Authorization",
            HeaderName::ProxyAuthorization => "Proxy-Authorization",
            HeaderName::WwwAuthenticate => "WWW-Authenticate",
            HeaderName::ProxyAuthenticate => "Proxy-Authenticate",
            HeaderName::Expires => "Expires",
            HeaderName::MinExpires => "Min-Expires",
            HeaderName::UserAgent => "User-Agent",
            HeaderName::Server => "Server",
            HeaderName::Date => "Date",
            HeaderName::Event => "Event",
            HeaderName::Subject => "Subject",
            // Names we do not know are written back as received (already valid tokens).
            HeaderName::Other(b) => std::str::from_utf8(b).unwrap_or("X-Invalid"),
        }
    }
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (HeaderName::Other(a), HeaderName::Other(b)) => a.eq_ignore_ascii_case(b),
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}
impl Eq for HeaderName {}

/// One header field line as received (or as built): name and raw value, without
/// the trailing CRLF and with any folding already replaced by a single space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    pub value: Bytes,
}

/// The headers of a message in wire order. Repeated names stay as separate entries;
/// comma-separated lists are split by the typed accessors (see `typed.rs`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<Header>,
}

impl Headers {
    pub fn new() -> Headers {
        Headers::default()
    }
    pub fn with_capacity(n: usize) -> Headers {
        Headers { entries: Vec::with_capacity(n) }
    }
    pub fn push(&mut self, name: HeaderName, value: impl Into<Bytes>) {
        self.entries.push(Header { name, value: value.into() });
    }
    /// Puts a header first (e.g. a new top Via).
    pub fn push_front(&mut self, name: HeaderName, value: impl Into<Bytes>) {
        self.entries.insert(0, Header { name, value: value.into() });
    }
    /// Value of the first header with this name.
    pub fn get(&self, name: &HeaderName) -> Option<&Bytes> {
        self.entries.iter().find(|h| &h.name == name).map(|h| &h.value)
    }
    /// Values of every header line with this name, in order.
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a Bytes> + 'a {
        self.entries.iter().filter(move |h| &h.name == name).map(|h| &h.value)
    }
    pub fn count(&self, name: &HeaderName) -> usize {
        self.entries.iter().filter(|h| &h.name == name).count()
    }
    pub fn remove_all(&mut self, name: &HeaderName) {
        self.entries.retain(|h| &h.name != name);
    }
    /// Replaces every line with this name by one line holding `value`.
    pub fn set(&mut self, name: HeaderName, value: impl Into<Bytes>) {
        self.remove_all(&name);
        self.push(name, value);
    }
    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.entries.iter()
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
