//! Exercise 10's ops, declared once: the judge's typed calls and this
//! adapter's dispatch both come from here (see `grader_kit::ops`).
//!
//! `model_dir` is the checkpoint folder to load (readable by the adapter);
//! `params`, when sent, are weights for a `Gpt2::new` with that folder's
//! config. Masks are 0/1 (1 = real token). Per-position outputs are 0 at
//! padding (the adapter sets them: what a padded position holds is not
//! specified).

use std::path::PathBuf;

use grader_kit::ops::{Tensor, Weights};

grader_kit::ops! {
    /// `encode_batch` of `texts` with the checkpoint's tokenizer.
    fn tokenize(model_dir: PathBuf, texts: Vec<String>) -> (input_ids: Tensor, attention_mask: Tensor);
    /// `decode` of `ids` with the checkpoint's tokenizer.
    fn decode(model_dir: PathBuf, ids: Tensor) -> (text: String);
    fn positions(past_mask: Option<Tensor>, new_mask: Tensor) -> (positions: Tensor);
    fn attention_mask(past_mask: Option<Tensor>, new_mask: Tensor) -> (allowed: Tensor);
    /// `Gpt2::forward`: (B, T, V).
    fn logits(model_dir: PathBuf, params: Option<Weights>, input_ids: Tensor,
        attention_mask: Tensor) -> (logits: Tensor);
    /// The prefill's hidden states, `h0` (the embeddings) to `h<n_layer>`.
    fn hidden_states(model_dir: PathBuf, input_ids: Tensor, attention_mask: Tensor)
        -> (h: Vec<Tensor>);
    /// Prefill then `chunks` (token counts) through `forward_step`: the
    /// logits of every position, after each chunk each layer's k and v shape
    /// (`cache_shapes`, (chunks, layers, 2, 5) u32: [rank, d0, d1, d2, d3], 0
    /// beyond the rank), and the final cache's `k<i>` and `v<i>`.
    fn steps(model_dir: PathBuf, input_ids: Tensor, attention_mask: Tensor, chunks: Vec<usize>)
        -> (logits: Tensor, cache_shapes: Tensor, k: Vec<Tensor>, v: Vec<Tensor>);
    /// Greedy `generate`: the prompt and the new tokens.
    fn generate(model_dir: PathBuf, input_ids: Tensor, attention_mask: Tensor,
        max_new_tokens: usize, use_cache: bool) -> (ids: Tensor);
    /// The same, under a name no fixture case pins: on random prompts a near
    /// tie may go either way, so the judge checks the tokens against the
    /// logits instead of against the reference's.
    fn greedy_ids(model_dir: PathBuf, input_ids: Tensor, attention_mask: Tensor,
        max_new_tokens: usize, use_cache: bool) -> (ids: Tensor);
    /// `generate` with `sample` and a `StdRng` seeded with `seed`.
    fn generate_sampled(model_dir: PathBuf, input_ids: Tensor, attention_mask: Tensor,
        max_new_tokens: usize, sampling: Sampling, seed: u64, use_cache: bool) -> (ids: Tensor);
    /// Text in, text out: `encode_batch`, greedy `generate` with the cache,
    /// `decode` of each row's new tokens (`text<b>`).
    fn complete(model_dir: PathBuf, texts: Vec<String>, max_new_tokens: usize)
        -> (ids: Tensor, text: Vec<String>);
    fn temperature(logits: Tensor, temperature: f64) -> (out: Tensor);
    fn top_k(logits: Tensor, top_k: usize) -> (out: Tensor);
    fn top_p(logits: Tensor, top_p: f64) -> (out: Tensor);
    fn filter(logits: Tensor, sampling: Sampling) -> (out: Tensor);
    /// `draws` calls of `sample` with one `StdRng` seeded with `seed`: (draws, B).
    fn sample(logits: Tensor, sampling: Sampling, seed: u64, draws: usize) -> (samples: Tensor);
    /// `train_lm` of a model of `sizes` on `train`, then the greedy
    /// continuation of each prompt (with the cache), the logits of each
    /// `test` sequence but its last token, and the loss of every step.
    fn train_copy(sizes: Sizes, budget: Budget, train: Vec<Vec<u32>>, prompts: Vec<Vec<u32>>,
        max_new_tokens: usize, test: Vec<Vec<u32>>)
        -> (continuations: Tensor, test_logits: Tensor, losses: Vec<f64>);
    /// For each T of `lengths`, on random weights of `sizes`: the seconds of
    /// one cached step after T − 1 positions, and of a full forward of T
    /// tokens; the fastest of `reps` runs each.
    fn step_time(sizes: Sizes, lengths: Vec<usize>, reps: usize) -> (cached: Vec<f64>, full: Vec<f64>);
    /// The seconds of a greedy `generate` of `max_new_tokens` after
    /// `prompt` tokens, with the cache and without.
    fn speed(sizes: Sizes, prompt: usize, max_new_tokens: usize) -> (cached: f64, full: f64);
}

grader_kit::params! {
    /// The logits filters (the student's `Sampling`): absent means off.
    pub struct Sampling {
        pub temperature: f64 = 1.0,
        pub top_k: Option<usize>,
        pub top_p: Option<f64>,
    }

    /// A GPT-2's sizes (the rest of its config as GPT-2's).
    pub struct Sizes {
        pub n_embd: usize,
        pub n_head: usize,
        pub n_layer: usize,
        pub vocab_size: usize,
        pub n_positions: usize,
    }

    /// The training budget (the student's `TrainConfig`).
    pub struct Budget {
        pub steps: usize,
        pub batch_size: usize,
        pub learning_rate: f64,
        pub seed: u64,
    }
}
