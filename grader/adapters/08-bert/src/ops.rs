//! Exercise 08's ops, declared once: the judge's typed calls and this
//! adapter's dispatch both come from here (see `grader_kit::ops`).
//!
//! `model_dir` is the checkpoint folder to load (readable by the adapter).
//! The ops that run a model run that checkpoint, or, when `params` are
//! sent, a `BertModel::new` from them with that folder's config.

use std::path::PathBuf;

use grader_kit::ops::{Tensor, Weights};

grader_kit::ops! {
    /// `load_tokenizer` and `BertModel::load` of a checkpoint folder.
    fn load(model_dir: PathBuf) -> ();
    /// `encode` with the checkpoint's tokenizer (no truncation).
    fn tokenize(model_dir: PathBuf, sentences: Vec<String>, pairs: Option<Vec<String>>)
        -> (input_ids: Tensor, token_type_ids: Tensor, attention_mask: Tensor);
    fn embeddings(model_dir: PathBuf, params: Option<Weights>, input_ids: Tensor,
        token_type_ids: Tensor) -> (out: Tensor);
    /// Encoder layer `layer` on `hidden`, with the padding mask of `attention_mask`.
    fn layer(model_dir: PathBuf, params: Option<Weights>, layer: usize, hidden: Tensor,
        attention_mask: Tensor) -> (out: Tensor);
    /// `BertModel::forward`; `pooler_output` is left out when it is `None`.
    fn bert(model_dir: PathBuf, params: Option<Weights>, input_ids: Tensor, token_type_ids: Tensor,
        attention_mask: Tensor) -> (last_hidden_state: Tensor, pooler_output: Option<Tensor>);
    /// `tokenize`, then `bert` on its ids.
    fn pretrained(model_dir: PathBuf, params: Option<Weights>, sentences: Vec<String>,
        pairs: Option<Vec<String>>) -> (input_ids: Tensor, token_type_ids: Tensor,
        attention_mask: Tensor, last_hidden_state: Tensor, pooler_output: Option<Tensor>);
    /// `frozen_features(…, max_len, feature_batch)` of the checkpoint,
    /// `train_classifier` on the training set, `predict` on the test
    /// sentences (never their labels): the predicted classes, and the mean
    /// training loss of each epoch.
    fn train_habit(model_dir: PathBuf, train_texts: Vec<String>, train_labels: Vec<usize>,
        test_texts: Vec<String>, max_len: usize, feature_batch: usize, head: HeadConfig,
        config: TrainConfig) -> (predicted: Vec<u32>, loss: Vec<f64>);
    /// `HabitClassifier::attention_weights` of a head built with `seeded_init(seed)`.
    fn habit_attention_weights(head: HeadConfig, seed: u64, hidden: Tensor) -> (weights: Tensor);
    /// `HabitClassifier::forward` of the same head.
    fn habit_logits(head: HeadConfig, seed: u64, hidden: Tensor) -> (logits: Tensor);
}

grader_kit::params! {
    /// The sizes of the habit head.
    pub struct HeadConfig {
        pub hidden_size: usize,
        pub num_queries: usize,
        pub attention_heads: usize,
        pub attention_dim: usize,
        pub mlp_hidden: usize,
        pub classes: usize,
    }

    /// The training budget.
    pub struct TrainConfig {
        pub epochs: usize,
        pub batch_size: usize,
        pub learning_rate: f64,
        pub weight_decay: f64,
        pub seed: u64,
    }
}
