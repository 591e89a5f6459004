//! One exercise's fixture cases with their tensors, verified against
//! `manifest.yaml` before use.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{Device, Tensor};

use crate::client::{Client, Outputs};
use crate::compare::compare;
use crate::harness::{CheckResult, Failure, Worker};
use crate::inputs::Inputs;
use crate::manifest::{CaseList, CaseSpec, FixtureError, Manifest};
use crate::params::Params;

/// The file that holds every tensor of an exercise.
pub const TENSORS_FILE: &str = "tensors.safetensors";

/// The cases of one exercise.
#[derive(Clone)]
pub struct Fixtures {
    cases: Vec<Case>,
}

/// One case, able to hand out its tensors and compare results.
#[derive(Clone)]
pub struct Case {
    pub spec: CaseSpec,
    tensors: Arc<HashMap<String, Tensor>>,
    /// What [`Case::call`] calls the student's code through: the worker's
    /// (see [`Fixtures::load_for`]); loaded alone, none.
    client: Client,
}

impl Fixtures {
    /// Verifies the exercise's files against the manifest, then loads them.
    pub fn load(root: &Path, exercise_dir: &str) -> Result<Fixtures, FixtureError> {
        let manifest = Manifest::load(root)?;
        if !manifest.has_exercise(exercise_dir) {
            return Err(FixtureError {
                path: root.join(exercise_dir),
                problem: "has no files listed in manifest.yaml".into(),
            });
        }
        manifest.verify(root, &format!("{exercise_dir}/"))?;
        let list = CaseList::load(root, exercise_dir)?;
        let path = root.join(exercise_dir).join(TENSORS_FILE);
        let tensors = if path.exists() {
            candle_core::safetensors::load(&path, &Device::Cpu).map_err(|e| FixtureError {
                path: path.clone(),
                problem: format!("cannot be read as safetensors ({e})"),
            })?
        } else {
            HashMap::new()
        };
        let tensors = Arc::new(tensors);
        for spec in &list.cases {
            let mistakes = spec.mistakes.values().flat_map(|m| m.values());
            for name in spec
                .inputs
                .values()
                .chain(spec.expected.values())
                .chain(mistakes)
            {
                if !tensors.contains_key(name) {
                    return Err(FixtureError {
                        path: path.clone(),
                        problem: format!("has no tensor {name:?}, which case {} needs", spec.id),
                    });
                }
            }
        }
        let cases = list
            .cases
            .into_iter()
            .map(|spec| Case {
                spec,
                tensors: tensors.clone(),
                client: Client::default(),
            })
            .collect();
        Ok(Fixtures { cases })
    }

    /// Loads the fixtures named by the worker's arguments, or reports why
    /// it cannot (as a fixture error record) and returns `None`. The worker
    /// keeps them for its second pass (see [`crate::harness::run`]), and
    /// its calls of every op they hold are compared with the reference's
    /// within the op's tolerance ([`Client::pin`]).
    pub fn load_for(worker: &mut Worker, exercise_dir: &str) -> Option<Fixtures> {
        let kept_as = format!("fixtures of {exercise_dir}");
        if let Some(fixtures) = worker.kept::<Fixtures>(&kept_as) {
            return Some(fixtures);
        }
        match Fixtures::load(&worker.args().fixtures.clone(), exercise_dir) {
            Ok(mut fixtures) => {
                let client = worker.client();
                for case in &mut fixtures.cases {
                    client.pin(&case.spec.op, case.spec.tolerance);
                    case.client = client.clone();
                }
                worker.keep(&kept_as, fixtures.clone());
                Some(fixtures)
            }
            Err(error) => {
                worker.fixture_error("fixtures", error.to_string());
                None
            }
        }
    }

    /// Judges every op of `ops`, as (group, op) pairs in order, with
    /// [`Fixtures::judge_op`], and reports any op of cases.yaml not among
    /// them ([`Fixtures::unknown_ops`]): the whole fixture part of a judge
    /// whose ops need nothing beyond the comparison.
    pub fn judge_ops(&self, worker: &mut Worker, ops: &[(&str, &str)]) {
        let known: Vec<&str> = ops.iter().map(|(_, op)| *op).collect();
        self.unknown_ops(worker, &known);
        for (group, op) in ops {
            self.judge_op(worker, group, op);
        }
    }

