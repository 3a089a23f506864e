//! Loader and validator errors: one fixture per class in tests/data/flows/broken/, each
//! checked for its file:line:col and message, plus inline cases.

use std::path::Path;

use super::*;

/// Every diagnostic line of a fixture (errors and warnings), as `flow check` prints them.
fn diagnostics(file: &str) -> Vec<String> {
    match load_flow(Path::new(file)) {
        Ok(flow) => flow.warnings().iter().map(ToString::to_string).collect(),
        Err(e) => e.diagnostics.iter().map(ToString::to_string).collect(),
    }
}

fn inline(src: &str) -> Vec<String> {
    match load_flow_str(src, Path::new("inline.yaml")) {
        Ok(flow) => flow.warnings().iter().map(ToString::to_string).collect(),
        Err(e) => e.diagnostics.iter().map(ToString::to_string).collect(),
    }
}

fn expect(file: &str, want: &[&str]) {
    assert_eq!(diagnostics(file), want, "diagnostics of {file}");
}

#[test]
fn fixture_bad_duration() {
    expect(
        "tests/data/flows/broken/bad_duration.yaml",
        &[
            "tests/data/flows/broken/bad_duration.yaml:6:28: error: first_digit_timeout: duration \"5\" has no unit; write 5s (seconds) or 5ms",
            "tests/data/flows/broken/bad_duration.yaml:7:28: error: inter_digit_timeout: \"3sec\" has an unknown unit \"sec\" (did you mean \"s\"?); write a number with a unit: 1500ms, 5s, 2m or 1h",
        ],
    );
}

#[test]
fn fixture_bad_menu_key() {
    expect(
        "tests/data/flows/broken/bad_menu_key.yaml",
        &[
            "tests/data/flows/broken/bad_menu_key.yaml:7:13: error: menu key \"1a\" is not keypad input; use digits 0-9, * and #, e.g. \"1\"",
            "tests/data/flows/broken/bad_menu_key.yaml:7:24: error: menu key \"#\" contains the terminator #, which ends input instead; set `terminator: none` or pick another key",
        ],
    );
}

#[test]
fn fixture_bad_range() {
    expect(
        "tests/data/flows/broken/bad_range.yaml",
        &[
            "tests/data/flows/broken/bad_range.yaml:6:22: error: \"09:00\" is not a time range; write START-END, e.g. 09:00-21:00",
            "tests/data/flows/broken/bad_range.yaml:8:43: error: \"fry\" is not a day; write mon, tue, wed, thu, fri, sat or sun (did you mean \"fri\"?)",
        ],
    );
}

#[test]
fn fixture_bad_regex() {
    expect(
        "tests/data/flows/broken/bad_regex.yaml",
        &[
            "tests/data/flows/broken/bad_regex.yaml:6:16: error: pattern \"[0-9{6,12}\" is not a valid regular expression: unclosed character class",
        ],
    );
}

#[test]
fn fixture_bad_template() {
    expect(
        "tests/data/flows/broken/bad_template.yaml",
        &[
            "tests/data/flows/broken/bad_template.yaml:5:10: error: say: unknown filter \"digit\" in {{order | digit}}; filters are: digits (did you mean \"digits\"?)",
        ],
    );
}

#[test]
fn fixture_bad_time() {
    expect(
        "tests/data/flows/broken/bad_time.yaml",
        &[
            "tests/data/flows/broken/bad_time.yaml:6:22: error: hour 25 in \"25:00\" is out of range: hours run 00–23, or 24:00 as an end; write e.g. 21:00",
        ],
    );
}

#[test]
fn fixture_bad_timezone() {
    expect(
        "tests/data/flows/broken/bad_timezone.yaml",
        &[
            "tests/data/flows/broken/bad_timezone.yaml:2:11: error: \"Asia/Shangai\" is not a time zone; write an IANA name such as Asia/Shanghai or America/New_York (did you mean \"Asia/Shanghai\"?)",
        ],
    );
}

#[test]
fn fixture_loop() {
    expect(
        "tests/data/flows/broken/loop.yaml",
        &[
            "tests/data/flows/broken/loop.yaml:4:3: error: nodes \"a\", \"b\", \"c\" form a loop that never waits for the caller and has no way out: the call would spin forever; route one of them to a say, gather or hangup node",
        ],
    );
}

