//! Chinese text → tone-numbered pinyin (`yin2 hang2`), the only input espeak-ng's
//! `cmn-latn-pinyin` voice speaks intelligibly.
//!
//! Rules, in the order they apply:
//! - Full-width forms are folded to ASCII (`１２８，` → `128,`).
//! - Numbers written in digits are read out (see [`numbers`]): amounts and counts as
//!   quantities (`128.50元` → `yi1 bai3 er4 shi2 ba1 dian3 wu3 ling2 yuan2`), dates, times,
//!   percentages, ranges; order, phone and other code numbers (5+ digits, a leading 0, or
//!   after 号/码/电话/分机…) digit by digit with 1 read `yao1`, as Chinese hotlines do.
//! - Chinese characters: the longest entry of a phrase table of polyphones wins
//!   (`银行` yin2 hang2 vs `行李` xing2 li3), else a short list of per-character defaults,
//!   else the `pinyin` crate's reading. Neutral tones are written `5`.
//! - Tone sandhi of 一 and 不 (yi2/yi4, bu2) from the next syllable's tone. The 3-3 sandhi
//!   (`ni3 hao3` said ni2 hao3) is left to espeak-ng, which applies it itself.
//! - Punctuation becomes `,` `.` `?` pauses; `#`/`*` are read as the keypad keys; ASCII
//!   words are kept for espeak-ng to spell out; pinyin written by hand (`hang2`) is kept
//!   as written; anything else unpronounceable is dropped.

mod numbers;
mod phrases;

pub(crate) use numbers::group_sizes;

#[cfg(test)]
mod sentence_tests;

use pinyin::ToPinyin;

use super::normalize::{Pause, fold_width, pause_of};

/// Bumped whenever a rule here changes what a text converts to, so cached renders made
/// with the old rules are not reused (it is part of the espeak-ng engine's revision).
pub const RULES_REVISION: u32 = 1;

/// Converts Chinese text (with digits, punctuation, some ASCII) to tone-numbered pinyin,
/// syllables separated by spaces and pauses written as `,` `.` `?`. Never fails: what
/// cannot be pronounced is dropped, so the result may be empty.
pub fn to_pinyin(text: &str) -> String {
    let chars: Vec<char> = text.chars().map(fold_width).collect();
    let mut out = Vec::with_capacity(chars.len() * 2);
    let mut i = 0;
    while i < chars.len() {
        i = read_token(&chars, i, &mut out);
    }
    apply_sandhi(&mut out);
    render(&out)
}

/// One syllable: an ASCII (or `ü`) base and a tone 1–5 (5 = neutral).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Syllable {
    base: &'static str,
    tone: u8,
}

impl Syllable {
    /// Parses `hang2`, or a bare `de` as neutral tone. `None` for anything else.
    fn parse(s: &'static str) -> Option<Self> {
        let (base, tone) = match s.as_bytes().last() {
            Some(d @ b'1'..=b'5') => (&s[..s.len() - 1], d - b'0'),
            _ => (s, 5),
        };
        let valid = !base.is_empty() && base.chars().all(|c| c.is_ascii_lowercase() || c == 'ü');
        valid.then_some(Self { base, tone })
    }

    fn with_tone(self, tone: u8) -> Self {
        Self { tone, ..self }
    }
}

/// Which tone-sandhi rule, if any, still has to look at the next syllable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sandhi {
    None,
    /// 一: yi2 before a 4th (or neutral) tone, yi4 before the others.
    Yi,
    /// 不: bu2 before a 4th tone.
    Bu,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Syl(Syllable, Sandhi),
    Word(String),
    Pause(Pause),
}

impl Token {
    /// A syllable from a table entry; table entries are checked by tests, so a bad one is
    /// only skipped.
    fn push_reading(out: &mut Vec<Token>, reading: &'static str) {
        for part in reading.split_ascii_whitespace() {
            if let Some(s) = Syllable::parse(part) {
                out.push(Token::Syl(s, Sandhi::None));
            }
        }
    }
}

