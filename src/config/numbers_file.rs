//! Reading `[numbers]` of hotline.toml into a [`NumberPlan`]. Each entry is
//! `"NUMBER" = "app"` or `"NUMBER" = { app = "app", record = false }`, plus `default = "app"`.
//! Values are checked by hand (not by serde) so that every bad entry is reported at once.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::{Spanned, Value};

use super::error::{Problem, Source, closest, unknown_key};
use super::numbers::{APP_NAMES, DEFAULT_APP, NumberPlan, NumberRoute};

/// `[numbers]` as toml gives it: values with their positions. Keys are plain strings because
/// toml 0.8 has no span for a key written in a table header (`[numbers."9196"]`) and then
/// fails to deserialize a `Spanned` key; [`key_span`] finds keys from their values instead.
pub(crate) type RawNumbers = BTreeMap<String, Spanned<Value>>;

/// Longest number key accepted (E.164 allows 15 digits; internal plans are shorter still).
const MAX_NUMBER_LEN: usize = 32;

/// What a key may look like, for messages.
const NUMBER_FORMS: &str = "default = \"welcome\", or a number: digits with an optional leading \
                            + and an optional trailing * for a prefix, such as \"9196\", \
                            \"+861012345678\" or \"400800*\"";

/// Parses `[numbers]`; problems go to `problems`. Routes come out in file order.
pub(crate) fn parse_numbers(
    src: &Source<'_>,
    raw: &RawNumbers,
    problems: &mut Vec<Problem>,
) -> NumberPlan {
    let mut plan = NumberPlan {
        routes: Vec::new(),
        default_app: DEFAULT_APP.to_string(),
        default_route: None,
    };
    let mut entries: Vec<_> = raw.iter().collect();
    entries.sort_by_key(|(_, v)| v.span().start);
    for (name, value) in entries {
        if name == "default" {
            match value.get_ref() {
                Value::String(app) if app == "flow" => problems.push(src.problem(
                    value.span(),
                    "numbers.default: name the flow, such as default = { flow = \"support-en\" }",
                )),
                Value::String(app) => match check_app(app) {
                    Ok(()) => plan.default_app = app.clone(),
                    Err(e) => {
                        problems.push(src.problem(value.span(), format!("numbers.default: {e}")))
                    }
                },
                table @ Value::Table(_) => match route_value("default", table) {
                    Ok(route) if route.flow.is_some() => {
                        plan.default_route = Some(NumberRoute {
                            number: "default".into(),
                            ..route
                        })
                    }
                    Ok(route) => plan.default_app = route.app,
                    Err(e) => {
                        problems.push(src.problem(value.span(), format!("numbers.default: {e}")))
                    }
                },
                _ => problems.push(src.problem(
                    value.span(),
                    "numbers.default: write the app for numbers not listed as a string, such as \
                     default = \"welcome\" (or \"reject\"), or a flow: default = { flow = \"support-en\" }",
                )),
            }
            continue;
        }
        if let Err(e) = check_number(name) {
            let at = key_span(src.text, value.span());
            problems.push(src.problem(at, format!("numbers: {e}")));
            continue;
        }
        let ctx = format!("numbers.\"{name}\"");
        match route_value(name, value.get_ref()) {
            Ok(route) => plan.routes.push(NumberRoute {
                number: name.clone(),
                ..route
            }),
            Err(e) => problems.push(src.problem(value.span(), format!("{ctx}: {e}"))),
        }
    }
    plan
}

/// Where the key of the value at `value` starts: the first non-blank character of the value's
/// line (`"9196" = …`, or the `[numbers."9196"]` header, whose span is the value's own).
fn key_span(text: &str, value: Range<usize>) -> Range<usize> {
    let start = value.start.min(text.len());
    let line_start = text
        .get(..start)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |i| i + 1);
    let indent = text
        .get(line_start..start)
        .map_or(0, |line| line.len() - line.trim_start().len());
    line_start + indent..value.end
}

/// A number key: `+`? digits `*`?, at least one digit.
fn check_number(key: &str) -> Result<(), String> {
    let body = key.strip_prefix('+').unwrap_or(key);
    let digits = body.strip_suffix('*').unwrap_or(body);
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        if key.len() > MAX_NUMBER_LEN {
            return Err(format!(
                "\"{key}\" is longer than {MAX_NUMBER_LEN} characters; write the number as \
                 dialled, or a shorter prefix ending in *"
            ));
        }
        return Ok(());
    }
    if digits.is_empty() && key.contains('*') {
        return Err(format!(
            "\"{key}\" has no digits; for every number not listed write default = \"welcome\""
        ));
    }
    let hint = closest(key, std::iter::once("default"))
        .map(|d| format!(" did you mean \"{d}\"?"))
        .unwrap_or_default();
    Err(format!(
        "\"{}\" is not a number;{hint} keys are {NUMBER_FORMS}",
        key.escape_debug()
    ))
}