#[test]
fn fixture_many_errors() {
    expect(
        "tests/data/flows/broken/many_errors.yaml",
        &[
            "tests/data/flows/broken/many_errors.yaml:2:11: error: \"Mars/Olympus\" is not a time zone; write an IANA name such as Asia/Shanghai or America/New_York",
            "tests/data/flows/broken/many_errors.yaml:9:20: error: max: \"forever\" is not a duration; write a number with a unit: 1500ms, 5s, 2m or 1h",
            "tests/data/flows/broken/many_errors.yaml:10:11: error: node \"middle\" goes next to \"finish\", which does not exist; nodes are: begin, middle",
        ],
    );
}

#[test]
fn fixture_max_less_than_min() {
    expect(
        "tests/data/flows/broken/max_less_than_min.yaml",
        &[
            "tests/data/flows/broken/max_less_than_min.yaml:7:19: error: max_digits 4 is less than min_digits 6; raise max_digits or lower min_digits",
        ],
    );
}

#[test]
fn fixture_missing_wav() {
    expect(
        "tests/data/flows/broken/missing_wav.yaml",
        &[
            "tests/data/flows/broken/missing_wav.yaml:5:11: error: play: file tests/data/flows/broken/prompts/hold-music.wav does not exist; paths are relative to the flow file's directory (tests/data/flows/broken)",
        ],
    );
}

#[test]
fn fixture_not_a_wav() {
    expect(
        "tests/data/flows/broken/not_a_wav.yaml",
        &[
            "tests/data/flows/broken/not_a_wav.yaml:5:11: error: play: tests/data/flows/broken/not-a-wav.wav is not a readable WAV file (Ill-formed WAVE file: no RIFF tag found); convert it, e.g. sox in.mp3 -r 8000 -c 1 out.wav",
        ],
    );
}

#[test]
fn fixture_two_kinds() {
    expect(
        "tests/data/flows/broken/two_kinds.yaml",
        &[
            "tests/data/flows/broken/two_kinds.yaml:6:5: error: node \"a\" has both `say` and `gather`; a node does one thing: split it into two nodes linked by next",
            "tests/data/flows/broken/two_kinds.yaml:8:3: error: node \"b\" does not say what it does; give it one of: say, play, gather, condition, set, goto, subflow, webhook, record, transfer, enqueue, hangup (did you mean \"say\"?)",
        ],
    );
}

#[test]
fn fixture_unknown_key() {
    expect(
        "tests/data/flows/broken/unknown_key.yaml",
        &[
            "tests/data/flows/broken/unknown_key.yaml:6:7: error: unknown key `promt` in the gather of node \"menu\"; allowed keys are: prompt, no_input, invalid, min_digits, max_digits, terminator, first_digit_timeout, inter_digit_timeout, retries, pattern, into (did you mean \"prompt\"?)",
            "tests/data/flows/broken/unknown_key.yaml:8:5: error: unknown key `on_failur` in node \"menu\"; allowed keys are: gather, menu, next, on_failure, note (did you mean \"on_failure\"?)",
        ],
    );
}

#[test]
fn fixture_unknown_node() {
    expect(
        "tests/data/flows/broken/unknown_node.yaml",
        &[
            "tests/data/flows/broken/unknown_node.yaml:10:30: error: node \"menu\" routes \"3\" to \"ordr\", which does not exist; nodes are: greeting, menu, order (did you mean \"order\"?)",
        ],
    );
}

#[test]
fn fixture_yaml_syntax() {
    expect(
        "tests/data/flows/broken/yaml_syntax.yaml",
        &[
            "tests/data/flows/broken/yaml_syntax.yaml:5:10: error: this is not valid YAML: while scanning a quoted scalar, found unexpected end of stream",
        ],
    );
}

#[test]
fn fixture_unreachable_and_unknown_var() {
    expect(
        "tests/data/flows/warnings/unreachable_and_unknown_var.yaml",
        &[
            "tests/data/flows/warnings/unreachable_and_unknown_var.yaml:6:10: warning: variable `ordr` is never set in this flow, so it reads as empty text (did you mean \"order\"?); set it in vars:, a set node, a gather's into or a webhook's sets",
            "tests/data/flows/warnings/unreachable_and_unknown_var.yaml:10:3: warning: node \"orphan\" is never reached from start node \"a\"; link it from another node (or a webhook's may_goto) or remove it",
        ],
    );
}

