//! The records a worker writes and the launcher reads.
//!
//! A worker prints one line per finished check on stdout: [`RECORD_PREFIX`],
//! the run's token, a space and a [`Record`] as JSON. Every other line (a
//! student's `println!`, say) is ignored, so debugging output cannot corrupt
//! a grade. The token is a secret the launcher writes on the worker's stdin,
//! which the harness reads before any student code runs: student code cannot
//! print a record the launcher would accept.
//! The launcher keeps every record it has read even when the worker later
//! crashes or times out.

use serde::{Deserialize, Serialize};

/// Marks a record line on a worker's stdout.
pub const RECORD_PREFIX: &str = "@grader-record ";

/// The outcome of one check, as the worker saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Passed,
    Failed,
    /// The check reached a `todo!()` or `unimplemented!()`.
    NotStarted,
    /// The student's code panicked (anything but `todo!()`).
    Panicked,
    /// The check could not run here (an optional model file is missing, say);
    /// it neither earns nor loses credit. The message says how to enable it.
    Skipped,
    /// The fixtures could not be used (missing tensor, bad case). Not the
    /// student's fault: the launcher turns this into a usage error.
    FixtureError,
}

/// One finished check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Partial credit is given per group; a group passes when all its checks pass.
    pub group: String,
    /// A fixture case id or a property name.
    pub check: String,
    pub status: CheckStatus,
    /// What went wrong, in words, for every status but `passed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `file:line` of a panic or `todo!()`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Numbers of a failed comparison.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mismatch: Option<Mismatch>,
}

/// Where and how far a result is from the expected tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mismatch {
    /// Which output was compared ("out", "weights", ...).
    pub tensor: String,
    pub expected_shape: Vec<usize>,
    pub got_shape: Vec<usize>,
    /// Elements outside the tolerance.
    pub mismatched: usize,
    pub total: usize,
    #[serde(with = "non_finite")]
    pub max_abs_error: f64,
    #[serde(with = "non_finite")]
    pub max_rel_error: f64,
    /// Multi-index of the element with the largest excess over its tolerance.
    pub worst_index: Vec<usize>,
    #[serde(with = "non_finite")]
    pub expected_at_worst: f64,
    #[serde(with = "non_finite")]
    pub got_at_worst: f64,
    /// NaN and ±inf counts in the student's result.
    pub got_nan: usize,
    pub got_inf: usize,
    #[serde(with = "non_finite")]
    pub atol: f64,
    #[serde(with = "non_finite")]
    pub rtol: f64,
    /// The known mistake whose output (PyTorch's, from the fixtures) the
    /// student's result equals, when one does. Only ever adds a line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Diagnosis>,
    /// For attention weights: the rows around the worst element, expected and
    /// got, for the report's heat map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<Rows>,
}

/// A window of a 2-D slice of a compared tensor: at most [`Rows::MAX_ROWS`]
/// rows of [`Rows::MAX_COLS`] values, non-finite values as `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rows {
    /// The index of the slice (every dimension but the last two).
    pub slice: Vec<usize>,
    /// The first row and column of the window in the slice.
    pub first_row: usize,
    pub first_col: usize,
    pub expected: Vec<Vec<Option<f64>>>,
    pub got: Vec<Vec<Option<f64>>>,
    /// The worst element, in the window's coordinates.
    pub worst: (usize, usize),
}

impl Rows {
    pub const MAX_ROWS: usize = 12;
    pub const MAX_COLS: usize = 24;
}

/// A failed comparison recognised as a catalogued mistake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// The mistake's id in `exercises/<dir>/mistakes.yaml` and the fixtures.
    pub mistake: String,
    /// The catalogue's sentence, filled in by the launcher.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub says: String,
}

/// One check a worker will run, announced before any runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    pub group: String,
    pub check: String,
}

/// The line that announces a check (see [`Planned`]).
pub fn plan_line(token: &str, group: &str, check: &str) -> String {
    let planned = Planned {
        group: group.to_string(),
        check: check.to_string(),
    };
    let json = serde_json::to_string(&planned).expect("a plan always serializes");
    format!("{RECORD_PREFIX}{token} plan {json}")
}

