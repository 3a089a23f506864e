//! English text clean-up before espeak-ng's `en-us` voice, which reads most text well by
//! itself: full-width forms and Chinese punctuation become ASCII, Chinese characters (which
//! it would spell as "Chinese letter") are dropped, and long digit strings — order and
//! phone numbers — are spaced out so they are read digit by digit, not as one huge number.

use super::normalize::{fold_width, is_silent_mark, pause_of};
use super::pinyin::group_sizes;

/// Digit strings this long (without a decimal point or thousands separator) are codes.
const CODE_DIGITS: usize = 5;

/// The text espeak-ng's English voice is given.
pub fn prepare(text: &str) -> String {
    let chars: Vec<char> = text.chars().map(fold_width).collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            let end = chars[i..]
                .iter()
                .position(|c| !c.is_ascii_digit())
                .map_or(chars.len(), |n| i + n);
            // 3.14159 and 12,800,000 are numbers, not codes.
            let separator = |k: usize| matches!(chars.get(k), Some('.' | ','));
            let digit = |k: usize| chars.get(k).is_some_and(|c| c.is_ascii_digit());
            let joined_before = i >= 2 && separator(i - 1) && digit(i - 2);
            let joined_after = separator(end) && digit(end + 1);
            if end - i >= CODE_DIGITS && !joined_before && !joined_after {
                spell_digits(&chars[i..end], &mut out);
            } else {
                out.extend(&chars[i..end]);
            }
            i = end;
            continue;
        }
        if c.is_ascii() {
            out.push(c);
        } else if let Some(pause) = pause_of(c) {
            out.push(pause.mark());
            out.push(' ');
        } else if is_silent_mark(c) || c.is_whitespace() {
            out.push(' ');
        } else if c.is_alphabetic() && !is_chinese(c) {
            out.push(c); // accented Latin letters: café, naïve
        }
        i += 1;
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_chinese(c: char) -> bool {
    use pinyin::ToPinyin;
    c.to_pinyin().is_some()
}

/// `4008201234` → `4 0 0, 8 2 0, 1 2 3 4`.
fn spell_digits(digits: &[char], out: &mut String) {
    let values: Vec<u8> = digits
        .iter()
        .filter_map(|c| c.to_digit(10))
        .map(|d| d as u8)
        .collect();
    let mut at = 0;
    for (g, len) in group_sizes(&values).into_iter().enumerate() {
        if g > 0 {
            out.push(',');
        }
        for c in &digits[at..at + len] {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
            out.push(*c);
        }
        at += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_english_is_unchanged() {
        let text = "Welcome to the hotline. Press 1 for orders, or 0 for an agent!";
        assert_eq!(prepare(text), text);
        assert_eq!(prepare("Your total is $128.50."), "Your total is $128.50.");
        assert_eq!(prepare("It costs 12,800 yuan."), "It costs 12,800 yuan.");
        assert_eq!(
            prepare("Open 09:00 to 21:00, year 2026."),
            "Open 09:00 to 21:00, year 2026."
        );
    }

    #[test]
    fn codes_are_spelled_digit_by_digit() {
        assert_eq!(prepare("Order 12345 shipped."), "Order 1 2 3 4 5 shipped.");
        assert_eq!(
            prepare("Call 4008201234 today"),
            "Call 4 0 0, 8 2 0, 1 2 3 4 today"
        );
        assert_eq!(prepare("pi is 3.14159"), "pi is 3.14159");
    }

    #[test]
    fn full_width_and_chinese_are_cleaned() {
        assert_eq!(prepare("Ｈｅｌｌｏ，ｗｏｒｌｄ！"), "Hello,world!");
        assert_eq!(prepare("Welcome to 优选 Mall。Bye"), "Welcome to Mall. Bye");
        assert_eq!(prepare("“Quoted”  café"), "Quoted café");
        assert_eq!(prepare("优选"), "");
    }
}
