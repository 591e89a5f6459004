//! JUnit XML: one test suite per exercise, one test case per check. An
//! exercise that produced no checks (it does not compile, is blocked, or its
//! worker died first) gets one test case that carries the reason.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{check_detail, exercise_detail};
use crate::grade::{RunReport, Status};
use grader_kit::protocol::CheckStatus;

pub fn render(report: &RunReport) -> String {
    let mut junit = Report::new("grader");
    for exercise in &report.exercises {
        let mut suite = TestSuite::new(format!("{} {}", exercise.id, exercise.name));
        for record in &exercise.checks {
            let status = match record.status {
                CheckStatus::Passed => TestCaseStatus::success(),
                CheckStatus::Skipped => {
                    let mut status = TestCaseStatus::skipped();
                    if let Some(message) = &record.message {
                        status.set_message(message.as_str());
                    }
                    status
                }
                other => {
                    let kind = if other == CheckStatus::Failed {
                        NonSuccessKind::Failure
                    } else {
                        NonSuccessKind::Error
                    };
                    let mut status = TestCaseStatus::non_success(kind);
                    status.set_message(record.message.clone().unwrap_or_default());
                    status.set_description(check_detail(record));
                    status
                }
            };
            let mut case = TestCase::new(record.check.as_str(), status);
            case.set_classname(format!("{}.{}", exercise.dir_like(), record.group));
            suite.add_test_case(case);
        }
        let ended_badly = !matches!(
            exercise.status,
            Status::Passed | Status::Failed | Status::NotStarted | Status::Panicked
        );
        if exercise.checks.is_empty() || ended_badly {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message(exercise.status.label());
            status.set_description(exercise_detail(exercise));
            let mut case = TestCase::new(exercise.status.label(), status);
            case.set_classname(exercise.dir_like());
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit.to_string().expect("JUnit XML serializes")
}