/// Chinese numerals: an adjacent 一 is a digit, not the word "one", so no sandhi.
const NUMERAL_CHARS: &str = "零〇一二三四五六七八九十百千万亿两";

/// Units after a `/` that make it "per" (元/月 → yuan2 mei3 yue4).
const PER_UNITS: &str = "月天日年次件个人台张份周时分秒斤克吨米";

fn is_han(c: char) -> bool {
    !c.is_ascii() && c.to_pinyin().is_some()
}

/// Reads one token starting at `i` and returns the index after it.
fn read_token(chars: &[char], i: usize, out: &mut Vec<Token>) -> usize {
    let c = chars[i];
    let next = chars.get(i + 1).copied();
    if c.is_ascii_digit() {
        return numbers::read(chars, i, None, out);
    }
    if let Some(currency) = numbers::Currency::from_sign(c)
        && next.is_some_and(|n| n.is_ascii_digit())
    {
        return numbers::read(chars, i + 1, Some(currency), out);
    }
    if is_han(c) {
        return read_han_run(chars, i, out);
    }
    if c.is_ascii_alphabetic() || c == 'ü' {
        let end = scan(chars, i, |c| c.is_ascii_alphabetic() || c == 'ü');
        let mut word: String = chars[i..end].iter().collect();
        // Pinyin the author wrote by hand (`hang2`) passes through, so a reading the rules
        // get wrong can be fixed in the flow file.
        let tone = chars.get(end).filter(|d| ('1'..='5').contains(*d));
        let lone_digit = !chars.get(end + 1).is_some_and(|d| d.is_ascii_digit());
        if let Some(&tone) = tone.filter(|_| lone_digit && is_pinyin_letters(&word)) {
            word.push(tone);
            out.push(Token::Word(word));
            return end + 1;
        }
        out.push(Token::Word(word));
        return end;
    }
    match c {
        // The keypad keys: 井号键 / 星号键 (no second 号 when the text writes one).
        '#' | '*' => {
            let key = if c == '#' { "jing3" } else { "xing1" };
            Token::push_reading(out, key);
            if next != Some('号') {
                Token::push_reading(out, "hao4");
            }
        }
        // A range between numbers: 3-5天, 09:00-21:00, 3~5.
        '-' | '~' if follows_number(out) && next.is_some_and(|n| n.is_ascii_digit()) => {
            Token::push_reading(out, "dao4");
        }
        '/' if next.is_some_and(|n| PER_UNITS.contains(n)) => Token::push_reading(out, "mei3"),
        '/' => out.push(Token::Pause(Pause::Comma)),
        // Whitespace, quotes (is_silent_mark) and unpronounceable symbols only separate.
        _ => {
            if let Some(p) = pause_of(c) {
                out.push(Token::Pause(p));
            }
        }
    }
    i + 1
}

fn is_pinyin_letters(word: &str) -> bool {
    word.len() <= 6 && word.chars().all(|c| c.is_ascii_lowercase() || c == 'ü')
}

fn scan(chars: &[char], from: usize, keep: impl Fn(char) -> bool) -> usize {
    let mut end = from;
    while end < chars.len() && keep(chars[end]) {
        end += 1;
    }
    end
}

fn follows_number(out: &[Token]) -> bool {
    matches!(out.last(), Some(Token::Syl(..)))
}

/// A run of Chinese characters: phrase table (longest first), then single characters.
fn read_han_run(chars: &[char], start: usize, out: &mut Vec<Token>) -> usize {
    let end = scan(chars, start, is_han);
    let mut k = start;
    while k < end {
        if let Some((len, reading)) = phrases::longest_match(&chars[k..end]) {
            Token::push_reading(out, reading);
            k += len;
            continue;
        }
        let c = chars[k];
        let prev = k.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(k + 1).copied().filter(|&n| is_han(n));
        match c {
            '一' => push_yi(prev, next, out),
            '不' => {
                let sandhi = if next.is_some() {
                    Sandhi::Bu
                } else {
                    Sandhi::None
                };
                out.push(Token::Syl(
                    Syllable {
                        base: "bu",
                        tone: 4,
                    },
                    sandhi,
                ));
            }
            _ => {
                let reading = phrases::single_override(c)
                    .or_else(|| c.to_pinyin().map(|p| p.with_tone_num_end()));
                if let Some(s) = reading.and_then(Syllable::parse) {
                    out.push(Token::Syl(s, Sandhi::None));
                }
            }
        }
        k += 1;
    }
    end
}

