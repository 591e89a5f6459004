//! The run as JSON. The shape is `RunReport`'s; REPORT-SCHEMA.md documents
//! it and `schema_version` changes with any incompatible edit.

use crate::grade::RunReport;

pub fn render(report: &RunReport) -> String {
    serde_json::to_string_pretty(report).expect("a report always serializes") + "\n"
}
