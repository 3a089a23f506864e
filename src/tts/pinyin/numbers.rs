//! Numbers written in digits, read the way a Chinese hotline says them.
//!
//! - Quantities (counts, amounts, anything with a decimal point, a thousands separator, a
//!   currency sign or a unit after it): `128.50` → yi1 bai3 er4 shi2 ba1 dian3 wu3 ling2,
//!   `10050` 元 → yi1 wan4 ling2 wu3 shi2, 两 for a lone 2 before a measure word (2个).
//!   Up to 12 integer digits (9999亿…); longer ones are read digit by digit.
//! - Codes, read digit by digit with 1 as `yao1` and 0 as `ling2`, as operators read order
//!   and phone numbers (yao1 cannot be misheard as qi1): integers of 5+ digits with no unit
//!   after them, any integer with a leading 0, and any integer right after a word ending
//!   in 号/码/话/机/线 (订单号, 验证码, 电话, 分机, 热线; 是/为/colon may sit between).
//!   Long codes get a pause every 3–4 digits (mobile numbers 3-4-4, 400/800 numbers 3-3-4).
//!   Groups joined by `-` with 7+ digits in all (400-820-1234) are one code.
//! - Years before 年 (4 digits): digit by digit with yi1 (2026年 → er4 ling2 er4 liu4 nian2).
//! - Dates 2026-11-23 or 2026/11/23: year, month and day with 年 月 日.
//! - Times 09:00, 21:30, 8:05:30: jiu3 dian3, er4 shi2 yi1 dian3 san1 shi2 fen1, …
//! - Percentages 50% → bai3 fen1 zhi1 wu3 shi2.
//! - `¥`/`￥` before an amount adds yuan2 (unless 元/块 follows), `$` adds mei3 yuan2.

use super::{Sandhi, Syllable, Token};

const DIGITS: [&str; 10] = [
    "ling2", "yi1", "er4", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3",
];

/// Words ending in these make the number after them a code (订单号, 验证码, 电话, 分机, 热线).
const CODE_WORD_ENDINGS: &str = "号码话机线";

/// Characters after a long number that make it a quantity rather than a code.
const QUANTITY_UNITS: &str =
    "元块圆角毛分万亿千百个件位人次天日月年秒米克斤吨台条张份笔岁名家倍小公毫箱包瓶双套盒平里度";

/// Measure words after which a lone 2 is read liang3 (2个, 2点, 2万).
const LIANG_MEASURES: &str = "个件位次天年点种张台条本份家周瓶箱包双只斤套盒把辆小分块万千亿";

/// The longest integer read as a quantity: 9999 9999 9999 (亿 is the largest unit used).
const MAX_QUANTITY_DIGITS: usize = 12;

/// A currency sign written before an amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Currency {
    Yuan,
    Dollar,
}

impl Currency {
    pub(crate) fn from_sign(c: char) -> Option<Self> {
        match c {
            '¥' => Some(Currency::Yuan),
            '$' => Some(Currency::Dollar),
            _ => None,
        }
    }
}

/// Reads the number whose first digit is at `start`, returning the index after it.
pub(super) fn read(
    chars: &[char],
    start: usize,
    currency: Option<Currency>,
    out: &mut Vec<Token>,
) -> usize {
    if currency.is_none() {
        if let Some(end) = read_date(chars, start, out) {
            return end;
        }
        if let Some(end) = read_time(chars, start, out) {
            return end;
        }
        if let Some(end) = read_hyphenated_code(chars, start, out) {
            return end;
        }
    }
    read_plain(chars, start, currency, out)
}

fn push(out: &mut Vec<Token>, syllable: &'static str) {
    if let Some(s) = Syllable::parse(syllable) {
        out.push(Token::Syl(s, Sandhi::None));
    }
}

/// The end of the run of ASCII digits starting at `from`.
fn digits_end(chars: &[char], from: usize) -> usize {
    let mut end = from;
    while end < chars.len() && chars[end].is_ascii_digit() {
        end += 1;
    }
    end
}

fn values(chars: &[char]) -> Vec<u8> {
    chars
        .iter()
        .filter_map(|c| c.to_digit(10))
        .map(|d| d as u8)
        .collect()
}