/// 一 keeps yi1 as a numeral (第一, 十一, 一百), at the end of a word run, and before
/// nothing; it is neutral between a doubled verb (看一看); elsewhere its tone follows the
/// next syllable.
fn push_yi(prev: Option<char>, next: Option<char>, out: &mut Vec<Token>) {
    let yi = Syllable {
        base: "yi",
        tone: 1,
    };
    let numeral = |c: Option<char>| c.is_some_and(|c| NUMERAL_CHARS.contains(c));
    let token = match next {
        None => Token::Syl(yi, Sandhi::None),
        Some(_) if prev == Some('第') || numeral(prev) || numeral(next) => {
            Token::Syl(yi, Sandhi::None)
        }
        Some(n) if prev == Some(n) => Token::Syl(yi.with_tone(5), Sandhi::None),
        Some(_) => Token::Syl(yi, Sandhi::Yi),
    };
    out.push(token);
}

fn apply_sandhi(tokens: &mut [Token]) {
    for i in 0..tokens.len() {
        let next_tone = match tokens.get(i + 1) {
            Some(Token::Syl(s, _)) => Some(s.tone),
            _ => None,
        };
        if let Token::Syl(s, sandhi) = &mut tokens[i] {
            match (*sandhi, next_tone) {
                (Sandhi::Yi, Some(4 | 5)) => s.tone = 2,
                (Sandhi::Yi, Some(_)) => s.tone = 4,
                (Sandhi::Bu, Some(4)) => s.tone = 2,
                _ => {}
            }
            *sandhi = Sandhi::None;
        }
    }
}

