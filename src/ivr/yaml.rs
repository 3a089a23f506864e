//! A YAML document as a tree of positioned values, built from saphyr-parser events.
//!
//! Why not serde: serde stops at the first error, and it turns `0138…` into a number. Flow
//! files need every problem reported at once with the line and column of the offending
//! value, and phone numbers, menu keys and times kept exactly as written. So every scalar
//! stays text here; the flow loader decides what each one means.

use std::collections::BTreeMap;
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// A 1-based line and column (the column counts characters, as editors do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl Pos {
    pub fn new(line: u32, col: u32) -> Pos {
        Pos { line, col }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// One value with the position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct YNode {
    pub pos: Pos,
    pub value: YValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum YValue {
    /// `~`, `null` or nothing at all (`key:` with no value).
    Null,
    /// Any other scalar, exactly as written (quotes removed).
    Str(String),
    Seq(Vec<YNode>),
    /// Entries in file order; keys are scalars (a non-scalar key is a parse error).
    Map(Vec<(YKey, YNode)>),
}

/// A mapping key and where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct YKey {
    pub name: String,
    pub pos: Pos,
}

impl YNode {
    /// What this value is, for messages like "expected a list, found text".
    pub fn kind_name(&self) -> &'static str {
        match self.value {
            YValue::Null => "nothing",
            YValue::Str(_) => "text",
            YValue::Seq(_) => "a list",
            YValue::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            YValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&YNode> {
        match &self.value {
            YValue::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Why a document is not YAML at all (or not a kind we accept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

// Nesting and alias expansion are bounded so that no input can exhaust the stack or memory.
const MAX_DEPTH: usize = 64;
const MAX_NODES: usize = 200_000;

/// Parses one YAML document. An empty file is `Null`. Several documents, non-scalar keys,
/// duplicate keys, excessive nesting and alias bombs are errors.
pub fn parse(src: &str) -> Result<YNode, YamlError> {
    let mut parser = Parser::new_from_str(src);
    let mut b = Builder::default();
    let mut documents = 0usize;
    loop {
        let (event, span) = match parser.next_event() {
            None => break,
            Some(Ok(e)) => e,
            Some(Err(e)) => {
                return Err(YamlError {
                    pos: Pos::new(to_u32(e.marker().line()), to_u32(e.marker().col() + 1)),
                    message: format!("this is not valid YAML: {}", e.info()),
                });
            }
        };
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(YamlError {
                        pos: pos_of(&span),
                        message: "a flow file holds one YAML document; remove this `---` and \
                                  put the second flow in its own file"
                            .into(),
                    });
                }
            }
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
            other => b.event(other, &span)?,
        }
    }
    Ok(b.root.unwrap_or(YNode {
        pos: Pos::new(1, 1),
        value: YValue::Null,
    }))
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn pos_of(span: &Span) -> Pos {
    Pos::new(to_u32(span.start.line()), to_u32(span.start.col() + 1))
}

enum Open {
    Seq(YNode, usize),
    /// A mapping, its anchor, and the key read but not yet given a value.
    Map(YNode, usize, Option<YKey>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    root: Option<YNode>,
    anchors: BTreeMap<usize, YNode>,
    nodes: usize,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: &Span) -> Result<(), YamlError> {
        let pos = pos_of(span);
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let plain = matches!(style, ScalarStyle::Plain);
                let value = if plain && matches!(&*text, "" | "~" | "null" | "Null" | "NULL") {
                    YValue::Null
                } else {
                    YValue::Str(text.into_owned())
                };
                self.complete(YNode { pos, value }, anchor)
            }
            Event::SequenceStart(anchor, _) => self.open(Open::Seq(
                YNode {
                    pos,
                    value: YValue::Seq(Vec::new()),
                },
                anchor,
            )),
            Event::MappingStart(anchor, _) => self.open(Open::Map(
                YNode {
                    pos,
                    value: YValue::Map(Vec::new()),
                },
                anchor,
                None,
            )),
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Open::Seq(node, anchor)) | Some(Open::Map(node, anchor, None)) => {
                    self.complete(node, anchor)
                }
                Some(Open::Map(_, _, Some(key))) => Err(YamlError {
                    pos: key.pos,
                    message: format!("key `{}` has no value", key.name),
                }),
                None => Ok(()),
            },
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(node) => {
                    let copy = YNode {
                        pos,
                        value: node.value.clone(),
                    };
                    self.nodes = self.nodes.saturating_add(count_nodes(&copy));
                    self.check_budget(pos)?;
                    self.complete(copy, 0)
                }
                None => Err(YamlError {
                    pos,
                    message: "this alias names an anchor that is not defined before it".into(),
                }),
            },
            _ => Ok(()),
        }
    }

    fn check_budget(&self, pos: Pos) -> Result<(), YamlError> {
        if self.nodes > MAX_NODES {
            return Err(YamlError {
                pos,
                message: format!(
                    "the document expands to more than {MAX_NODES} values (aliases repeat \
                     their anchor); a flow file needs far fewer"
                ),
            });
        }
        Ok(())
    }

    fn open(&mut self, open: Open) -> Result<(), YamlError> {
        let pos = match &open {
            Open::Seq(n, _) | Open::Map(n, _, _) => n.pos,
        };
        // A collection used as a key: reject before descending into it.
        if let Some(Open::Map(_, _, None)) = self.stack.last() {
            return Err(YamlError {
                pos,
                message: "a key must be plain text, not a list or mapping".into(),
            });
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError {
                pos,
                message: format!("values are nested more than {MAX_DEPTH} levels deep"),
            });
        }
        self.nodes += 1;
        self.check_budget(pos)?;
        self.stack.push(open);
        Ok(())
    }

    fn complete(&mut self, node: YNode, anchor: usize) -> Result<(), YamlError> {
        self.nodes += 1;
        self.check_budget(node.pos)?;
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Open::Seq(seq, _)) => {
                if let YValue::Seq(items) = &mut seq.value {
                    items.push(node);
                }
                Ok(())
            }
            Some(Open::Map(map, _, pending)) => match pending.take() {
                None => {
                    let name = match node.value {
                        YValue::Str(s) => s,
                        YValue::Null => String::new(),
                        _ => {
                            return Err(YamlError {
                                pos: node.pos,
                                message: "a key must be plain text, not a list or mapping".into(),
                            });
                        }
                    };
                    if let YValue::Map(entries) = &map.value
                        && let Some((first, _)) = entries.iter().find(|(k, _)| k.name == name)
                    {
                        return Err(YamlError {
                            pos: node.pos,
                            message: format!(
                                "key `{name}` appears twice in this mapping (first at line {}); \
                                 keep one",
                                first.pos.line
                            ),
                        });
                    }
                    *pending = Some(YKey {
                        name,
                        pos: node.pos,
                    });
                    Ok(())
                }
                Some(key) => {
                    if let YValue::Map(entries) = &mut map.value {
                        entries.push((key, node));
                    }
                    Ok(())
                }
            },
        }
    }
}