#[test]
fn missing_file_is_reported_at_1_1() {
    let d = diagnostics("tests/data/flows/broken/no-such-file.yaml");
    assert_eq!(d.len(), 1);
    assert!(
        d[0].starts_with(
            "tests/data/flows/broken/no-such-file.yaml:1:1: error: cannot read the flow file"
        ),
        "{d:?}"
    );
}

#[test]
fn empty_and_skeleton_files() {
    assert_eq!(
        inline(""),
        [
            "inline.yaml:1:1: error: the file is empty; a flow needs at least `flow: NAME`, `start: NODE` and `nodes:`"
        ]
    );
    let d = inline("flow: x\n");
    assert!(d.iter().any(|l| l.contains("missing `nodes:`")), "{d:?}");
    assert!(
        d.iter().any(|l| l.contains("missing `start: NODE`")),
        "{d:?}"
    );
    let d = inline("start: a\nnodes:\n  a:\n    hangup:\n");
    assert!(
        d.iter().any(|l| l.contains("missing `flow: NAME`")),
        "{d:?}"
    );
}

#[test]
fn start_must_name_a_node() {
    assert_eq!(
        inline("flow: inline\nstart: begn\nnodes:\n  begin:\n    hangup:\n"),
        [
            "inline.yaml:2:8: error: start node is \"begn\", which does not exist; nodes are: begin (did you mean \"begin\"?)"
        ]
    );
}

#[test]
fn call_variables_cannot_be_assigned_and_names_are_checked() {
    let d = inline("flow: inline\nstart: a\nnodes:\n  a:\n    set: { caller: x, 9lives: y }\n");
    assert_eq!(
        d,
        [
            "inline.yaml:5:12: error: `caller` is set by the call and cannot be assigned; choose another name",
            "inline.yaml:5:23: error: \"9lives\" is not a variable name; use letters, digits and _ (starting with a letter), e.g. order_number",
        ]
    );
}

#[test]
fn branch_after_else_and_branch_without_goto() {
    let d = inline(
        "flow: inline\nstart: a\nnodes:\n  a:\n    condition:\n      - else: b\n      - if: { holiday: true }\n        goto: b\n  b:\n    hangup:\n",
    );
    assert_eq!(
        d,
        [
            "inline.yaml:7:9: error: this branch comes after `else: b` and is never tried; move else to the end"
        ]
    );
    let d = inline(
        "flow: inline\nstart: a\nnodes:\n  a:\n    condition:\n      - if: { holiday: true }\n      - else: b\n  b:\n    hangup:\n",
    );
    assert_eq!(
        d,
        ["inline.yaml:6:9: error: this branch has `if` but no `goto: NODE`"]
    );
}

#[test]
fn mixed_and_empty_conditions() {
    let d = inline(
        "flow: inline\nstart: a\nnodes:\n  a:\n    condition:\n      - if: { hours: \"09:00-18:00\", caller_in: [\"1\"] }\n        goto: b\n      - if: { eq: x }\n        goto: b\n      - if: { caller_in: vipz }\n        goto: b\n      - else: b\n  b:\n    hangup:\n",
    );
    assert_eq!(
        d,
        [
            "inline.yaml:6:13: error: a condition tests one thing, this one mixes hours/days and caller_in; combine them with all: [...]",
            "inline.yaml:8:13: error: a comparison needs `var: NAME` to say which variable it tests",
            "inline.yaml:10:26: error: caller_in names list \"vipz\", which is not under `lists:`; lists are: (none)",
        ]
    );
}