fn value(digits: &[u8]) -> u64 {
    digits.iter().fold(0u64, |acc, &d| {
        acc.saturating_mul(10).saturating_add(u64::from(d))
    })
}

/// `2026-11-23` or `2026/11/23`.
fn read_date(chars: &[char], start: usize, out: &mut Vec<Token>) -> Option<usize> {
    let year_end = digits_end(chars, start);
    if year_end - start != 4 {
        return None;
    }
    let sep = *chars.get(year_end).filter(|c| matches!(c, '-' | '/'))?;
    let month_end = digits_end(chars, year_end + 1);
    if !(1..=2).contains(&(month_end - year_end - 1)) || chars.get(month_end) != Some(&sep) {
        return None;
    }
    let day_end = digits_end(chars, month_end + 1);
    if !(1..=2).contains(&(day_end - month_end - 1)) {
        return None;
    }
    let month = value(&values(&chars[year_end + 1..month_end]));
    let day = value(&values(&chars[month_end + 1..day_end]));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    digit_by_digit(&values(&chars[start..year_end]), "yi1", out);
    push(out, "nian2");
    integer(month, out);
    push(out, "yue4");
    integer(day, out);
    push(out, "ri4");
    Some(day_end)
}

/// `9:00`, `21:30`, `08:05:30`: hour dian3, minutes fen1, seconds miao3.
fn read_time(chars: &[char], start: usize, out: &mut Vec<Token>) -> Option<usize> {
    let hour_end = digits_end(chars, start);
    if !(1..=2).contains(&(hour_end - start)) || chars.get(hour_end) != Some(&':') {
        return None;
    }
    let min_end = digits_end(chars, hour_end + 1);
    if min_end - hour_end - 1 != 2 {
        return None;
    }
    let hour = value(&values(&chars[start..hour_end]));
    let minute = value(&values(&chars[hour_end + 1..min_end]));
    if hour > 24 || minute > 59 {
        return None;
    }
    let mut end = min_end;
    let mut second = 0;
    if chars.get(min_end) == Some(&':') {
        let sec_end = digits_end(chars, min_end + 1);
        if sec_end - min_end - 1 == 2 {
            second = value(&values(&chars[min_end + 1..sec_end]));
            if second > 59 {
                return None;
            }
            end = sec_end;
        }
    }
    if hour == 2 {
        push(out, "liang3");
    } else {
        integer(hour, out);
    }
    push(out, "dian3");
    if minute > 0 {
        if minute < 10 {
            push(out, "ling2");
        }
        integer(minute, out);
        push(out, "fen1");
    }
    if second > 0 {
        integer(second, out);
        push(out, "miao3");
    }
    Some(end)
}

/// `400-820-1234`, `021-12345678`: groups joined by `-`, 7+ digits in all, read as one code
/// with a pause at each hyphen. Shorter pairs (3-5) are ranges, left to the caller.
fn read_hyphenated_code(chars: &[char], start: usize, out: &mut Vec<Token>) -> Option<usize> {
    let mut groups = vec![(start, digits_end(chars, start))];
    loop {
        let (_, end) = groups[groups.len() - 1];
        if chars.get(end) != Some(&'-') {
            break;
        }
        let next_end = digits_end(chars, end + 1);
        if next_end == end + 1 {
            break;
        }
        groups.push((end + 1, next_end));
    }
    let total: usize = groups.iter().map(|(s, e)| e - s).sum();
    if groups.len() < 2 || total < 7 {
        return None;
    }
    for (i, &(s, e)) in groups.iter().enumerate() {
        if i > 0 {
            out.push(Token::Pause(super::Pause::Comma));
        }
        code(&values(&chars[s..e]), out);
    }
    groups.last().map(|&(_, e)| e)
}