fn count_nodes(n: &YNode) -> usize {
    // Iterative, so a deep copy cannot overflow the stack.
    let mut count = 0usize;
    let mut todo = vec![n];
    while let Some(n) = todo.pop() {
        count += 1;
        match &n.value {
            YValue::Seq(items) => todo.extend(items.iter()),
            YValue::Map(entries) => todo.extend(entries.iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(node: &YNode) -> &str {
        node.as_str().expect("a string")
    }

    #[test]
    fn keeps_scalars_as_written_with_positions() {
        let doc = parse("a: 0138\nb:\n  - '09:00'\n  - x\nc:\n").expect("valid");
        let a = doc.get("a").expect("a");
        assert_eq!(s(a), "0138");
        assert_eq!(a.pos, Pos::new(1, 4));
        let b = doc.get("b").expect("b");
        let YValue::Seq(items) = &b.value else {
            panic!("expected a list, got {b:?}")
        };
        assert_eq!(s(&items[0]), "09:00");
        assert_eq!(items[0].pos, Pos::new(3, 5));
        assert_eq!(items[1].pos, Pos::new(4, 5));
        assert_eq!(doc.get("c").expect("c").value, YValue::Null);
        let YValue::Map(entries) = &doc.value else {
            panic!("expected a map")
        };
        assert_eq!(entries[2].0.pos, Pos::new(5, 1));
    }

    #[test]
    fn flow_style_and_unicode_columns() {
        let doc = parse("say: \"您好\"\nmenu: { \"1\": order, 2: returns }\n").expect("valid");
        assert_eq!(s(doc.get("say").expect("say")), "您好");
        let menu = doc.get("menu").expect("menu");
        assert_eq!(s(menu.get("2").expect("2")), "returns");
        assert_eq!(menu.get("2").expect("2").pos, Pos::new(2, 24));
    }

    #[test]
    fn duplicate_key_is_an_error_at_the_second() {
        let e = parse("a: 1\nb: 2\na: 3\n").expect_err("duplicate");
        assert_eq!(e.pos, Pos::new(3, 1));
        assert!(e.message.contains("first at line 1"), "{}", e.message);
    }

    #[test]
    fn syntax_error_has_a_position() {
        let e = parse("a: [1, 2\nb: 3\n").expect_err("unclosed");
        assert!(e.pos.line >= 1, "{e:?}");
        assert!(
            e.message.starts_with("this is not valid YAML"),
            "{}",
            e.message
        );
    }

    #[test]
    fn second_document_is_rejected() {
        let e = parse("a: 1\n---\nb: 2\n").expect_err("two docs");
        assert_eq!(e.pos.line, 2);
    }

    #[test]
    fn aliases_copy_and_bombs_are_bounded() {
        let doc = parse("x: &v [1, 2]\ny: *v\n").expect("valid");
        assert_eq!(
            doc.get("x").map(|n| &n.value),
            doc.get("y").map(|n| &n.value)
        );
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("l{}", i - 1)
            };
            bomb.push_str(&format!("l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        let e = parse(&bomb).expect_err("bomb");
        assert!(e.message.contains("expands to more than"), "{}", e.message);
    }

    #[test]
    fn deep_nesting_is_refused_without_overflow() {
        let deep = "[".repeat(10_000);
        let e = parse(&deep).expect_err("too deep");
        assert!(
            e.message.contains("nested") || e.message.contains("not valid YAML"),
            "{}",
            e.message
        );
    }

    #[test]
    fn empty_input_is_null() {
        assert_eq!(parse("").expect("empty").value, YValue::Null);
        assert_eq!(
            parse("# only a comment\n").expect("empty").value,
            YValue::Null
        );
    }
}
