//! One exercise's fixture cases with their tensors, verified against
//! `manifest.yaml` before use.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};

use crate::compare::compare;
use crate::harness::{CheckResult, Failure, Worker};
use crate::manifest::{CaseList, CaseSpec, FixtureError, Manifest};

/// The file that holds every tensor of an exercise.
pub const TENSORS_FILE: &str = "tensors.safetensors";

/// The cases of one exercise.
pub struct Fixtures {
    cases: Vec<Case>,
}

/// One case, able to hand out its tensors and compare results.
pub struct Case {
    pub spec: CaseSpec,
    tensors: Arc<HashMap<String, Tensor>>,
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
            for name in spec.inputs.values().chain(spec.expected.values()) {
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
            })
            .collect();
        Ok(Fixtures { cases })
    }

    /// Loads the fixtures named by the worker's arguments, or reports why
    /// it cannot (as a fixture error record) and returns `None`.
    pub fn load_for(worker: &mut Worker, exercise_dir: &str) -> Option<Fixtures> {
        match Fixtures::load(&worker.args().fixtures.clone(), exercise_dir) {
            Ok(fixtures) => Some(fixtures),
            Err(error) => {
                worker.fixture_error("fixtures", error.to_string());
                None
            }
        }
    }

    pub fn cases(&self) -> &[Case] {
        &self.cases
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

    /// An input tensor; float tensors come as f32.
    pub fn input(&self, name: &str) -> Result<Tensor, Failure> {
        self.tensor("input", name)
    }

    /// An input the case may leave out (an optional mask, say).
    pub fn optional_input(&self, name: &str) -> Result<Option<Tensor>, Failure> {
        if self.spec.inputs.contains_key(name) {
            self.input(name).map(Some)
        } else {
            Ok(None)
        }
    }

    /// An input of token or class ids, as u32 (what candle indexes with).
    pub fn ids(&self, name: &str) -> Result<Tensor, Failure> {
        Ok(self.input(name)?.to_dtype(DType::U32)?)
    }

    pub fn expected(&self, name: &str) -> Result<Tensor, Failure> {
        self.tensor("expected", name)
    }

    /// Compares a result with the expected output `name`, with this case's
    /// tolerance.
    pub fn check(&self, name: &str, got: &Tensor) -> CheckResult {
        compare(name, got, &self.expected(name)?, self.spec.tolerance)
    }

    fn param(&self, name: &str) -> Option<&serde_yaml::Value> {
        self.spec.params.get(name).filter(|v| !v.is_null())
    }

    fn bad_param(&self, name: &str, wanted: &str) -> Failure {
        Failure::fixture(format!(
            "case {}: parameter {name:?} should be {wanted}, found {:?}",
            self.id(),
            self.spec.params.get(name)
        ))
    }

    /// A float parameter; `None` when absent or null.
    pub fn param_f64(&self, name: &str) -> Result<Option<f64>, Failure> {
        self.param(name)
            .map(|v| v.as_f64().ok_or_else(|| self.bad_param(name, "a number")))
            .transpose()
    }

    /// A boolean parameter; absent means false.
    pub fn param_bool(&self, name: &str) -> Result<bool, Failure> {
        self.param(name)
            .map(|v| {
                v.as_bool()
                    .ok_or_else(|| self.bad_param(name, "true or false"))
            })
            .transpose()
            .map(|b| b.unwrap_or(false))
    }

    /// A required non-negative integer parameter.
    pub fn param_usize(&self, name: &str) -> Result<usize, Failure> {
        self.param(name)
            .and_then(|v| v.as_u64())
            .map(|n| n as usize)
            .ok_or_else(|| self.bad_param(name, "a non-negative integer"))
    }

    /// A string parameter; `None` when absent or null.
    pub fn param_str(&self, name: &str) -> Result<Option<&str>, Failure> {
        self.param(name)
            .map(|v| v.as_str().ok_or_else(|| self.bad_param(name, "a string")))
            .transpose()
    }

    /// A module's parameters stored in this case, keyed by their PyTorch
    /// state_dict names. The exporter stores parameter `key` as the input
    /// `<prefix>__<key>` with every `.` of the key written `__` (fixture
    /// tensor names are identifiers), e.g. `params__out_proj__weight` for
    /// `out_proj.weight`; `fixtures/export/params.py` does it. Float tensors
    /// come as f32. A fixture error when the case has none.
    pub fn parameters(&self, prefix: &str) -> Result<HashMap<String, Tensor>, Failure> {
        let mut parameters = HashMap::new();
        let start = format!("{prefix}__");
        for name in self.spec.inputs.keys() {
            if let Some(key) = name.strip_prefix(&start) {
                let tensor = self.input(name)?;
                let tensor = if tensor.dtype().is_float() {
                    tensor.to_dtype(DType::F32)?
                } else {
                    tensor
                };
                parameters.insert(key.replace("__", "."), tensor);
            }
        }
        if parameters.is_empty() {
            return Err(Failure::fixture(format!(
                "case {} has no inputs named {start}…, the module's parameters",
                self.id()
            )));
        }
        Ok(parameters)
    }

    /// [`Case::parameters`] as a candle `VarBuilder`, so that a layer loads
    /// them by their PyTorch names: `Layer::new(case.var_builder("params")?, …)`.
    /// A layer that asks for a missing name or a wrong shape gets an error.
    pub fn var_builder(&self, prefix: &str) -> Result<candle_nn::VarBuilder<'static>, Failure> {
        Ok(candle_nn::VarBuilder::from_tensors(
            self.parameters(prefix)?,
            DType::F32,
            &Device::Cpu,
        ))
    }
}