/// A plain number: integer, optional `,ddd` thousands groups, decimals, `%`.
fn read_plain(
    chars: &[char],
    start: usize,
    currency: Option<Currency>,
    out: &mut Vec<Token>,
) -> usize {
    let mut end = digits_end(chars, start);
    let mut int = values(&chars[start..end]);
    let mut grouped = false;
    if int.len() <= 3 {
        while chars.get(end) == Some(&',') && digits_end(chars, end + 1) == end + 4 {
            int.extend(values(&chars[end + 1..end + 4]));
            end += 4;
            grouped = true;
        }
    }
    let mut frac = Vec::new();
    if chars.get(end) == Some(&'.') && chars.get(end + 1).is_some_and(|c| c.is_ascii_digit()) {
        let frac_end = digits_end(chars, end + 1);
        frac = values(&chars[end + 1..frac_end]);
        end = frac_end;
    }
    if chars.get(end) == Some(&'%') {
        for s in ["bai3", "fen1", "zhi1"] {
            push(out, s);
        }
        quantity(&int, &frac, false, out);
        return end + 1;
    }
    let next = chars.get(end).copied();
    let unit_follows = next.is_some_and(|c| QUANTITY_UNITS.contains(c) || c.is_ascii_alphabetic());
    if currency.is_some() || grouped || !frac.is_empty() {
        quantity(&int, &frac, false, out);
    } else if int.len() >= 2 && int[0] == 0 {
        code(&int, out);
    } else if int.len() == 4 && next == Some('年') {
        digit_by_digit(&int, "yi1", out);
    } else if after_code_word(chars, start)
        || (int.len() >= 5 && !unit_follows)
        || int.len() > MAX_QUANTITY_DIGITS
    {
        code(&int, out);
    } else {
        let liang = next.is_some_and(|c| LIANG_MEASURES.contains(c));
        quantity(&int, &frac, liang, out);
    }
    match currency {
        Some(Currency::Yuan) if !next.is_some_and(|c| "元块圆".contains(c)) => {
            push(out, "yuan2")
        }
        Some(Currency::Dollar) => {
            push(out, "mei3");
            push(out, "yuan2");
        }
        _ => {}
    }
    end
}

/// Whether the number at `start` follows a word naming a code (订单号是 123, 电话：…).
fn after_code_word(chars: &[char], start: usize) -> bool {
    let mut k = start;
    while k > 0 && matches!(chars[k - 1], ' ' | ':' | '是' | '为') {
        k -= 1;
    }
    k > 0 && CODE_WORD_ENDINGS.contains(chars[k - 1])
}

/// An integer (and decimals) as a quantity; `liang` reads a lone 2 as liang3.
fn quantity(int: &[u8], frac: &[u8], liang: bool, out: &mut Vec<Token>) {
    if int.len() > MAX_QUANTITY_DIGITS {
        digit_by_digit(int, "yi1", out);
    } else {
        let n = value(int);
        if liang && n == 2 && frac.is_empty() {
            push(out, "liang3");
        } else {
            integer(n, out);
        }
    }
    if !frac.is_empty() {
        push(out, "dian3");
        digit_by_digit(frac, "yi1", out);
    }
}

/// `n` (below 10^12) in words: sections of four digits joined by 亿 and 万, one 零 for
/// each run of zeros inside, 十 alone for 10–19 at the start.
fn integer(n: u64, out: &mut Vec<Token>) {
    if n == 0 {
        push(out, "ling2");
        return;
    }
    let sections = [
        (n / 100_000_000 % 10_000, Some("yi4")),
        (n / 10_000 % 10_000, Some("wan4")),
        (n % 10_000, None),
    ];
    let mut started = false;
    let mut zero_pending = false;
    for (section, unit) in sections {
        if section == 0 {
            zero_pending |= started;
            continue;
        }
        if started && section < 1000 {
            zero_pending = true;
        }
        if zero_pending {
            push(out, "ling2");
            zero_pending = false;
        }
        section_words(section, !started, out);
        if let Some(unit) = unit {
            push(out, unit);
        }
        started = true;
    }
}

/// One section 1..=9999; `leading` when it starts the number (so 10 is shi2, not yi1 shi2).
fn section_words(section: u64, leading: bool, out: &mut Vec<Token>) {
    let digits = [
        section / 1000 % 10,
        section / 100 % 10,
        section / 10 % 10,
        section % 10,
    ];
    const UNITS: [Option<&str>; 4] = [Some("qian1"), Some("bai3"), Some("shi2"), None];
    let mut any = false;
    let mut zero = false;
    for (place, &d) in digits.iter().enumerate() {
        if d == 0 {
            zero |= any;
            continue;
        }
        if zero {
            push(out, "ling2");
            zero = false;
        }
        let bare_ten = place == 2 && d == 1 && !any && leading;
        if !bare_ten {
            push(out, DIGITS[d as usize]);
        }
        if let Some(unit) = UNITS[place] {
            push(out, unit);
        }
        any = true;
    }
}