/// One of [`APP_NAMES`].
fn check_app(app: &str) -> Result<(), String> {
    if APP_NAMES.contains(&app) {
        return Ok(());
    }
    let hint = closest(app, APP_NAMES.into_iter())
        .map(|d| format!(" did you mean \"{d}\"?"))
        .unwrap_or_default();
    Err(format!(
        "unknown app \"{}\";{hint} valid apps: {}",
        app.escape_debug(),
        APP_NAMES.join(", ")
    ))
}

/// `"app"` or `{ app = "app", record = BOOL }` or `{ flow = "name", tenant = "t", record =
/// BOOL, vars = { k = "v" } }`. The number field of the result is left empty.
fn route_value(number: &str, value: &Value) -> Result<NumberRoute, String> {
    let example = format!("\"{number}\" = {{ app = \"welcome\", record = false }}");
    match value {
        Value::String(app) if app == "flow" => Err(format!(
            "name the flow, such as \"{number}\" = {{ flow = \"ecommerce-zh\" }}"
        )),
        Value::String(app) => check_app(app).map(|()| NumberRoute {
            app: app.clone(),
            ..NumberRoute::default()
        }),
        Value::Table(t) => {
            let valid = ["app", "record", "flow", "tenant", "vars"].map(String::from);
            if let Some(unknown) = t.keys().find(|k| !valid.contains(k)) {
                return Err(unknown_key(unknown, &valid, ""));
            }
            let flow = match t.get("flow") {
                Some(Value::String(f)) => Some(check_name("flow", f)?),
                Some(_) => {
                    return Err("flow must be a string, such as flow = \"ecommerce-zh\"".into());
                }
                None => None,
            };
            let app = match (t.get("app"), &flow) {
                (Some(Value::String(app)), Some(_)) if app != "flow" => {
                    return Err(format!(
                        "app = \"{app}\" and flow = … disagree: a number runs either an app or a \
                         flow; remove one"
                    ));
                }
                (_, Some(_)) => "flow".to_string(),
                (Some(Value::String(app)), None) if app == "flow" => {
                    return Err("app = \"flow\" needs flow = \"NAME\" too".into());
                }
                (Some(Value::String(app)), None) => {
                    check_app(app)?;
                    app.clone()
                }
                (Some(_), None) => {
                    return Err("app must be a string, such as app = \"welcome\"".into());
                }
                (None, None) => {
                    return Err(format!(
                        "missing key \"app\" or \"flow\"; write e.g. {example} or \
                         \"{number}\" = {{ flow = \"ecommerce-zh\" }}"
                    ));
                }
            };
            let record = match t.get("record") {
                Some(Value::Boolean(b)) => Some(*b),
                Some(_) => {
                    return Err("record must be true or false, such as record = false".into());
                }
                None => None,
            };
            let tenant = match t.get("tenant") {
                Some(Value::String(v)) => Some(check_name("tenant", v)?),
                Some(_) => return Err("tenant must be a string, such as tenant = \"acme\"".into()),
                None => None,
            };
            let mut vars = std::collections::BTreeMap::new();
            match t.get("vars") {
                Some(Value::Table(vt)) => {
                    for (k, v) in vt {
                        let v = match v {
                            Value::String(s) => s.clone(),
                            Value::Integer(_) | Value::Float(_) | Value::Boolean(_) => {
                                v.to_string()
                            }
                            _ => {
                                return Err(format!(
                                    "vars.{k} must be text, a number or true/false, such as \
                                     {k} = \"http://127.0.0.1:8089/orders/lookup\""
                                ));
                            }
                        };
                        vars.insert(k.clone(), v);
                    }
                }
                Some(_) => {
                    return Err(
                        "vars must be a table, such as vars = { orders_url = \"http://…\" }".into(),
                    );
                }
                None => {}
            }
            if flow.is_none() && (tenant.is_some() || !vars.is_empty()) {
                return Err("tenant and vars only apply to a flow: add flow = \"NAME\"".into());
            }
            Ok(NumberRoute {
                number: String::new(),
                app,
                record,
                flow,
                tenant,
                vars,
            })
        }
        _ => Err(format!(
            "write the app's name, such as \"{number}\" = \"echo\", or a table such as {example}"
        )),
    }
}