impl Planned {
    /// Parses a plan line of this run's `token`.
    pub fn from_line(line: &str, token: &str) -> Option<Planned> {
        let rest = line.strip_prefix(RECORD_PREFIX)?.strip_prefix(token)?;
        serde_json::from_str(rest.strip_prefix(" plan ")?).ok()
    }
}

/// The line a worker prints after its last check. A worker that exits
/// without it (student code calling `process::exit`, say) did not finish.
pub fn done_line(token: &str) -> String {
    format!("{RECORD_PREFIX}{token} done")
}

/// JSON has no NaN or infinity; write them as the strings "NaN", "inf" and
/// "-inf" so that a record about a NaN result survives the trip.
mod non_finite {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Wire {
        Number(f64),
        Text(String),
    }

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            v if v.is_nan() => "NaN".serialize(serializer),
            v if *v == f64::INFINITY => "inf".serialize(serializer),
            v if *v == f64::NEG_INFINITY => "-inf".serialize(serializer),
            v => v.serialize(serializer),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        Ok(match Wire::deserialize(deserializer)? {
            Wire::Number(v) => v,
            Wire::Text(text) => match text.as_str() {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                _ => f64::NAN,
            },
        })
    }
}

impl Record {
    /// The line a worker prints for this record.
    pub fn to_line(&self, token: &str) -> String {
        let json = serde_json::to_string(self).expect("a record always serializes");
        format!("{RECORD_PREFIX}{token} {json}")
    }

    /// Parses a worker's stdout line; `None` for lines that are not records
    /// of this run's `token`.
    pub fn from_line(line: &str, token: &str) -> Option<Record> {
        let rest = line.strip_prefix(RECORD_PREFIX)?;
        let json = rest.strip_prefix(token)?.strip_prefix(' ')?;
        serde_json::from_str(json).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_survives_its_line() {
        let record = Record {
            group: "attention".into(),
            check: "sdpa-random-001".into(),
            status: CheckStatus::Failed,
            message: Some("values differ".into()),
            location: None,
            mismatch: None,
        };
        assert_eq!(
            Record::from_line(&record.to_line("t0k"), "t0k"),
            Some(record)
        );
    }

    #[test]
    fn non_finite_numbers_survive_the_line() {
        let mismatch = Mismatch {
            tensor: "out".into(),
            expected_shape: vec![2],
            got_shape: vec![3],
            mismatched: 2,
            total: 2,
            max_abs_error: f64::INFINITY,
            max_rel_error: f64::NAN,
            worst_index: vec![],
            expected_at_worst: f64::NEG_INFINITY,
            got_at_worst: 0.5,
            got_nan: 1,
            got_inf: 0,
            atol: 1e-5,
            rtol: 1e-4,
            diagnosis: None,
            rows: None,
        };
        let record = Record {
            group: "g".into(),
            check: "c".into(),
            status: CheckStatus::Failed,
            message: None,
            location: None,
            mismatch: Some(mismatch),
        };
        let back = Record::from_line(&record.to_line("t"), "t").unwrap();
        let m = back.mismatch.unwrap();
        assert_eq!(m.max_abs_error, f64::INFINITY);
        assert!(m.max_rel_error.is_nan());
        assert_eq!(m.expected_at_worst, f64::NEG_INFINITY);
        assert_eq!(m.got_at_worst, 0.5);
    }

    #[test]
    fn other_lines_are_not_records() {
        assert_eq!(Record::from_line("debug: 1.0", "t"), None);
        assert_eq!(Record::from_line("@grader-record t {not json", "t"), None);
    }

    #[test]
    fn a_record_with_another_token_is_refused() {
        let record = Record {
            group: "g".into(),
            check: "c".into(),
            status: CheckStatus::Passed,
            message: None,
            location: None,
            mismatch: None,
        };
        assert_eq!(Record::from_line(&record.to_line("forged"), "secret"), None);
        assert_eq!(Record::from_line(&record.to_line(""), "secret"), None);
    }
}
