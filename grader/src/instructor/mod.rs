//! The instructor's side, as in nbgrader or otter: `release` writes the
//! student kit, `grade --submission` grades one student's checkout safely,
//! `grade --submissions` a whole class into a CSV gradebook.

pub mod batch;
pub mod release;
pub mod submission;

pub use crate::files::{copy_file, copy_tree, set_mtime, touch_tree};

use anyhow::Result;

/// `grade --submission DIR` or `grade --submissions DIR`.
pub fn grade(args: &submission::GradeSubmissionArgs) -> Result<i32> {
    let kit = args.run.locate()?;
    match (&args.submissions, &args.submission) {
        (Some(folder), _) => {
            let (work, cargo_target) = submission::dirs(&kit, args);
            batch::run(kit, &work, &cargo_target, folder, args)
        }
        (None, Some(one)) => submission::run(kit, args, one),
        (None, None) => anyhow::bail!("give --submission DIR or --submissions DIR"),
    }
}
