//! Text with `{{variable}}` placeholders, optionally filtered: `{{order | digits}}` reads a
//! number digit by digit. An unknown variable renders as empty text at run time; `flow
//! check` warns about names that nothing sets.

use std::collections::BTreeMap;

use super::Voice;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// One character at a time, separated by spaces, in words the voice reads well.
    Digits,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var {
        name: String,
        filter: Option<Filter>,
    },
}

/// A parsed template; constant when it has no placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

const FILTERS: [&str; 1] = ["digits"];

pub fn valid_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Template {
    /// Parses `text`; the error says what is wrong with the first bad placeholder.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or_else(|| {
                "a `{{` has no matching `}}`; write {{name}} (or remove the braces)".to_string()
            })?;
            let inner = after[..close].trim();
            let (name, filter) = match inner.split_once('|') {
                None => (inner, None),
                Some((n, f)) => {
                    let f = f.trim();
                    let filter = match f {
                        "digits" => Filter::Digits,
                        other => {
                            return Err(format!(
                                "unknown filter \"{other}\" in {{{{{inner}}}}}; filters are: {}{}",
                                FILTERS.join(", "),
                                super::diag::did_you_mean(other, FILTERS)
                            ));
                        }
                    };
                    (n.trim(), Some(filter))
                }
            };
            if !valid_var_name(name) {
                return Err(format!(
                    "\"{{{{{inner}}}}}\" does not name a variable; names are letters, digits and _, \
                     e.g. {{{{caller}}}} or {{{{order | digits}}}}"
                ));
            }
            parts.push(Part::Var {
                name: name.to_string(),
                filter,
            });
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// A template that is exactly `text`, with no placeholders.
    pub fn literal(text: &str) -> Template {
        Template {
            parts: vec![Part::Text(text.to_string())],
        }
    }

    /// The text when there are no placeholders.
    pub fn as_constant(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Var { .. } => return None,
            }
        }
        Some(out)
    }

    /// The variables this template reads.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var { name, .. } => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    pub fn render(&self, vars: &BTreeMap<String, String>, voice: Voice) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Var { name, filter } => {
                    let value = vars.get(name).map(String::as_str).unwrap_or("");
                    match filter {
                        None => out.push_str(value),
                        Some(Filter::Digits) => out.push_str(&spell_digits(value, voice)),
                    }
                }
            }
        }
        out
    }
}

/// `12#` → "1 2 pound" (English) or "幺 二 井" (Mandarin). Mandarin reads 1 as 幺 (yāo) in
/// numbers spoken digit by digit, as Chinese call centers do, so it is not heard as 七.
pub fn spell_digits(value: &str, voice: Voice) -> String {
    let words: Vec<String> = value
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match voice {
            Voice::En => match c {
                '*' => "star".to_string(),
                '#' => "pound".to_string(),
                c => c.to_string(),
            },
            Voice::Zh => match c {
                '0' => "零".to_string(),
                '1' => "幺".to_string(),
                '2' => "二".to_string(),
                '3' => "三".to_string(),
                '4' => "四".to_string(),
                '5' => "五".to_string(),
                '6' => "六".to_string(),
                '7' => "七".to_string(),
                '8' => "八".to_string(),
                '9' => "九".to_string(),
                '*' => "星".to_string(),
                '#' => "井".to_string(),
                c => c.to_string(),
            },
        })
        .collect();
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn renders_vars_and_filters() {
        let t =
            Template::parse("订单{{ order | digits }}状态：{{status}}。{{missing}}").expect("ok");
        assert_eq!(t.as_constant(), None);
        assert_eq!(t.vars().collect::<Vec<_>>(), ["order", "status", "missing"]);
        let v = vars(&[("order", "1024"), ("status", "已发货")]);
        assert_eq!(t.render(&v, Voice::Zh), "订单幺 零 二 四状态：已发货。");
        let t = Template::parse("Order {{order|digits}}.").expect("ok");
        assert_eq!(t.render(&v, Voice::En), "Order 1 0 2 4.");
        assert_eq!(spell_digits("12*#", Voice::En), "1 2 star pound");
    }

    #[test]
    fn constants() {
        let t = Template::parse("您好").expect("ok");
        assert_eq!(t.as_constant().as_deref(), Some("您好"));
        assert_eq!(
            Template::parse("").expect("ok").as_constant().as_deref(),
            Some("")
        );
        // A lone `}}` or single brace is plain text.
        assert_eq!(
            Template::parse("a } b }} {c}")
                .expect("ok")
                .as_constant()
                .as_deref(),
            Some("a } b }} {c}")
        );
    }

    #[test]
    fn errors_say_what_to_write() {
        let e = Template::parse("hi {{caller").expect_err("unclosed");
        assert!(e.contains("no matching `}}`"), "{e}");
        let e = Template::parse("{{x | digit}}").expect_err("filter");
        assert!(e.contains("did you mean \"digits\""), "{e}");
        let e = Template::parse("{{ }}").expect_err("empty");
        assert!(e.contains("does not name a variable"), "{e}");
        assert!(Template::parse("{{1abc}}").is_err());
    }
}
