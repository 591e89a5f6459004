//! Named input tensors, as a fixture case (judge side) and a call (adapter
//! side) both hold them, with the ways an op reads them.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};

use crate::failure::Failure;

/// A set of named input tensors.
pub trait Inputs {
    /// What to call this set in a message ("case sdpa-3", "op sdpa").
    fn label(&self) -> String;
    /// Every input's name.
    fn input_names(&self) -> Vec<String>;
    /// The input `name`, or a fixture error naming what is missing.
    fn input(&self, name: &str) -> Result<Tensor, Failure>;

    /// An input the call may leave out (an optional mask, say).
    fn optional_input(&self, name: &str) -> Result<Option<Tensor>, Failure> {
        if self.input_names().iter().any(|n| n == name) {
            self.input(name).map(Some)
        } else {
            Ok(None)
        }
    }

    /// An input of token or class ids, as u32 (what candle indexes with).
    fn ids(&self, name: &str) -> Result<Tensor, Failure> {
        Ok(self.input(name)?.to_dtype(DType::U32)?)
    }

    /// A module's parameters, keyed by their PyTorch state_dict names. The
    /// exporter stores parameter `key` as the input `<prefix>__<key>` with
    /// every `.` of the key written `__` (tensor names are identifiers),
    /// e.g. `params__out_proj__weight` for `out_proj.weight`;
    /// `fixtures/export/params.py` does it. Float tensors come as f32.
    fn parameters(&self, prefix: &str) -> Result<HashMap<String, Tensor>, Failure> {
        let mut parameters = HashMap::new();
        let start = format!("{prefix}__");
        for name in self.input_names() {
            if let Some(key) = name.strip_prefix(&start) {
                let tensor = self.input(&name)?;
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
                "{} has no inputs named {start}…, the module's parameters",
                self.label()
            )));
        }
        Ok(parameters)
    }

    /// [`Inputs::parameters`] as a candle `VarBuilder`, so that a layer loads
    /// them by their PyTorch names: `Layer::new(call.var_builder("params")?, …)`.
    /// A layer that asks for a missing name or a wrong shape gets an error.
    fn var_builder(&self, prefix: &str) -> Result<candle_nn::VarBuilder<'static>, Failure> {
        Ok(candle_nn::VarBuilder::from_tensors(
            self.parameters(prefix)?,
            DType::F32,
            &Device::Cpu,
        ))
    }
}

/// Parameters as the inputs `<prefix>__<key>` of [`Inputs::parameters`]:
/// what a judge sends for an adapter to build a layer from.
pub fn as_inputs(prefix: &str, parameters: &HashMap<String, Tensor>) -> Vec<(String, Tensor)> {
    parameters
        .iter()
        .map(|(key, t)| (format!("{prefix}__{}", key.replace('.', "__")), t.clone()))
        .collect()
}
