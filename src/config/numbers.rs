//! `[numbers]` in hotline.toml: which built-in app answers a dialled number, and whether its
//! calls are recorded. Parsing lives in `numbers_file.rs`; this is the model and the lookup.

/// The apps a number may name. Mirrors `crate::call::apps::AppKind::NAMES`, which config
/// cannot name while the `call` module is not yet part of the library.
/// `reject` answers with a polite "not in service" prompt and ends the call with a
/// 404-style cause; `flow` is implied by a route's `flow = "..."`.
pub const APP_NAMES: [&str; 3] = ["echo", "welcome", "reject"];
/// The app for numbers that no route names, unless `default` says otherwise.
pub const DEFAULT_APP: &str = "welcome";
/// The operator's first test call: the built-in plan (and the shipped hotline.toml) sends
/// it to `echo`.
pub const ECHO_TEST_NUMBER: &str = "9196";

/// One entry of `[numbers]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NumberRoute {
    /// As written: digits with an optional leading `+`; a trailing `*` makes it a prefix.
    pub number: String,
    /// One of [`APP_NAMES`].
    pub app: String,
    /// Overrides the profile's and `[media]`'s `record` for calls to this number.
    pub record: Option<bool>,
    /// The IVR flow (the `flow:` name of a file in `flows_dir`) when `app` is "flow".
    pub flow: Option<String>,
    /// Whose hotline this number is; `None` means "default".
    pub tenant: Option<String>,
    /// Flow variables set for calls to this number (e.g. the order system's URL).
    pub vars: std::collections::BTreeMap<String, String>,
}

impl NumberRoute {
    /// The prefix of a route written `400800*`, or `None` for an exact number.
    pub fn prefix(&self) -> Option<&str> {
        self.number.strip_suffix('*')
    }
}

/// The number plan: routes in file order, and the app for every other number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberPlan {
    pub routes: Vec<NumberRoute>,
    pub default_app: String,
    /// `default = { flow = "..." }`: a flow for every number not listed.
    pub default_route: Option<NumberRoute>,
}

impl NumberPlan {
    /// The app and recording override for a dialled number: exact match first, then the
    /// longest matching prefix route written with a trailing `*` (e.g. "400800*"), then default.
    pub fn route(&self, dialled: &str) -> (&str, Option<bool>) {
        match self.resolve(dialled) {
            Some(r) => (&r.app, r.record),
            None => (&self.default_app, None),
        }
    }

    /// The route that serves a dialled number (as [`NumberPlan::route`] picks it, with
    /// `default = { flow = … }` as the last resort); `None` means `default_app`.
    pub fn resolve(&self, dialled: &str) -> Option<&NumberRoute> {
        let exact = self
            .routes
            .iter()
            .find(|r| r.prefix().is_none() && r.number == dialled);
        let best = exact.or_else(|| {
            self.routes
                .iter()
                .filter_map(|r| Some((r.prefix()?, r)))
                .filter(|(prefix, _)| dialled.starts_with(prefix))
                // Ties cannot happen: TOML keys are unique, so equal prefixes are one route.
                .max_by_key(|(prefix, _)| prefix.len())
                .map(|(_, r)| r)
        });
        best.or(self.default_route.as_ref())
    }
}

/// The plan without a `[numbers]` table: the echo test number, `welcome` for the rest.
impl Default for NumberPlan {
    fn default() -> Self {
        NumberPlan {
            routes: vec![NumberRoute {
                number: ECHO_TEST_NUMBER.to_string(),
                app: "echo".to_string(),
                record: None,
                ..NumberRoute::default()
            }],
            default_app: DEFAULT_APP.to_string(),
            default_route: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(number: &str, app: &str, record: Option<bool>) -> NumberRoute {
        NumberRoute {
            number: number.into(),
            app: app.into(),
            record,
            ..NumberRoute::default()
        }
    }

    fn plan() -> NumberPlan {
        NumberPlan {
            routes: vec![
                route("4*", "echo", Some(true)),
                route("400800*", "welcome", None),
                route("4008001234", "echo", Some(false)),
                route("40080012*", "echo", None),
                route("+8610*", "echo", None),
            ],
            default_app: "welcome".into(),
            default_route: None,
        }
    }

    #[test]
    fn exact_match_beats_any_prefix() {
        assert_eq!(plan().route("4008001234"), ("echo", Some(false)));
    }

    #[test]
    fn longest_prefix_wins_whatever_the_order() {
        let p = plan();
        assert_eq!(p.route("4008001299"), ("echo", None));
        assert_eq!(p.route("4008009999"), ("welcome", None));
        assert_eq!(p.route("4117"), ("echo", Some(true)));
        // A prefix route also matches the prefix itself.
        assert_eq!(p.route("400800"), ("welcome", None));
    }

    #[test]
    fn unlisted_numbers_take_the_default_without_override() {
        let p = plan();
        assert_eq!(p.route("9196"), ("welcome", None));
        assert_eq!(p.route(""), ("welcome", None));
        // Matching is literal: "+8610…" and "8610…" are different numbers.
        assert_eq!(p.route("+861012345678"), ("echo", None));
        assert_eq!(p.route("861012345678"), ("welcome", None));
    }

    #[test]
    fn an_exact_route_is_not_a_prefix() {
        let p = plan();
        assert_eq!(p.route("40080012345"), ("echo", None));
        assert_eq!(p.routes[2].prefix(), None);
        assert_eq!(p.routes[1].prefix(), Some("400800"));
    }

    #[test]
    fn default_plan_sends_9196_to_echo() {
        let p = NumberPlan::default();
        assert_eq!(p.route("9196"), ("echo", None));
        assert_eq!(p.route("91960"), ("welcome", None));
        assert!(APP_NAMES.contains(&p.default_app.as_str()));
    }
}
