//! What a run tells its user, and the only mapping from a [`Violation`] to
//! an [`Outcome`], a failure [`Kind`], a one-line text and an exit code.
//! Every command, the artefacts, shrink and fuzz go through it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::check::{Property, Violation};

/// Exit codes of `sim` (documented in README.md).
pub mod exit {
    pub const PASS: i32 = 0;
    /// `sim fuzz`: a run passed where a failure was expected.
    pub const UNEXPECTED_PASS: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const SAFETY: i32 = 10;
    pub const LIVENESS: i32 = 11;
    pub const PANIC: i32 = 12;
    /// `--check-determinism`: the same seed gave two different traces;
    /// `sim replay`: the artefact's trace hash did not come back.
    pub const NONDETERMINISM: i32 = 13;
    /// `sim fuzz` stopped by Ctrl-C.
    pub const INTERRUPTED: i32 = 130;
}

/// How a run ended, or must end (a scenario's expectation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    #[default]
    Pass,
    Safety,
    Liveness,
    Panic,
    /// An expectation only: fails on some seeds (a race that bites
    /// "sometimes"); met by any outcome.
    Sometimes,
}

impl Outcome {
    pub fn of(v: Option<&Violation>) -> Outcome {
        Kind::of(v).outcome()
    }

    /// Whether a run that ended with `self` meets `expected`.
    pub fn meets(self, expected: Outcome) -> bool {
        expected == Outcome::Sometimes || self == expected
    }

    /// `pass`, `safety`, `liveness`, `panic` or `sometimes`.
    pub fn parse(text: &str) -> Result<Outcome, String> {
        match text.trim() {
            "pass" => Ok(Outcome::Pass),
            "safety" => Ok(Outcome::Safety),
            "liveness" => Ok(Outcome::Liveness),
            "panic" => Ok(Outcome::Panic),
            "sometimes" => Ok(Outcome::Sometimes),
            _ => Err(format!(
                "`{text}`: expected one of pass, safety, liveness, panic, sometimes"
            )),
        }
    }

    /// The exit code of a run that ended so (`sim run`, `sim replay`).
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Safety => exit::SAFETY,
            Outcome::Liveness => exit::LIVENESS,
            Outcome::Panic => exit::PANIC,
            Outcome::Pass | Outcome::Sometimes => exit::PASS,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Pass => "pass",
            Outcome::Safety => "safety",
            Outcome::Liveness => "liveness",
            Outcome::Panic => "panic",
            Outcome::Sometimes => "sometimes",
        })
    }
}

/// The kind of a run's end, finer than its outcome: which safety property.
/// Shrink keeps it; fuzz counts runs by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Pass,
    Safety(Property),
    Liveness,
    Panic,
}

impl Kind {
    pub fn of(v: Option<&Violation>) -> Kind {
        match v {
            None => Kind::Pass,
            Some(Violation::Safety { property, .. }) => Kind::Safety(*property),
            Some(Violation::Liveness { .. }) => Kind::Liveness,
            Some(Violation::Panic { .. }) => Kind::Panic,
        }
    }

    pub fn outcome(self) -> Outcome {
        match self {
            Kind::Pass => Outcome::Pass,
            Kind::Safety(_) => Outcome::Safety,
            Kind::Liveness => Outcome::Liveness,
            Kind::Panic => Outcome::Panic,
        }
    }

    /// `pass`, the safety property's name, `liveness` or `panic`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Pass => "pass",
            Kind::Safety(p) => p.name(),
            Kind::Liveness => "liveness",
            Kind::Panic => "panic",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        match name {
            "pass" => Some(Kind::Pass),
            "liveness" => Some(Kind::Liveness),
            "panic" => Some(Kind::Panic),
            _ => Property::from_name(name).map(Kind::Safety),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A kind travels as its name (JSON, reports).
impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        let name = String::deserialize(d)?;
        Kind::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown kind `{name}`")))
    }
}

/// One line that says what failed, or `pass`.
pub fn describe(v: Option<&Violation>) -> String {
    match v {
        None => "pass: all invariants held".to_string(),
        Some(Violation::Safety { property, detail }) => {
            format!("SAFETY VIOLATION ({property}): {detail}")
        }
        Some(Violation::Liveness { detail }) => format!("LIVENESS VIOLATION: {detail}"),
        Some(Violation::Panic {
            node,
            task,
            message,
        }) => {
            let who = if *node == 0 {
                "the simulated runtime".to_string()
            } else {
                format!("n{node}")
            };
            format!("PANIC in {who}, task `{task}`: {message}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_by_name() {
        let mut kinds = vec![Kind::Pass, Kind::Liveness, Kind::Panic];
        kinds.extend(Property::ALL.map(Kind::Safety));
        for k in kinds {
            assert_eq!(Kind::from_name(k.name()), Some(k));
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(serde_json::from_str::<Kind>(&json).unwrap(), k);
        }
        assert_eq!(Kind::from_name("Agreemnt"), None);
    }

    #[test]
    fn outcomes_meet_expectations_and_map_to_exit_codes() {
        assert!(Outcome::Safety.meets(Outcome::Sometimes));
        assert!(Outcome::Pass.meets(Outcome::Pass));
        assert!(!Outcome::Liveness.meets(Outcome::Pass));
        assert!(!Outcome::Pass.meets(Outcome::Liveness));
        assert_eq!(Outcome::parse("sometimes"), Ok(Outcome::Sometimes));
        assert!(Outcome::parse("fail").is_err());
        let codes: Vec<i32> = [
            Outcome::Pass,
            Outcome::Safety,
            Outcome::Liveness,
            Outcome::Panic,
        ]
        .map(Outcome::exit_code)
        .to_vec();
        assert_eq!(codes, [0, 10, 11, 12]);
    }
}
