//! The grader: a launcher that builds one worker per exercise, runs each in
//! its own process under limits, scores the records and writes a report.
//!
//! - [`catalog`]: `exercises/info.yaml` and where things live;
//! - [`compile`]: building the workers, reading compiler errors;
//! - [`run`]: running a worker isolated, with a time and memory limit;
//! - [`grade`]: statuses, blocking, scores;
//! - [`report`]: human, JSON, JUnit and Gradescope reports;
//! - [`cli`]: the command line.

pub mod catalog;
pub mod cli;
pub mod compile;
pub mod grade;
pub mod report;
pub mod run;