fn digit_by_digit(digits: &[u8], one: &'static str, out: &mut Vec<Token>) {
    for &d in digits {
        push(
            out,
            if d == 1 {
                one
            } else {
                DIGITS[usize::from(d % 10)]
            },
        );
    }
}

/// A code read digit by digit with yao1, with a pause between groups of 3–4 digits.
fn code(digits: &[u8], out: &mut Vec<Token>) {
    let mut at = 0;
    for (i, len) in group_sizes(digits).into_iter().enumerate() {
        if i > 0 {
            out.push(Token::Pause(super::Pause::Comma));
        }
        digit_by_digit(&digits[at..at + len], "yao1", out);
        at += len;
    }
}

/// How a code is grouped when read: short ones whole, mobile numbers 3-4-4, 400/800
/// numbers 3-3-4, others in fours (a lone digit at the end joins the group before).
pub(crate) fn group_sizes(digits: &[u8]) -> Vec<usize> {
    let len = digits.len();
    if len <= 6 {
        return vec![len];
    }
    if len == 11 && digits[0] == 1 {
        return vec![3, 4, 4];
    }
    if len == 10 && (digits.starts_with(&[4, 0, 0]) || digits.starts_with(&[8, 0, 0])) {
        return vec![3, 3, 4];
    }
    let mut sizes = vec![4; len / 4];
    match len % 4 {
        0 => {}
        1 => {
            if let Some(last) = sizes.last_mut() {
                *last += 1;
            }
        }
        rest => sizes.push(rest),
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::super::to_pinyin;

    #[test]
    fn quantities() {
        assert_eq!(to_pinyin("0"), "ling2");
        assert_eq!(to_pinyin("10"), "shi2");
        assert_eq!(to_pinyin("15"), "shi2 wu3");
        assert_eq!(to_pinyin("23"), "er4 shi2 san1");
        assert_eq!(to_pinyin("110"), "yi1 bai3 yi1 shi2");
        assert_eq!(to_pinyin("128"), "yi1 bai3 er4 shi2 ba1");
        assert_eq!(to_pinyin("1005"), "yi1 qian1 ling2 wu3");
        assert_eq!(to_pinyin("1050"), "yi1 qian1 ling2 wu3 shi2");
        assert_eq!(to_pinyin("10050元"), "yi1 wan4 ling2 wu3 shi2 yuan2");
        assert_eq!(to_pinyin("100000元"), "shi2 wan4 yuan2");
        assert_eq!(to_pinyin("110000元"), "shi2 yi1 wan4 yuan2");
        assert_eq!(to_pinyin("1000010元"), "yi1 bai3 wan4 ling2 yi1 shi2 yuan2");
        assert_eq!(to_pinyin("100000005元"), "yi1 yi4 ling2 wu3 yuan2");
        assert_eq!(
            to_pinyin("120030000元"),
            "yi1 yi4 er4 qian1 ling2 san1 wan4 yuan2"
        );
        assert_eq!(to_pinyin("12,800元"), "yi1 wan4 er4 qian1 ba1 bai3 yuan2");
    }

    #[test]
    fn decimals_amounts_and_percentages() {
        assert_eq!(
            to_pinyin("128.50元"),
            "yi1 bai3 er4 shi2 ba1 dian3 wu3 ling2 yuan2"
        );
        assert_eq!(to_pinyin("0.5"), "ling2 dian3 wu3");
        assert_eq!(to_pinyin("¥99"), "jiu3 shi2 jiu3 yuan2");
        assert_eq!(to_pinyin("￥12.5元"), "shi2 er4 dian3 wu3 yuan2");
        assert_eq!(to_pinyin("$20"), "er4 shi2 mei3 yuan2");
        assert_eq!(to_pinyin("50%"), "bai3 fen1 zhi1 wu3 shi2");
        assert_eq!(to_pinyin("2.5%"), "bai3 fen1 zhi1 er4 dian3 wu3");
    }

    #[test]
    fn liang_before_measure_words_only() {
        assert_eq!(to_pinyin("2个"), "liang3 ge4");
        assert_eq!(to_pinyin("2月"), "er4 yue4");
        assert_eq!(to_pinyin("2"), "er4");
        assert_eq!(to_pinyin("12个"), "shi2 er4 ge4");
    }

    #[test]
    fn codes_are_read_digit_by_digit_with_yao() {
        assert_eq!(to_pinyin("12345"), "yao1 er4 san1 si4 wu3");
        assert_eq!(to_pinyin("007"), "ling2 ling2 qi1");
        assert_eq!(to_pinyin("尾号1234"), "wei3 hao4 yao1 er4 san1 si4");
        assert_eq!(to_pinyin("分机 8001"), "fen1 ji1 ba1 ling2 ling2 yao1");
        assert_eq!(
            to_pinyin("13812345678"),
            "yao1 san1 ba1, yao1 er4 san1 si4, wu3 liu4 qi1 ba1"
        );
        assert_eq!(
            to_pinyin("4008201234"),
            "si4 ling2 ling2, ba1 er4 ling2, yao1 er4 san1 si4"
        );
        assert_eq!(
            to_pinyin("400-820-1234"),
            "si4 ling2 ling2, ba1 er4 ling2, yao1 er4 san1 si4"
        );
        assert_eq!(
            to_pinyin("123456789"),
            "yao1 er4 san1 si4, wu3 liu4 qi1 ba1 jiu3"
        );
        assert_eq!(
            to_pinyin("12345678901234567"),
            "yao1 er4 san1 si4, wu3 liu4 qi1 ba1, jiu3 ling2 yao1 er4, san1 si4 wu3 liu4 qi1"
        );
        // Too long for a quantity even with a unit after it.
        assert_eq!(
            to_pinyin("1234567890123元"),
            "yao1 er4 san1 si4, wu3 liu4 qi1 ba1, jiu3 ling2 yao1 er4 san1 yuan2"
        );
        assert_eq!(to_pinyin("50000元"), "wu3 wan4 yuan2");
    }

    #[test]
    fn dates_times_and_ranges() {
        assert_eq!(to_pinyin("2026年"), "er4 ling2 er4 liu4 nian2");
        assert_eq!(to_pinyin("2011年"), "er4 ling2 yi1 yi1 nian2");
        assert_eq!(to_pinyin("11月23日"), "shi2 yi1 yue4 er4 shi2 san1 ri4");
        assert_eq!(
            to_pinyin("2026-11-23"),
            "er4 ling2 er4 liu4 nian2 shi2 yi1 yue4 er4 shi2 san1 ri4"
        );
        assert_eq!(to_pinyin("09:00"), "jiu3 dian3");
        assert_eq!(to_pinyin("2:00"), "liang3 dian3");
        assert_eq!(to_pinyin("21:05"), "er4 shi2 yi1 dian3 ling2 wu3 fen1");
        assert_eq!(to_pinyin("12:30"), "shi2 er4 dian3 san1 shi2 fen1");
        assert_eq!(
            to_pinyin("8:05:30"),
            "ba1 dian3 ling2 wu3 fen1 san1 shi2 miao3"
        );
        assert_eq!(
            to_pinyin("09:00-21:00"),
            "jiu3 dian3 dao4 er4 shi2 yi1 dian3"
        );
        assert_eq!(to_pinyin("3-5天"), "san1 dao4 wu3 tian1");
        assert_eq!(to_pinyin("3~5天"), "san1 dao4 wu3 tian1");
    }

    #[test]
    fn malformed_numbers_fall_back_to_plain_reading() {
        assert_eq!(to_pinyin("99:99"), "jiu3 shi2 jiu3, jiu3 shi2 jiu3");
        // Not a date (month 13): seven digits joined by hyphens are a code.
        assert_eq!(
            to_pinyin("2026-13-40"),
            "er4 ling2 er4 liu4, yao1 san1, si4 ling2"
        );
        assert_eq!(to_pinyin("1,2"), "yi1, er4");
        assert_eq!(to_pinyin("5."), "wu3.");
    }
}