#[test]
fn webhook_url_transfer_target_and_key_length() {
    let d = inline(
        "flow: inline\nstart: w\nnodes:\n  w:\n    webhook: ftp://crm/lookup\n    next: t\n  t:\n    transfer: pbx.example.com\n    next: m\n  m:\n    gather: { max_digits: 1 }\n    menu: { \"12\": w }\n",
    );
    assert_eq!(
        d,
        [
            "inline.yaml:5:14: error: webhook url \"ftp://crm/lookup\" must start with http:// or https:// (or be a {{variable}} holding one)",
            "inline.yaml:8:15: error: transfer to \"pbx.example.com\" is not a SIP URI or number; write e.g. sip:1001@pbx.example.com or 4008001234",
            "inline.yaml:12:13: error: menu key \"12\" has 2 digits but max_digits is 1; it can never be entered",
        ]
    );
}

#[test]
fn menu_that_loops_back_to_itself_is_fine() {
    let d = inline(
        "flow: inline\nstart: m\nnodes:\n  m:\n    gather: { prompt: Press 9 to repeat. }\n    menu: { \"9\": m, \"1\": bye }\n  bye:\n    hangup:\n",
    );
    assert!(d.is_empty(), "{d:?}");
}

#[test]
fn shipped_examples_load_without_warnings() {
    for f in ["ivr-flows/ecommerce-zh.yaml", "ivr-flows/support-en.yaml"] {
        assert_eq!(diagnostics(f), Vec::<String>::new(), "{f}");
    }
    let zh = load_flow(Path::new("ivr-flows/ecommerce-zh.yaml")).expect("loads");
    assert_eq!(zh.name, "ecommerce-zh");
    assert_eq!(zh.language, Voice::Zh);
    assert_eq!(zh.timezone, chrono_tz::Tz::Asia__Shanghai);
    // Every constant prompt, and none with a {{variable}}, is there to pre-render.
    let p = zh.static_prompts();
    assert!(p.contains(&Speech::Tts {
        voice: Voice::Zh,
        text: "正在为您转接人工客服，请稍候。".into()
    }));
    assert!(
        !p.iter()
            .any(|s| matches!(s, Speech::Tts { text, .. } if text.contains("{{")))
    );
}

#[test]
fn any_input_is_handled_without_panic() {
    // Odd but valid YAML shapes anywhere must produce diagnostics, never a panic.
    let cases = [
        "[]",
        "42",
        "flow: [a]\nstart: {x: 1}\nnodes: [1, 2]\n",
        "flow: x\nstart: a\nnodes:\n  a: [1]\n",
        "flow: x\nstart: a\nnodes:\n  a:\n    gather: [1]\n    menu: [1]\n",
        "flow: x\nstart: a\nnodes:\n  a:\n    condition: {if: 1}\n",
        "flow: x\nstart: a\nnodes:\n  a:\n    condition:\n      - if: {all: 3}\n        goto: a\n      - if: {not: {not: {not: {holiday: maybe}}}}\n        goto: a\n",
        "flow: x\nstart: a\nnodes:\n  a:\n    say: {{x}}\n",
        "flow: x\nstart: a\nholidays: 2026\nworkdays: [[1]]\nlists: 3\nvars: [1]\nnodes:\n  a:\n    hangup: [x]\n",
        "flow: x\nstart: a\nnodes:\n  a:\n    record: yes\n  b:\n    transfer: {}\n  c:\n    enqueue: {}\n  d:\n    webhook: {}\n  e:\n    subflow: [1]\n",
        "\u{feff}flow: x\n",
        "flow: x\nstart: a\nnodes:\n  a: &a\n    goto: a\n  b: *a\n",
    ];
    for src in cases {
        let d = inline(src);
        assert!(!d.is_empty(), "expected diagnostics for {src:?}");
    }
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    const SHIPPED: &str = include_str!("../../ivr-flows/support-en.yaml");

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Cutting any span out of a real flow yields a flow or diagnostics, never a panic.
        #[test]
        fn damaged_real_flow(start in 0usize..SHIPPED.len(), len in 0usize..200) {
            let mut s: String = SHIPPED.chars().take(start).collect();
            s.extend(SHIPPED.chars().skip(start + len));
            let _ = load_flow_str(&s, Path::new("ivr-flows/damaged.yaml"));
        }

        /// Arbitrary YAML-ish text.
        #[test]
        fn yamlish_text(src in "[a-z_:{}\\[\\],\"'#&*!|>\\- \n0-9.~]{0,300}") {
            let _ = load_flow_str(&src, Path::new("x.yaml"));
        }
    }
}
