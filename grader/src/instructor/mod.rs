//! The instructor's side, as in nbgrader or otter: `release` writes the
//! student kit, `grade --submission` grades one student's checkout safely,
//! `grade --submissions` a whole class into a CSV gradebook.

pub mod batch;
pub mod release;
pub mod submission;

pub use crate::files::{copy_file, copy_tree, set_mtime, touch_tree};
