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
        HeaderName::known(name).unwrap_or_else(|| HeaderName::Other(Bytes::copy_from_slice(name)))
    }

    /// Like [`HeaderName::from_bytes`], but an unknown name keeps `name` itself (a slice
    /// of the received message) instead of copying it; the parser uses this.
    pub fn from_shared(name: Bytes) -> HeaderName {
        HeaderName::known(&name).unwrap_or(HeaderName::Other(name))
    }

    /// The variant of a well-known name (long or compact form, any case), if it is one.
    fn known(name: &[u8]) -> Option<HeaderName> {
        // Lower-case into a stack buffer so one `match` on byte strings does the lookup;
        // names longer than the longest known one ("proxy-authorization") are unknown.
        let mut buf = [0u8; 20];
        let lower = buf.get_mut(..name.len())?;
        for (d, s) in lower.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        Some(match &*lower {
            b"via" | b"v" => HeaderName::Via,
            b"from" | b"f" => HeaderName::From,
            b"to" | b"t" => HeaderName::To,
            b"call-id" | b"i" => HeaderName::CallId,
            b"cseq" => HeaderName::CSeq,
            b"contact" | b"m" => HeaderName::Contact,
            b"max-forwards" => HeaderName::MaxForwards,
            b"content-length" | b"l" => HeaderName::ContentLength,
            b"content-type" | b"c" => HeaderName::ContentType,
            b"content-encoding" | b"e" => HeaderName::ContentEncoding,
            b"route" => HeaderName::Route,
            b"record-route" => HeaderName::RecordRoute,
            b"require" => HeaderName::Require,
            b"proxy-require" => HeaderName::ProxyRequire,
            b"supported" | b"k" => HeaderName::Supported,
            b"unsupported" => HeaderName::Unsupported,
            b"allow" => HeaderName::Allow,
            b"accept" => HeaderName::Accept,
            b"authorization" => HeaderName::Authorization,
            b"proxy-authorization" => HeaderName::ProxyAuthorization,
            b"www-authenticate" => HeaderName::WwwAuthenticate,
            b"proxy-authenticate" => HeaderName::ProxyAuthenticate,
            b"expires" => HeaderName::Expires,
            b"min-expires" => HeaderName::MinExpires,
            b"user-agent" => HeaderName::UserAgent,
            b"server" => HeaderName::Server,
            b"date" => HeaderName::Date,
            b"event" | b"o" => HeaderName::Event,
            b"subject" | b"s" => HeaderName::Subject,
            _ => return None,
        })
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
        Headers {
            entries: Vec::with_capacity(n),
        }
    }
    pub fn push(&mut self, name: HeaderName, value: impl Into<Bytes>) {
        self.entries.push(Header {
            name,
            value: value.into(),
        });
    }
    /// Puts a header first (e.g. a new top Via).
    pub fn push_front(&mut self, name: HeaderName, value: impl Into<Bytes>) {
        self.entries.insert(
            0,
            Header {
                name,
                value: value.into(),
            },
        );
    }
    /// Value of the first header with this name.
    pub fn get(&self, name: &HeaderName) -> Option<&Bytes> {
        self.entries
            .iter()
            .find(|h| &h.name == name)
            .map(|h| &h.value)
    }
    /// Values of every header line with this name, in order.
    /// Mutable value of the first header with this name (e.g. to stamp the top Via).
    pub fn get_mut(&mut self, name: &HeaderName) -> Option<&mut Bytes> {
        self.entries
            .iter_mut()
            .find(|h| &h.name == name)
            .map(|h| &mut h.value)
    }
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a Bytes> + 'a {
        self.entries
            .iter()
            .filter(move |h| &h.name == name)
            .map(|h| &h.value)
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
