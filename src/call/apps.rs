//! Built-in call applications until IVR flows exist (issue 4): `echo`, the operator's first
//! test call, and `welcome`: greeting, digits until `#` or 10 s, goodbye, hang up.
//! Pure state machines over (digit | tick, now) that drive the call's prompt player.

use crate::media::player::{Item, ItemId, Player};
use crate::media::resample::{Prompt, load_prompt};
use std::path::Path;
use std::time::{Duration, Instant};
use tracing::warn;

/// How long `welcome` waits for the next digit before it says goodbye.
pub const DIGIT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppKind {
    Echo,
    Welcome,
    /// An IVR flow drives the call from `call/` with media commands; the leg plays and
    /// records only what it is told.
    Flow,
    /// A number nobody serves: a polite "not in service" prompt, then hang up with a
    /// 404-style cause.
    NotInService,
}

/// The CDR cause of a call to a number no route serves.
pub const NOT_IN_SERVICE_CAUSE: &str = "404 number not in service";

impl AppKind {
    pub fn from_name(name: &str) -> Option<AppKind> {
        match name {
            "echo" => Some(AppKind::Echo),
            "welcome" => Some(AppKind::Welcome),
            "reject" => Some(AppKind::NotInService),
            _ => None,
        }
    }
    pub const NAMES: [&'static str; 3] = ["echo", "welcome", "reject"];
}

/// The prompts the built-in apps speak, loaded once at start. A missing file leaves its
/// list empty: the app then beeps instead, and startup logs the fix.
#[derive(Default)]
pub struct Prompts {
    pub welcome: Vec<Prompt>,
    pub goodbye: Vec<Prompt>,
    pub not_in_service: Vec<Prompt>,
}

impl Prompts {
    /// Loads `welcome-*.wav`, `goodbye-*.wav` and `not-in-service-*.wav` (Mandarin, then
    /// English) from `dir` (made by `scripts/make-prompts.sh` during set-up).
    pub fn load(dir: &Path) -> Prompts {
        let load = |names: &[&str]| -> Vec<Prompt> {
            names
                .iter()
                .filter_map(|n| {
                    let path = dir.join(n);
                    match load_prompt(&path) {
                        Ok(p) => Some(p),
                        Err(e) => {
                            warn!(error = %e, "prompt missing: run scripts/make-prompts.sh (make run does)");
                            None
                        }
                    }
                })
                .collect()
        };
        Prompts {
            welcome: load(&["welcome-zh.wav", "welcome-en.wav"]),
            goodbye: load(&["goodbye-zh.wav", "goodbye-en.wav"]),
            not_in_service: load(&["not-in-service-zh.wav", "not-in-service-en.wav"]),
        }
    }
}

/// What an app asks of its call after a tick.
#[derive(Debug, PartialEq, Eq)]
pub enum AppAction {
    Continue,
    Hangup(String),
}

pub enum App {
    Echo,
    Welcome(Welcome),
    Flow,
    /// Playing "not in service"; hangs up after the last prompt.
    NotInService {
        last: Option<ItemId>,
    },
}

pub struct Welcome {
    state: WelcomeState,
    pub digits: String,
}

enum WelcomeState {
    Greeting { last: Option<ItemId> },
    Collecting { deadline: Instant },
    Goodbye { last: Option<ItemId> },
}

impl App {
    pub fn start(kind: AppKind, prompts: &Prompts, player: &mut Player, now: Instant) -> App {
        match kind {
            AppKind::Echo => App::Echo,
            AppKind::Flow => App::Flow,
            AppKind::NotInService => App::NotInService {
                last: play_all(player, &prompts.not_in_service),
            },
            AppKind::Welcome => {
                let last = play_all(player, &prompts.welcome);
                let state = match last {
                    Some(_) => WelcomeState::Greeting { last },
                    None => WelcomeState::Collecting {
                        deadline: now + DIGIT_TIMEOUT,
                    },
                };
                App::Welcome(Welcome {
                    state,
                    digits: String::new(),
                })
            }
        }
    }

