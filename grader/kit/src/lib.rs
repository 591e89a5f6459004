//! What every exercise's judge and adapter share.
//!
//! - [`protocol`]: the records a worker prints and the launcher reads;
//! - [`harness`]: a worker's `main` and its [`Worker`], with each check's
//!   panics caught;
//! - [`manifest`]: the fixture manifests and their sha256 verification;
//! - [`client`]: the judge's connection to the adapters (feature `tensors`);
//! - [`adapter`]: an adapter's `main`, serving calls (feature `tensors`);
//! - [`ops`](mod@ops): each exercise's ops declared once, for both (feature `tensors`);
//! - [`fixtures`]: an exercise's cases and tensors (feature `tensors`);
//! - [`compare`]: torch.isclose's rule, the one comparison (feature `tensors`);
//! - [`properties`]: property checks shared by exercises (feature `tensors`);
//! - [`random`]: seeded random tensors for property checks (feature `tensors`);
//! - [`process`], [`sandbox`], [`confine`]: clean, confined, reaped
//!   processes.
//!
//! The modules form layers, each naming only those below it (the test
//! `kit_layout::the_launcher_and_the_kit_have_no_import_circles` keeps it
//! so): `protocol`, `manifest`, `sandbox`, `args` < `failure`, `params`,
//! `inputs`, `confine`, `compare`, `wire` < `process` < `client` <
//! `harness` < `adapter`, `random`, `fixtures`, `properties` < `ops`.

pub mod args;
pub mod confine;
pub mod failure;
pub mod harness;
pub mod manifest;
pub mod params;
pub mod process;
pub mod protocol;
pub mod sandbox;

#[cfg(feature = "tensors")]
pub mod adapter;
#[cfg(feature = "tensors")]
pub mod client;
#[cfg(feature = "tensors")]
pub mod compare;
#[cfg(feature = "tensors")]
pub mod fixtures;
#[cfg(feature = "tensors")]
pub mod inputs;
#[cfg(feature = "tensors")]
pub mod ops;
#[cfg(feature = "tensors")]
pub mod properties;
#[cfg(feature = "tensors")]
pub mod random;
#[cfg(feature = "tensors")]
pub mod wire;

pub use failure::{CheckResult, Failure};
#[cfg(feature = "tensors")]
pub use fixtures::{Case, Fixtures};
pub use harness::{run, Worker};
#[cfg(feature = "tensors")]
pub use inputs::Inputs;
