//! Exercise 06's ops, declared once: the judge's typed calls and this
//! adapter's dispatch both come from here (see `grader_kit::ops`). The
//! judge sends the seeds of the RNGs to draw from (`rng_for(seed, stream)`).

use candle_core::{DType, Device};
use grader_kit::client::Outputs;
use grader_kit::ops::{Output, Tensor, Weights};
use grader_kit::Failure;

grader_kit::ops! {
    /// `make_batch(n, rng)` with the RNG `rng_for(seed, stream)`: (X, y).
    fn make_batch(n: usize, seed: u64, stream: String) -> (x: Tensor, y: Tensor);
    /// The model with these weights on the digits `x`, step by step.
    fn forward(params: Weights, x: Tensor)
        -> (embedded: Tensor, attention: Tensor, values: Tensor, logits: Tensor, probs: Tensor);
    fn bce(logits: Tensor, targets: Tensor) -> (loss: Tensor);
    /// For each stream of the budget, `fresh_model` then `train` with the
    /// RNG `rng_for(seed, stream)` and the budget, then that model's
    /// predictions and attention on its held-out sequences `x[i]`; the
    /// adapter runs the trainings side by side.
    fn train(budget: Budget, x: Vec<Tensor>) -> (trained: TrainedModels);
}

grader_kit::params! {
    /// The budget and the RNG streams of a `train` call: the params `seed`,
    /// `streams`, `steps`, `batch_size` and `learning_rate`.
    pub struct Budget {
        pub seed: u64,
        pub streams: Vec<String>,
        pub steps: usize,
        pub batch_size: usize,
        pub learning_rate: f64,
    }
}

/// What a model trained in the adapter gave: the loss of every step, and
/// its predictions and attention on the held-out sequences of its run.
pub struct Trained {
    pub trajectory: Vec<f32>,
    pub probs: Tensor,
    pub attention: Tensor,
}

/// The models of a `train` call, in the order of its streams: the outputs
/// `<i>.losses`, `<i>.probs` and `<i>.attention` of model `i`.
pub struct TrainedModels(pub Vec<Trained>);

impl Output for TrainedModels {
    fn give(self, _: &str, outputs: &mut Vec<(String, Tensor)>) -> Result<(), Failure> {
        for (i, trained) in self.0.into_iter().enumerate() {
            let losses = Tensor::new(trained.trajectory.as_slice(), &Device::Cpu)?;
            outputs.push((format!("{i}.losses"), losses));
            outputs.push((format!("{i}.probs"), trained.probs));
            outputs.push((format!("{i}.attention"), trained.attention));
        }
        Ok(())
    }
    fn get(outputs: &Outputs, _: &str) -> Result<Self, Failure> {
        let mut all = Vec::new();
        while let Some(losses) = outputs.0.get(&format!("{}.losses", all.len())) {
            let i = all.len();
            all.push(Trained {
                trajectory: losses.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?,
                probs: outputs.get(&format!("{i}.probs"))?,
                attention: outputs.get(&format!("{i}.attention"))?,
            });
        }
        Ok(TrainedModels(all))
    }
}
