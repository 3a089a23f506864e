//! Located configuration problems, and the translation of toml's own errors into messages
//! that name the file, line, column, key and what to write instead.

use std::fmt;
use std::ops::Range;

/// Where a configuration problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A position in a file: 1-based line and column (the column counts characters).
    At {
        file: String,
        line: usize,
        col: usize,
    },
    /// A whole file: it could not be read, or the problem has no single position.
    File(String),
    /// A command-line flag such as `--sip-listen`.
    Flag(&'static str),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::At { file, line, col } => write!(f, "{file}:{line}:{col}"),
            Location::File(file) => f.write_str(file),
            Location::Flag(flag) => f.write_str(flag),
        }
    }
}

/// One problem: where, and what is wrong plus what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub location: Location,
    pub message: String,
}

impl Problem {
    pub fn new(location: Location, message: impl Into<String>) -> Problem {
        Problem {
            location,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Everything wrong with a configuration. Display is the full message for the operator:
/// one problem per line, each starting with `file:line:col:` (or the flag).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.problems))]
pub struct ConfigError {
    problems: Vec<Problem>,
}

fn render(problems: &[Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(Problem::to_string).collect();
    lines.join("\n")
}

impl ConfigError {
    /// `problems` should not be empty; an empty list still displays (as an empty message).
    pub fn new(problems: Vec<Problem>) -> ConfigError {
        ConfigError { problems }
    }

    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

/// The text of one configuration file, for turning byte spans into `file:line:col`.
pub(crate) struct Source<'a> {
    /// The path as the operator should see it (as given or joined, not canonicalised).
    pub name: String,
    pub text: &'a str,
}

impl Source<'_> {
    pub fn location(&self, span: Range<usize>) -> Location {
        let (line, col) = line_col(self.text, span.start);
        Location::At {
            file: self.name.clone(),
            line,
            col,
        }
    }

    pub fn problem(&self, span: Range<usize>, message: impl Into<String>) -> Problem {
        Problem::new(self.location(span), message)
    }

    pub fn whole_file(&self, message: impl Into<String>) -> Problem {
        Problem::new(Location::File(self.name.clone()), message)
    }
}

/// 1-based line and character column of byte `offset` (clamped into the text).
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// Orders one file's problems by line and column (a stable sort: unpositioned ones first).
pub(crate) fn sort_by_position(problems: &mut [Problem]) {
    problems.sort_by_key(|p| match &p.location {
        Location::At { line, col, .. } => (*line, *col),
        _ => (0, 0),
    });
}

/// Turns a toml deserialisation error into a located problem. `example` maps a key to a
/// sample line (`ptime_ms = 20`) that is appended to type errors.
pub(crate) fn from_toml(
    src: &Source<'_>,
    err: &toml::de::Error,
    example: fn(&str) -> Option<&'static str>,
) -> Problem {
    let raw = err.message().trim();
    let location = match err.span() {
        Some(span) => src.location(span),
        None => Location::File(src.name.clone()),
    };
    let offset = err.span().map_or(0, |s| s.start);
    let table = enclosing_table(src.text, offset)
        .map(|t| format!(" in {t}"))
        .unwrap_or_default();
    let message = if let Some(rest) = raw.strip_prefix("unknown field ") {
        let names = backticked(rest);
        match names.split_first() {
            Some((unknown, valid)) => unknown_key(unknown, valid, &table),
            None => raw.to_string(),
        }
    } else if let Some(rest) = raw.strip_prefix("missing field ") {
        let key = backticked(rest).into_iter().next().unwrap_or_default();
        let mut m = format!("missing key \"{key}\"{table}");
        if let Some(ex) = example(&key) {
            m.push_str(&format!("; add e.g. {ex}"));
        }
        m
    } else if raw.starts_with("invalid type") || raw.starts_with("invalid value") {
        let key = key_before(src.text, offset);
        let mut m = match &key {
            Some(k) => format!("{k}: {raw}"),
            None => raw.to_string(),
        };
        if let Some(ex) = key.as_deref().and_then(example) {
            m.push_str(&format!("; write it like: {ex}"));
        }
        m
    } else {
        // Syntax errors: toml puts the detail on following lines; keep one line per problem.
        let parts: Vec<&str> = raw
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        format!("TOML syntax: {}", parts.join("; "))
    };
    Problem::new(location, message)
}

/// `unknown key "sip_lisen"; did you mean "sip_listen"? valid keys: a, b`.
pub(crate) fn unknown_key(unknown: &str, valid: &[String], table: &str) -> String {
    let mut m = format!("unknown key \"{unknown}\"{table}");
    if let Some(best) = closest(unknown, valid.iter().map(String::as_str)) {
        m.push_str(&format!("; did you mean \"{best}\"?"));
    } else {
        m.push(';');
    }
    if valid.is_empty() {
        m.push_str(" this table takes no keys");
    } else {
        m.push_str(&format!(" valid keys: {}", valid.join(", ")));
    }
    m
}

/// The names serde quotes in backticks, in order (`unknown field `x`, expected `a` or `b``).
fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The `[table]` or `[[array]]` header that governs byte `offset`, if any.
fn enclosing_table(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let before = text.get(..offset)?;
    // Skip the line the error is on when it is itself a header: a missing-key error points at
    // the header of the table that lacks the key, and that header is the right context.
    let this_line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let this_line = text[this_line_start..].lines().next().unwrap_or("");
    if is_header(this_line) {
        return Some(this_line.trim().to_string());
    }
    before
        .lines()
        .rev()
        .find(|l| is_header(l))
        .map(|l| l.trim().to_string())
}

fn is_header(line: &str) -> bool {
    let l = line.trim();
    l.starts_with('[') && l.ends_with(']') && !l.contains('=') && !l.contains('"')
}

/// The bare key of the `key = value` line holding byte `offset`, if the offset is in the value.
fn key_before(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset.min(text.len()))?;
    let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    bare.then(|| key.to_string())
}

/// The candidate nearest to `word` if it is near enough to be a likely typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let word_l = word.to_ascii_lowercase();
    let limit = 1 + word.chars().count() / 4;
    candidates
        .map(|c| {
            let c_l = c.to_ascii_lowercase();
            // A prefix either way (`rtp` for `rtp_ports`, `listen_addr` for `listen`) is
            // as likely a slip as a one-letter typo.
            let prefix = (word_l.len() >= 2 && c_l.starts_with(&word_l))
                || (c_l.len() >= 3 && word_l.starts_with(&c_l));
            let d = if prefix {
                1
            } else {
                edit_distance(&word_l, &c_l)
            };
            (d, c)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters (small inputs: config keys).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        sip_listen: Option<String>,
        ptime_ms: Option<u32>,
        timers: Option<Timers>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Timers {
        t1_ms: u32,
        t2_ms: Option<u32>,
    }

    fn example(key: &str) -> Option<&'static str> {
        match key {
            "ptime_ms" => Some("ptime_ms = 20"),
            "t1_ms" => Some("t1_ms = 500"),
            _ => None,
        }
    }

    fn problem(text: &str) -> String {
        let src = Source {
            name: "x.toml".into(),
            text,
        };
        let err = toml::from_str::<Sample>(text).expect_err("sample must fail");
        from_toml(&src, &err, example).to_string()
    }

    #[test]
    fn line_col_counts_lines_and_characters() {
        assert_eq!(line_col("abc", 0), (1, 1));
        assert_eq!(line_col("a\nbc", 3), (2, 2));
        assert_eq!(line_col("é = 1", 3), (1, 3));
        // Inside a multi-byte character and past the end: clamped, no panic.
        assert_eq!(line_col("é", 1), (1, 1));
        assert_eq!(line_col("ab", 99), (1, 3));
    }

    #[test]
    fn unknown_key_names_position_suggestion_and_choices() {
        assert_eq!(
            problem("ptime_ms = 20\nsip_lisen = \"x\"\n"),
            "x.toml:2:1: unknown key \"sip_lisen\"; did you mean \"sip_listen\"? \
             valid keys: sip_listen, ptime_ms, timers"
        );
    }

    #[test]
    fn unknown_key_in_a_table_names_the_table() {
        assert_eq!(
            problem("[timers]\nt1_ms = 1\nzzz = 2\n"),
            "x.toml:3:1: unknown key \"zzz\" in [timers]; valid keys: t1_ms, t2_ms"
        );
    }

    #[test]
    fn wrong_type_names_key_and_example() {
        assert_eq!(
            problem("ptime_ms = \"20\"\n"),
            "x.toml:1:12: ptime_ms: invalid type: string \"20\", expected u32; \
             write it like: ptime_ms = 20"
        );
    }

    #[test]
    fn missing_key_names_table_and_example() {
        assert_eq!(
            problem("[timers]\nt2_ms = 1\n"),
            "x.toml:1:1: missing key \"t1_ms\" in [timers]; add e.g. t1_ms = 500"
        );
    }

    #[test]
    fn syntax_error_is_one_line() {
        let p = problem("ptime_ms = \n");
        assert!(p.starts_with("x.toml:1:12: TOML syntax: "), "{p}");
        assert!(!p.contains('\n'), "{p}");
    }

    #[test]
    fn closest_finds_typos_only() {
        let keys = ["sip_listen", "http_listen", "rtp_ports"];
        assert_eq!(closest("sip_lisen", keys.into_iter()), Some("sip_listen"));
        assert_eq!(closest("RTP_PORTS", keys.into_iter()), Some("rtp_ports"));
        assert_eq!(closest("rtp", keys.into_iter()), Some("rtp_ports"));
        assert_eq!(closest("colour", keys.into_iter()), None);
    }

    #[test]
    fn config_error_lists_one_problem_per_line() {
        let e = ConfigError::new(vec![
            Problem::new(Location::File("a.toml".into()), "first"),
            Problem::new(Location::Flag("--sip-listen"), "second"),
        ]);
        assert_eq!(e.to_string(), "a.toml: first\n--sip-listen: second");
        assert_eq!(e.problems().len(), 2);
    }
}
