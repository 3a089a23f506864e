//! Problems found in flow files: `file:line:col: error|warning: message`, collected so that
//! an operator sees every one at once.

use std::fmt;
use std::path::{Path, PathBuf};

use super::yaml::Pos;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in a flow file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub pos: Pos,
    pub severity: Severity,
    pub message: String,
    /// For "never set" warnings: the variable, so `flow check` can drop the warning when a
    /// linked flow (caller or sub-flow) sets it.
    pub unknown_var: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {sev}: {}",
            self.file.display(),
            self.pos.line,
            self.pos.col,
            self.message
        )
    }
}

/// Everything wrong with a flow file. Display is one problem per line (errors and
/// warnings, in file order).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.diagnostics))]
pub struct FlowErrors {
    pub diagnostics: Vec<Diagnostic>,
}

impl FlowErrors {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }
}

fn render(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Collects problems for one file while it is being read.
#[derive(Debug)]
pub(crate) struct Diags {
    pub file: PathBuf,
    pub list: Vec<Diagnostic>,
}

impl Diags {
    pub fn new(file: &Path) -> Diags {
        Diags {
            file: file.to_path_buf(),
            list: Vec::new(),
        }
    }

    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.push(pos, Severity::Error, message.into(), None);
    }

    pub fn warn(&mut self, pos: Pos, message: impl Into<String>) {
        self.push(pos, Severity::Warning, message.into(), None);
    }

    pub fn warn_unknown_var(&mut self, pos: Pos, var: &str, message: impl Into<String>) {
        self.push(
            pos,
            Severity::Warning,
            message.into(),
            Some(var.to_string()),
        );
    }

    fn push(&mut self, pos: Pos, severity: Severity, message: String, var: Option<String>) {
        self.list.push(Diagnostic {
            file: self.file.clone(),
            pos,
            severity,
            message,
            unknown_var: var,
        });
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|d| d.severity == Severity::Error)
    }

    /// In file order; an error before a warning at the same spot.
    pub fn sorted(mut self) -> Vec<Diagnostic> {
        self.list.sort_by_key(|d| (d.pos, d.severity));
        self.list.dedup();
        self.list
    }
}

/// ` (did you mean "x"?)` when one candidate is close to `word`, else "".
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    let lower = word.to_lowercase();
    let best = candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d > 0 && *d <= (c.chars().count().max(2) / 3).max(1) + 1)
        .min_by_key(|(d, _)| *d);
    match best {
        Some((_, c)) => format!(" (did you mean \"{c}\"?)"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_file_line_col_severity_message() {
        let mut d = Diags::new(Path::new("ivr-flows/x.yaml"));
        d.warn(Pos::new(3, 1), "later");
        d.error(Pos::new(2, 9), "first");
        let e = FlowErrors {
            diagnostics: d.sorted(),
        };
        assert_eq!(
            e.to_string(),
            "ivr-flows/x.yaml:2:9: error: first\nivr-flows/x.yaml:3:1: warning: later"
        );
        assert_eq!(e.errors().count(), 1);
    }

    #[test]
    fn suggests_only_close_names() {
        assert_eq!(
            did_you_mean("ordr", ["greeting", "menu", "order"]),
            " (did you mean \"order\"?)"
        );
        assert_eq!(did_you_mean("xyz", ["greeting", "menu", "order"]), "");
        assert_eq!(did_you_mean("order", ["order"]), "");
    }
}