/// Flow and tenant names: letters, digits, `-`, `_`, `.` (flows load later, so only the
/// spelling is checked here; `hotline flow check` checks the flows themselves).
fn check_name(what: &str, v: &str) -> Result<String, String> {
    if !v.is_empty()
        && v.len() <= 64
        && v.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        Ok(v.to_string())
    } else {
        Err(format!(
            "{what} \"{}\": use 1-64 letters, digits, '-', '_' or '.'",
            v.escape_debug()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct File {
        numbers: RawNumbers,
    }

    fn parse(text: &str) -> (NumberPlan, Vec<String>) {
        let src = Source {
            name: "hotline.toml".into(),
            text,
        };
        let file: File = match toml::from_str(text) {
            Ok(f) => f,
            Err(e) => panic!("test input must be valid TOML: {e}"),
        };
        let mut problems = Vec::new();
        let plan = parse_numbers(&src, &file.numbers, &mut problems);
        (plan, problems.iter().map(Problem::to_string).collect())
    }

    fn route(number: &str, app: &str, record: Option<bool>) -> NumberRoute {
        NumberRoute {
            number: number.into(),
            app: app.into(),
            record,
            ..NumberRoute::default()
        }
    }

    #[test]
    fn both_forms_in_file_order() {
        let (plan, problems) = parse(
            "[numbers]\ndefault = \"echo\"\n\"9196\" = \"echo\"\n\
             \"4008001234\" = { app = \"welcome\", record = false }\n\"400800*\" = \"welcome\"\n\
             \"+8610*\" = { app = \"echo\" }\n1234 = \"welcome\"\n",
        );
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(plan.default_app, "echo");
        assert_eq!(
            plan.routes,
            vec![
                route("9196", "echo", None),
                route("4008001234", "welcome", Some(false)),
                route("400800*", "welcome", None),
                route("+8610*", "echo", None),
                route("1234", "welcome", None),
            ]
        );
    }

    #[test]
    fn sub_table_form_works_too() {
        let (plan, problems) = parse(
            "[numbers]\n\"1\" = \"echo\"\n[numbers.\"9196\"]\napp = \"echo\"\nrecord = true\n",
        );
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            plan.routes,
            vec![route("1", "echo", None), route("9196", "echo", Some(true))]
        );
        assert_eq!(plan.default_app, "welcome");
        let (_, problems) =
            parse("[numbers.\"9x\"]\napp = \"echo\"\n\n[numbers.\"1\"]\napp = \"x\"\n");
        assert_eq!(
            problems,
            vec![
                "hotline.toml:1:1: numbers: \"9x\" is not a number; keys are default = \
                 \"welcome\", or a number: digits with an optional leading + and an optional \
                 trailing * for a prefix, such as \"9196\", \"+861012345678\" or \"400800*\"",
                "hotline.toml:4:1: numbers.\"1\": unknown app \"x\"; valid apps: echo, welcome, reject",
            ]
        );
    }

    #[test]
    fn key_position_is_the_start_of_its_line() {
        let text = "a = 1\n  \"12\" = \"echo\"\n";
        let value = text.find("\"echo").unwrap_or(0);
        assert_eq!(key_span(text, value..value + 6).start, 8);
        // Past the end: clamped, no panic.
        assert_eq!(key_span("x", 5..9), 0..9);
    }

    #[test]
    fn bad_keys_name_their_position_and_the_valid_forms() {
        let (_, problems) = parse(
            "[numbers]\ndefualt = \"echo\"\n\"40O8001234\" = \"echo\"\n\"*\" = \"echo\"\n\
             \"123456789012345678901234567890123\" = \"echo\"\n",
        );
        assert_eq!(
            problems,
            vec![
                "hotline.toml:2:1: numbers: \"defualt\" is not a number; did you mean \
                 \"default\"? keys are default = \"welcome\", or a number: digits with an \
                 optional leading + and an optional trailing * for a prefix, such as \"9196\", \
                 \"+861012345678\" or \"400800*\"",
                "hotline.toml:3:1: numbers: \"40O8001234\" is not a number; keys are default = \
                 \"welcome\", or a number: digits with an optional leading + and an optional \
                 trailing * for a prefix, such as \"9196\", \"+861012345678\" or \"400800*\"",
                "hotline.toml:4:1: numbers: \"*\" has no digits; for every number not listed \
                 write default = \"welcome\"",
                "hotline.toml:5:1: numbers: \"123456789012345678901234567890123\" is longer \
                 than 32 characters; write the number as dialled, or a shorter prefix ending in *",
            ]
        );
    }

    #[test]
    fn bad_apps_and_values_are_all_reported() {
        let (_, problems) = parse(
            "[numbers]\ndefault = \"welcom\"\n\"1\" = \"ecko\"\n\"2\" = \"ivr\"\n\
             \"3\" = { app = \"echo\", recrod = false }\n\"4\" = { record = false }\n\
             \"5\" = { app = \"echo\", record = \"no\" }\n\"6\" = 7\ndefault2 = 1\n",
        );
        assert_eq!(
            problems,
            vec![
                "hotline.toml:2:11: numbers.default: unknown app \"welcom\"; did you mean \
                 \"welcome\"? valid apps: echo, welcome, reject",
                "hotline.toml:3:7: numbers.\"1\": unknown app \"ecko\"; did you mean \"echo\"? \
                 valid apps: echo, welcome, reject",
                "hotline.toml:4:7: numbers.\"2\": unknown app \"ivr\"; valid apps: echo, welcome, reject",
                "hotline.toml:5:7: numbers.\"3\": unknown key \"recrod\"; did you mean \
                 \"record\"? valid keys: app, record, flow, tenant, vars",
                "hotline.toml:6:7: numbers.\"4\": missing key \"app\" or \"flow\"; write e.g. \
                 \"4\" = { app = \"welcome\", record = false } or \"4\" = { flow = \
                 \"ecommerce-zh\" }",
                "hotline.toml:7:7: numbers.\"5\": record must be true or false, such as record \
                 = false",
                "hotline.toml:8:7: numbers.\"6\": write the app's name, such as \"6\" = \
                 \"echo\", or a table such as \"6\" = { app = \"welcome\", record = false }",
                "hotline.toml:9:1: numbers: \"default2\" is not a number; did you mean \
                 \"default\"? keys are default = \"welcome\", or a number: digits with an \
                 optional leading + and an optional trailing * for a prefix, such as \"9196\", \
                 \"+861012345678\" or \"400800*\"",
            ]
        );
    }

    #[test]
    fn default_is_an_app_or_a_flow_table() {
        let (plan, problems) = parse("[numbers]\ndefault = { app = \"echo\" }\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(plan.default_app, "echo");
        let (plan, problems) = parse("[numbers]\ndefault = \"reject\"\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(plan.route("123"), ("reject", None));
        let (_, problems) = parse("[numbers]\ndefault = 5\n");
        assert_eq!(
            problems,
            vec![
                "hotline.toml:2:11: numbers.default: write the app for numbers not listed as a \
                 string, such as default = \"welcome\" (or \"reject\"), or a flow: default = \
                 { flow = \"support-en\" }"
            ]
        );
    }

    #[test]
    fn numbers_name_flows_with_tenant_and_vars() {
        let (plan, problems) = parse(
            "[numbers]\n\"9196\" = \"echo\"\n\
             \"4008001234\" = { flow = \"ecommerce-zh\", tenant = \"acme\", record = true, \
             vars = { orders_url = \"http://127.0.0.1:8089/orders/lookup\", max = 3 } }\n\
             default = { flow = \"support-en\" }\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        let r = plan.resolve("4008001234").unwrap();
        assert_eq!(r.app, "flow");
        assert_eq!(r.flow.as_deref(), Some("ecommerce-zh"));
        assert_eq!(r.tenant.as_deref(), Some("acme"));
        assert_eq!(r.record, Some(true));
        assert_eq!(r.vars["orders_url"], "http://127.0.0.1:8089/orders/lookup");
        assert_eq!(r.vars["max"], "3");
        assert_eq!(
            plan.route("9196"),
            ("echo", None),
            "exact app routes still win"
        );
        let other = plan.resolve("4008009999").unwrap();
        assert_eq!(other.flow.as_deref(), Some("support-en"));
        assert_eq!(plan.route("4008009999"), ("flow", None));
    }

    #[test]
    fn flow_route_mistakes_are_reported_with_positions() {
        let (_, problems) = parse(
            "[numbers]\n\"1\" = { app = \"echo\", flow = \"x\" }\n\"2\" = { flow = \"a b\" }\n\
             \"3\" = { app = \"echo\", tenant = \"t\" }\n\"4\" = \"flow\"\n\
             \"5\" = { flow = \"f\", vars = { a = [1] } }\n",
        );
        assert_eq!(
            problems,
            vec![
                "hotline.toml:2:7: numbers.\"1\": app = \"echo\" and flow = … disagree: a number \
                 runs either an app or a flow; remove one",
                "hotline.toml:3:7: numbers.\"2\": flow \"a b\": use 1-64 letters, digits, '-', \
                 '_' or '.'",
                "hotline.toml:4:7: numbers.\"3\": tenant and vars only apply to a flow: add \
                 flow = \"NAME\"",
                "hotline.toml:5:7: numbers.\"4\": name the flow, such as \"4\" = { flow = \
                 \"ecommerce-zh\" }",
                "hotline.toml:6:7: numbers.\"5\": vars.a must be text, a number or true/false, \
                 such as a = \"http://127.0.0.1:8089/orders/lookup\"",
            ]
        );
    }

    #[test]
    fn number_keys() {
        for ok in ["9196", "+8610", "400800*", "+1*", "0"] {
            assert_eq!(check_number(ok), Ok(()), "{ok}");
        }
        for bad in [
            "", "+", "*", "+*", "12*3", "1+2", "++1", "9196**", "٣", "1 2",
        ] {
            assert!(check_number(bad).is_err(), "{bad:?} must be rejected");
        }
    }
}
