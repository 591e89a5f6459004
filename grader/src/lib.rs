//! The grader: a launcher that builds one worker per exercise, runs each in
//! its own process under limits, scores the records and writes a report.
//!
//! - [`catalog`]: `exercises/info.yaml` and where things live;
//! - [`compile`]: building the workers, reading compiler errors;
//! - [`files`]: copies that keep modification times, snapshots of a target dir;
//! - [`run`]: running a worker isolated, with a time and memory limit;
//! - [`grade`]: statuses, blocking, scores;
//! - [`judges`]: the judges this launcher was built with (`grader judge NN`);
//! - [`report`]: human, JSON, JUnit and Gradescope reports;
//! - [`cli`]: the command line;
//! - [`settings`]: options shared by the subcommands that grade;
//! - [`student`]: `list`, `hint`, `watch`;
//! - [`instructor`]: `release`, `grade --submission(s)`.

pub mod catalog;
pub mod cli;
pub mod compile;
pub mod files;
pub mod grade;
pub mod instructor;
pub mod judges;
pub mod report;
pub mod run;
pub mod settings;
pub mod student;
