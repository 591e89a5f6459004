//! Where the judge confines an adapter before it runs student code.

use std::path::Path;
use std::process::Command;

/// Applies the sandbox to `command`, which will run the adapter `binary`.
pub fn confine(_command: &mut Command, _binary: &Path) {}