    /// Judges every case of `op` in the student's adapter: the case's
    /// inputs go out, its expected outputs are compared here.
    pub fn judge_op(&self, worker: &mut Worker, group: &str, op: &str) {
        self.run_op(worker, group, op, |case| case.check_outputs(&case.call()?));
    }

    pub fn cases(&self) -> &[Case] {
        &self.cases
    }

    /// The checkpoint folders the cases name (`params: model: <dir>`, a
    /// hidden set may bring its own), where they are folders below the
    /// exercise's fixture folder `root`, never `root` itself, which holds the
    /// expected values; names in `apart` (a fetched model) are left out. For
    /// [`Client::allow_read`].
    pub fn checkpoints_named(&self, root: &Path, apart: &[&str]) -> Vec<PathBuf> {
        let Ok(root) = std::fs::canonicalize(root) else {
            return vec![];
        };
        let mut dirs: Vec<PathBuf> = self
            .cases
            .iter()
            .filter_map(|case| case.param_str("model").ok().flatten())
            .filter(|name| !apart.contains(&name.as_str()))
            .filter_map(|name| std::fs::canonicalize(root.join(name)).ok())
            .filter(|dir| dir.is_dir() && dir.starts_with(&root) && *dir != root)
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// Runs `check` on every case of `op` as a check of `group`. Reports, as
    /// a fixture error, an op in cases.yaml that no `run_op` call handles
    /// (see [`Fixtures::unknown_ops`]).
    pub fn run_op(
        &self,
        worker: &mut Worker,
        group: &str,
        op: &str,
        check: impl Fn(&Case) -> CheckResult,
    ) {
        for case in self.cases.iter().filter(|c| c.spec.op == op) {
            worker.check(group, &case.spec.id, || check(case));
        }
    }

    /// Reports every op in cases.yaml that is not in `known`, so that a case
    /// an instructor adds is never silently skipped.
    pub fn unknown_ops(&self, worker: &mut Worker, known: &[&str]) {
        let unknown: BTreeSet<&str> = self
            .cases
            .iter()
            .map(|c| c.spec.op.as_str())
            .filter(|op| !known.contains(op))
            .collect();
        if !unknown.is_empty() {
            worker.fixture_error(
                "fixtures",
                format!(
                    "cases.yaml uses ops this grader does not know: {unknown:?} (known: {known:?})"
                ),
            );
        }
    }
}

impl Case {
    pub fn id(&self) -> &str {
        &self.spec.id
    }

    fn tensor(&self, map_name: &str, name: &str) -> Result<Tensor, Failure> {
        let map = if map_name == "input" {
            &self.spec.inputs
        } else {
            &self.spec.expected
        };
        let key = map.get(name).ok_or_else(|| {
            Failure::fixture(format!(
                "case {} has no {map_name} named {name:?}",
                self.id()
            ))
        })?;
        Ok(self.tensors[key].clone())
    }

    pub fn expected(&self, name: &str) -> Result<Tensor, Failure> {
        self.tensor("expected", name)
    }

    /// Compares a result with the expected output `name`, with this case's
    /// tolerance; a failure that equals a known mistake's output says so.
    pub fn check(&self, name: &str, got: &Tensor) -> CheckResult {
        compare(name, got, &self.expected(name)?, self.spec.tolerance).map_err(|failure| {
            let mut one = Outputs::default();
            one.0.insert(name.to_string(), got.clone());
            self.diagnose(failure, &one)
        })
    }