    /// The app sends back what the caller says (echo) instead of the player's output.
    pub fn echoes(&self) -> bool {
        matches!(self, App::Echo)
    }

    pub fn on_digit(&mut self, digit: char, prompts: &Prompts, player: &mut Player, now: Instant) {
        let App::Welcome(w) = self else { return };
        match w.state {
            WelcomeState::Greeting { .. } | WelcomeState::Collecting { .. } => {
                // A keypress stops the greeting (barge-in) and restarts the digit timer.
                player.interrupt();
                if digit == '#' {
                    w.state = WelcomeState::Goodbye {
                        last: play_all(player, &prompts.goodbye),
                    };
                } else {
                    w.digits.push(digit);
                    w.state = WelcomeState::Collecting {
                        deadline: now + DIGIT_TIMEOUT,
                    };
                }
            }
            WelcomeState::Goodbye { .. } => {}
        }
    }

    pub fn on_tick(&mut self, now: Instant, prompts: &Prompts, player: &mut Player) -> AppAction {
        if let App::NotInService { last } = self {
            let mut done = player.is_idle();
            while let Some(id) = player.poll_finished() {
                done |= Some(id) == *last;
            }
            return if done {
                AppAction::Hangup(NOT_IN_SERVICE_CAUSE.into())
            } else {
                AppAction::Continue
            };
        }
        let App::Welcome(w) = self else {
            return AppAction::Continue;
        };
        let mut finished = Vec::new();
        while let Some(id) = player.poll_finished() {
            finished.push(id);
        }
        match w.state {
            WelcomeState::Greeting { last } => {
                if last.is_none_or(|l| finished.contains(&l)) || player.is_idle() {
                    w.state = WelcomeState::Collecting {
                        deadline: now + DIGIT_TIMEOUT,
                    };
                }
                AppAction::Continue
            }
            WelcomeState::Collecting { deadline } => {
                if now >= deadline {
                    w.state = WelcomeState::Goodbye {
                        last: play_all(player, &prompts.goodbye),
                    };
                }
                AppAction::Continue
            }
            WelcomeState::Goodbye { last } => {
                if last.is_none_or(|l| finished.contains(&l)) || player.is_idle() {
                    AppAction::Hangup("welcome: done".into())
                } else {
                    AppAction::Continue
                }
            }
        }
    }

    pub fn digits(&self) -> &str {
        match self {
            App::Welcome(w) => &w.digits,
            App::Echo | App::Flow | App::NotInService { .. } => "",
        }
    }
}

/// Queues every prompt (or a beep when there are none); returns the last item's id.
fn play_all(player: &mut Player, prompts: &[Prompt]) -> Option<ItemId> {
    if prompts.is_empty() {
        return Some(player.enqueue(Item::beep()));
    }
    let mut last = None;
    for p in prompts {
        last = Some(player.enqueue(Item::Prompt(p.clone())));
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::FRAME_SAMPLES;

    #[test]
    fn not_in_service_plays_its_prompts_then_hangs_up_with_a_404_cause() {
        let prompts = Prompts {
            not_in_service: vec![
                Prompt::new("zh", vec![500i16; 3 * FRAME_SAMPLES]),
                Prompt::new("en", vec![500i16; 2 * FRAME_SAMPLES]),
            ],
            ..Prompts::default()
        };
        let mut player = Player::new();
        let now = Instant::now();
        let mut app = App::start(AppKind::NotInService, &prompts, &mut player, now);
        let mut frame = [0i16; FRAME_SAMPLES];
        let mut ticks = 0;
        let cause = loop {
            let playing = player.next_frame(&mut frame);
            ticks += 1;
            match app.on_tick(now, &prompts, &mut player) {
                AppAction::Continue => assert!(playing, "silence before the hang-up"),
                AppAction::Hangup(c) => break c,
            }
            assert!(ticks < 100, "never hung up");
        };
        assert_eq!(ticks, 5, "both prompts play in full first");
        assert_eq!(cause, NOT_IN_SERVICE_CAUSE);
        assert!(!app.echoes());
    }
}
