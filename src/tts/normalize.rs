//! Character clean-up shared by the Mandarin and English front-ends: full-width forms to
//! ASCII, and which punctuation makes which pause.

/// How long a pause a punctuation mark asks for; the stronger of two adjacent marks wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Pause {
    /// A clause break: written `,` for espeak-ng.
    Comma,
    /// A sentence end: written `.`.
    Period,
    /// A question: written `?` (espeak-ng raises the pitch at the end).
    Question,
}

impl Pause {
    /// The mark espeak-ng is given.
    pub(crate) fn mark(self) -> char {
        match self {
            Pause::Comma => ',',
            Pause::Period => '.',
            Pause::Question => '?',
        }
    }
}

/// Maps full-width ASCII forms (ＡＢＣ１２３，：) to ASCII, the ideographic space to a space and
/// the full-width yen sign to `¥`; other characters are returned unchanged.
pub(crate) fn fold_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FFE5}' => '¥',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// The pause a punctuation mark (after [`fold_width`]) stands for, if it is one. `.` and
/// `:` count here; number readers claim them first when they sit between digits.
pub(crate) fn pause_of(c: char) -> Option<Pause> {
    match c {
        '。' | '.' | '!' | '…' | '｡' => Some(Pause::Period),
        '?' => Some(Pause::Question),
        ',' | '、' | ';' | ':' | '—' | '–' | '(' | ')' | '[' | ']' | '{' | '}' | '<' | '>'
        | '|' | '【' | '】' | '《' | '》' | '〈' | '〉' | '「' | '」' | '『' | '』' | '〔'
        | '〕' | '·' | '・' => Some(Pause::Comma),
        _ => None,
    }
}

/// Marks read as nothing at all (quotes); they only separate words.
pub(crate) fn is_silent_mark(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '`' | '“' | '”' | '‘' | '’' | '＂' | '＇' | '«' | '»'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_forms_become_ascii() {
        let folded: String = "ＡＢｃ１２３，：！？　￥".chars().map(fold_width).collect();
        assert_eq!(folded, "ABc123,:!? ¥");
        assert_eq!(fold_width('中'), '中');
        assert_eq!(fold_width('。'), '。');
    }

    #[test]
    fn punctuation_pauses() {
        assert_eq!(pause_of('。'), Some(Pause::Period));
        assert_eq!(pause_of(fold_width('，')), Some(Pause::Comma));
        assert_eq!(pause_of(fold_width('？')), Some(Pause::Question));
        assert_eq!(pause_of('、'), Some(Pause::Comma));
        assert_eq!(pause_of('好'), None);
        assert!(Pause::Question > Pause::Period && Pause::Period > Pause::Comma);
        assert!(is_silent_mark('“'));
    }
}