    /// The case's parameters, as an adapter receives them.
    pub fn params(&self) -> Params {
        let map = self
            .spec
            .params
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or_default()))
            .collect();
        Params(map)
    }

    fn in_case<T>(&self, result: Result<T, Failure>) -> Result<T, Failure> {
        result.map_err(|f| f.context(format!("case {}", self.id())))
    }

    /// A float parameter; `None` when absent or null.
    pub fn param_f64(&self, name: &str) -> Result<Option<f64>, Failure> {
        self.in_case(self.params().f64(name))
    }

    /// A boolean parameter; absent means false.
    pub fn param_bool(&self, name: &str) -> Result<bool, Failure> {
        self.in_case(self.params().bool(name))
    }

    /// A required non-negative integer parameter.
    pub fn param_usize(&self, name: &str) -> Result<usize, Failure> {
        self.in_case(self.params().usize(name))
    }

    /// A string parameter; `None` when absent or null.
    pub fn param_str(&self, name: &str) -> Result<Option<String>, Failure> {
        self.in_case(self.params().str(name).map(|s| s.map(str::to_string)))
    }

    /// Runs the case's op in the student's adapter with the case's params and
    /// inputs (expected values stay here).
    pub fn call(&self) -> Result<Outputs, Failure> {
        self.call_as(&self.params())
    }

    /// [`Case::call`] with one parameter more than the case holds: what the
    /// judge made of the case's own (the folder of the checkpoint it names).
    pub fn call_with(&self, name: &str, value: serde_json::Value) -> Result<Outputs, Failure> {
        let mut params = self.params();
        params.0.insert(name.to_string(), value);
        self.call_as(&params)
    }

    fn call_as(&self, params: &Params) -> Result<Outputs, Failure> {
        let inputs: Vec<(String, Tensor)> = self
            .spec
            .inputs
            .iter()
            .map(|(arg, key)| (arg.clone(), self.tensors[key].clone()))
            .collect();
        self.client.call_student(&self.spec.op, params, &inputs)
    }

    /// Compares every expected output of the case with what the call
    /// returned; a failure that equals a known mistake's output says so.
    /// The first output that differs fails the check. When its own values
    /// cannot be drawn (`out`) but a later output's can (attention
    /// `weights`), that one's rows come along for the report's heat map, and
    /// the message says which output they are.
    pub fn check_outputs(&self, outputs: &Outputs) -> CheckResult {
        let mut first: Option<Failure> = None;
        for name in self.spec.expected.keys() {
            let got = match (outputs.get(name), &first) {
                (Ok(got), _) => got,
                (Err(missing), None) => return Err(missing),
                (Err(_), Some(_)) => break,
            };
            let Err(failure) = compare(name, &got, &self.expected(name)?, self.spec.tolerance)
            else {
                continue;
            };
            let Some(earlier) = first.as_mut() else {
                first = Some(self.diagnose(failure, outputs));
                continue;
            };
            let rows = failure.mismatch.and_then(|m| m.rows);
            if let (Some(mismatch), Some(rows)) = (earlier.mismatch.as_mut(), rows) {
                if mismatch.rows.is_none() {
                    mismatch.rows = Some(rows);
                    earlier
                        .message
                        .push_str(&format!("; `{name}` differs too (its rows are drawn)"));
                }
            }
            break;
        }
        first.map_or(Ok(()), Err)
    }

    /// Adds to a failed comparison the first catalogued mistake whose
    /// outputs the student's equal, within the case's tolerance: every output
    /// of the mistake among `outputs`, and at least one.
    fn diagnose(&self, mut failure: Failure, outputs: &Outputs) -> Failure {
        let Some(mismatch) = failure.mismatch.as_mut() else {
            return failure;
        };
        let matches = |wrong: &std::collections::BTreeMap<String, String>| {
            let shared: Vec<_> = wrong
                .iter()
                .filter(|(name, _)| outputs.0.contains_key(*name))
                .collect();
            !shared.is_empty()
                && shared.iter().all(|(name, key)| {
                    compare(
                        name,
                        &outputs.0[*name],
                        &self.tensors[*key],
                        self.spec.tolerance,
                    )
                    .is_ok()
                })
        };
        if let Some((mistake, _)) = self.spec.mistakes.iter().find(|(_, wrong)| matches(wrong)) {
            mismatch.diagnosis = Some(crate::protocol::Diagnosis {
                mistake: mistake.clone(),
                says: String::new(),
            });
        }
        failure
    }
}

impl Inputs for Case {
    fn label(&self) -> String {
        format!("case {}", self.id())
    }

    fn input_names(&self) -> Vec<String> {
        self.spec.inputs.keys().cloned().collect()
    }

    /// An input tensor; float tensors come as f32.
    fn input(&self, name: &str) -> Result<Tensor, Failure> {
        self.tensor("input", name)
    }
}
