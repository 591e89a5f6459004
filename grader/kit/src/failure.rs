//! Why a check did not pass: the value every check, every call of the
//! student's code and every comparison returns on failure. A module of its
//! own, below everything that uses it (harness, client, compare, params,
//! wire), so that none of them imports another in a circle.

use crate::protocol::{CheckStatus, Mismatch};

/// Why a check did not pass. Student code that returns an error converts
/// into one with `?`.
#[derive(Debug, Clone)]
pub struct Failure {
    pub status: CheckStatus,
    pub message: String,
    /// Boxed: it is large, and every check returns a `Result` of this.
    pub mismatch: Option<Box<Mismatch>>,
    /// `file:line` of the student's panic or `todo!()`.
    pub location: Option<String>,
}

impl Failure {
    /// The student's result is wrong.
    pub fn new(message: impl Into<String>) -> Self {
        Failure {
            status: CheckStatus::Failed,
            message: message.into(),
            mismatch: None,
            location: None,
        }
    }

    /// The fixtures are unusable; not the student's fault.
    pub fn fixture(message: impl Into<String>) -> Self {
        Failure {
            status: CheckStatus::FixtureError,
            message: message.into(),
            mismatch: None,
            location: None,
        }
    }

    /// The check cannot run on this machine; `message` says how to enable it.
    /// Only the judge decides this, from what it knows itself (a missing
    /// optional model): the status is this value's, and nothing reads it
    /// back from the words ("skipped: …" is for the reader), so nothing an
    /// adapter replies can make a check skipped.
    pub fn skipped(message: impl Into<String>) -> Self {
        Failure {
            status: CheckStatus::Skipped,
            message: format!("skipped: {}", message.into()),
            mismatch: None,
            location: None,
        }
    }

    /// A check that neither earns nor loses points, with a message of its
    /// own (a measurement printed in the report: "not graded: …").
    pub fn not_graded(message: impl Into<String>) -> Self {
        Failure {
            status: CheckStatus::Skipped,
            message: message.into(),
            mismatch: None,
            location: None,
        }
    }

    /// Adds context in front of the message ("case sdpa-3: ...").
    pub fn context(mut self, context: impl std::fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl<E: std::error::Error> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure::new(format!("your code returned an error: {error}"))
    }
}

/// The result of one check.
pub type CheckResult = Result<(), Failure>;