/// Joins tokens: syllables and words separated by spaces, pauses attached to the word
/// before; adjacent pauses merge into the strongest, leading pauses are dropped.
fn render(tokens: &[Token]) -> String {
    let mut s = String::with_capacity(tokens.len() * 6);
    let mut last_pause: Option<Pause> = None;
    for token in tokens {
        match token {
            Token::Syl(syl, _) => {
                if !s.is_empty() {
                    s.push(' ');
                }
                s.push_str(syl.base);
                s.push(char::from(b'0' + syl.tone));
                last_pause = None;
            }
            Token::Word(w) => {
                if !s.is_empty() {
                    s.push(' ');
                }
                s.push_str(w);
                last_pause = None;
            }
            Token::Pause(p) => {
                if s.is_empty() {
                    continue;
                }
                match last_pause {
                    Some(old) if old >= *p => {}
                    Some(_) => {
                        s.pop();
                        s.push(p.mark());
                        last_pause = Some(*p);
                    }
                    None => {
                        s.push(p.mark());
                        last_pause = Some(*p);
                    }
                }
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syllables_parse_with_and_without_tone() {
        assert_eq!(
            Syllable::parse("hang2"),
            Some(Syllable {
                base: "hang",
                tone: 2
            })
        );
        assert_eq!(
            Syllable::parse("de"),
            Some(Syllable {
                base: "de",
                tone: 5
            })
        );
        assert_eq!(
            Syllable::parse("lü4"),
            Some(Syllable {
                base: "lü",
                tone: 4
            })
        );
        assert_eq!(Syllable::parse("2"), None);
        assert_eq!(Syllable::parse(""), None);
        assert_eq!(Syllable::parse("Hang2"), None);
    }

    #[test]
    fn polyphone_hang_and_xing() {
        assert_eq!(to_pinyin("银行"), "yin2 hang2");
        assert_eq!(to_pinyin("行李"), "xing2 li3");
        assert_eq!(to_pinyin("银行行李"), "yin2 hang2 xing2 li3");
        assert_eq!(to_pinyin("重新"), "chong2 xin1");
        assert_eq!(to_pinyin("重要"), "zhong4 yao4");
        assert_eq!(to_pinyin("还款"), "huan2 kuan3");
        assert_eq!(to_pinyin("还有"), "hai2 you3");
    }

    #[test]
    fn neutral_tones_are_written_5() {
        assert_eq!(to_pinyin("好的吗呢吧了"), "hao3 de5 ma5 ne5 ba5 le5");
    }

    #[test]
    fn yi_and_bu_sandhi() {
        assert_eq!(to_pinyin("一个"), "yi2 ge4");
        assert_eq!(to_pinyin("一天"), "yi4 tian1");
        assert_eq!(to_pinyin("一起"), "yi4 qi3");
        assert_eq!(to_pinyin("第一"), "di4 yi1");
        assert_eq!(to_pinyin("十一"), "shi2 yi1");
        assert_eq!(to_pinyin("统一价格"), "tong3 yi1 jia4 ge2");
        assert_eq!(to_pinyin("看一看"), "kan4 yi5 kan4");
        assert_eq!(to_pinyin("一"), "yi1");
        assert_eq!(to_pinyin("不是"), "bu2 shi4");
        assert_eq!(to_pinyin("不能"), "bu4 neng2");
        assert_eq!(to_pinyin("不"), "bu4");
    }

    #[test]
    fn punctuation_becomes_pauses() {
        assert_eq!(to_pinyin("您好，再见。"), "nin2 hao3, zai4 jian4.");
        assert_eq!(to_pinyin("，，您好！！"), "nin2 hao3.");
        assert_eq!(to_pinyin("好吗？"), "hao3 ma5?");
        assert_eq!(to_pinyin("好，。再见"), "hao3. zai4 jian4");
        assert_eq!(to_pinyin("“好”"), "hao3");
    }

    #[test]
    fn keys_words_and_junk() {
        assert_eq!(to_pinyin("请按#号键"), "qing3 an4 jing3 hao4 jian4");
        assert_eq!(to_pinyin("按*"), "an4 xing1 hao4");
        assert_eq!(to_pinyin("VIP客户"), "VIP ke4 hu4");
        assert_eq!(to_pinyin("ＶＩＰ"), "VIP");
        assert_eq!(to_pinyin("好😀"), "hao3");
        assert_eq!(to_pinyin(""), "");
        assert_eq!(to_pinyin("😀。"), "");
    }

    #[test]
    fn hand_written_pinyin_passes_through() {
        assert_eq!(to_pinyin("nin2 hao3，lü4 se4"), "nin2 hao3, lü4 se4");
        assert_eq!(to_pinyin("行 hang2 业"), "xing2 hang2 ye4");
        assert_eq!(to_pinyin("abc12"), "abc shi2 er4");
        assert_eq!(to_pinyin("SF1"), "SF yi1");
    }

    #[test]
    fn slash_is_per_before_a_unit() {
        assert_eq!(to_pinyin("元/月"), "yuan2 mei3 yue4");
        assert_eq!(to_pinyin("退货/换货"), "tui4 huo4, huan4 huo4");
    }

    #[test]
    fn never_panics_on_odd_input() {
        for text in [
            "\u{0}",
            "-",
            "--5",
            "1-",
            "1.",
            ".5",
            "¥",
            "¥¥1",
            "12:",
            "12:7",
            "99:99",
            "1-2-3",
            "2026-13-40",
            "9999999999999999999999",
            "%",
            "5%%",
            "１２：３０",
            "一",
            "不",
            "#",
            "0",
            "00",
            "0.000",
            "1,2,3",
            "1,000,",
            "\u{FFFF}\u{10FFFF}",
        ] {
            let _ = to_pinyin(text);
        }
    }
}
