//! # Exercise 08: your attention inside a real BERT
//!
//! BERT is a stack of transformer *encoder* layers. Nothing in it is new to
//! you: its self-attention is exactly the multi-head attention you wrote in
//! exercise 04, wrapped with LayerNorms, a feed-forward block and three
//! embedding tables. In this exercise you rebuild BERT from your own pieces,
//! load a real Hugging Face checkpoint into it, check it number for number
//! against PyTorch, and then put exercise 07's AttentionHabit on top of the
//! frozen BERT and train it to classify sentences.
//!
//! ## The model
//!
//! ```text
//! tokens ──> word_emb[id] + position_emb[i] + token_type_emb[type]    (B, L, H)
//!        ──> LayerNorm                                    (embeddings)
//!        ──> N × BertLayer:
//!              a = MultiheadAttention(x, x, x, key padding mask)      (B, L, H)
//!              x = LayerNorm(x + a)                    (post-norm, as in 2018)
//!              f = dense2(GELU(dense1(x)))             H -> I -> H
//!              x = LayerNorm(x + f)
//!        ──> last_hidden_state                                        (B, L, H)
//!        ──> pooler: tanh(dense(last_hidden_state[:, 0]))             (B, H)
//! ```
//!
//! ## Shapes
//!
//! | tensor              | shape     | meaning                                      |
//! |---------------------|-----------|----------------------------------------------|
//! | `input_ids`         | (B, L)    | token ids (u32), `[CLS] … [SEP] [PAD]…`      |
//! | `token_type_ids`    | (B, L)    | 0 for the first sentence, 1 for the second   |
//! | `attention_mask`    | (B, L)    | 1 for a real token, 0 for padding            |
//! | hidden states       | (B, L, H) | H = hidden_size (32 tiny, 384 MiniLM)        |
//! | intermediate        | (B, L, I) | I = intermediate_size, usually 4·H           |
//! | `pooler_output`     | (B, H)    | the `[CLS]` vector through dense + tanh      |
//!
//! ## Hugging Face names
//!
//! A checkpoint is a folder with `config.json`, `model.safetensors` and the
//! tokenizer (`tokenizer.json`, or just `vocab.txt`). The weights are named
//! `embeddings.{word,position,token_type}_embeddings.weight`,
//! `embeddings.LayerNorm.{weight,bias}`, and for layer N
//! `encoder.layer.N.attention.self.{query,key,value}.{weight,bias}`,
//! `encoder.layer.N.attention.output.dense.*`, `…attention.output.LayerNorm.*`,
//! `encoder.layer.N.intermediate.dense.*`, `encoder.layer.N.output.dense.*`,
//! `encoder.layer.N.output.LayerNorm.*`, and `pooler.dense.*`. Checkpoints
//! saved from a task model (BertForSequenceClassification…) put `bert.` in
//! front of all of these; all-MiniLM-L6-v2 does not.
//!
//! ## Your multi-head attention, fed BERT's weights
//!
//! BERT keeps three separate Linear layers `query`, `key`, `value`;
//! `nn.MultiheadAttention` (your exercise 04) keeps one packed
//! `in_proj_weight` of shape (3H, H): the query rows, then the key rows, then
//! the value rows. They compute the same thing, so we *repack*: concatenate
//! the three weights (and biases) along dim 0 and hand your
//! `MultiheadAttention::new` a VarBuilder built from those tensors
//! (`VarBuilder::from_tensors`). `attention.output.dense` is `out_proj`. We
//! chose this over re-assembling heads by hand because it runs your
//! exercise-04 code unchanged, the very layer that was checked against PyTorch.
//!
//! ## Masks: the details that decide a 1e-4 match
//!
//! - BERT's attention mask says which *keys* are real: it is a key padding
//!   mask. Hugging Face adds `finfo(f32).min` (the most negative f32), not
//!   `-inf`, to the scores of padded keys. Pass it to your attention as an
//!   additive `MhaMask::Float` of shape (B, L). Padded *query* positions
//!   still get outputs; the golden files contain them, so compute them too.
//! - `layer_norm_eps` is 1e-12 in BERT, not PyTorch's default 1e-5. Read it
//!   from config.json.
//! - BERT's GELU is the exact one, `x·Φ(x)` with the error function:
//!   candle's `gelu_erf`. `Tensor::gelu` is the tanh approximation; it is
//!   off by up to ~5e-4, enough to fail.
//! - Position ids are 0..L for every row, padded or not.
//!
//! ## Tokens
//!
//! Text becomes ids with the `tokenizers` crate, the Rust library behind
//! Hugging Face's fast tokenizers: lower-case, strip accents, split on spaces
//! and punctuation, then WordPiece (`unhappiness` → `un ##happi ##ness`),
//! then `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]` with token types 0…0 1…1.
//! A `tokenizer.json` holds all of that; from a bare `vocab.txt` you assemble
//! it yourself. Pad to the longest sentence of the batch.
//!
//! ## Why not the seed's `bert-base-uncased`?
//!
//! The seed loads `bert-base-uncased`: 12 layers, hidden size 768, 110
//! million parameters, about 440 MB to download. The kit uses two smaller
//! models of the same architecture instead. Your code reads every size from
//! config.json, so it runs all three unchanged.
//!
//! - A tiny BERT (hidden 32, 2 layers, 4 heads, 94 KB of weights) ships in
//!   fixtures/08-bert. Every graded check but `minilm` runs on it, with no
//!   network, and the training check (about 18 s of CPU) fits the
//!   grader's time limit, on your machine and in CI alike. bert-base would
//!   need a download first and would take far longer per step.
//! - all-MiniLM-L6-v2 (6 layers, hidden 384, about a fifth of bert-base's
//!   parameters) is a real pretrained BERT: the `pretrained` check and the
//!   training demo use it once `scripts/fetch-minilm.sh` has fetched it
//!   (83 MB).
//!
//! The seed's `model.embed(token)` cell does not run: its saved output is
//! `NameError: name 'model' is not defined`, and with the model loaded it
//! would fail anyway, since `BertModel` has no `embed` method. What it
//! reaches for is the tokenizer and the embedding tables: [`encode`], then
//! [`BertEmbeddings`].
//!
//! ## The seed's questions
//! - How does a sentence become a (L, d) tensor? (the tokenizer and the
//!   embeddings; [`encode`], [`BertEmbeddings`])
//! - Where do `split_heads` and `combine_heads` happen in BERT? (inside your
//!   exercise-04 attention, between the packed projections and out_proj)
//! - Why is the key transposed in `q·kᵀ`? (exercise 01)
//! - Integrate the attention habit layer into the model and train it on a
//!   data set: part 3 below.
//!
//! ## candle tips
//! - `candle_nn::Embedding::forward` takes a u32 id tensor of any shape.
//! - `Tensor::arange(0u32, L, dev)` makes position ids; `broadcast_add` adds
//!   the (L, H) position embeddings to (B, L, H).
//! - `Tensor::cat(&[&q, &k, &v], 0)` packs the projections.
//! - `x.i((.., 0))?` (with `candle_core::IndexOp`) takes the `[CLS]` rows.
//! - The fused `candle_nn::LayerNorm` is fine for a frozen BERT, but write
//!   your own: it is five lines and it passes gradients.
//!
//! ## Part 3: an AttentionHabit head, trained
//!
//! BERT stays frozen; exercise 07's AttentionHabit and a small MLP on top of
//! it are trained (see the notes above [`Example`]). The grader trains them
//! on the *frozen, freshly initialised* tiny BERT with a generated data set
//! whose labels need context: "the food was good" is positive, "the food
//! was not good" negative, "not surprisingly , the food was good" positive
//! again (generator: fixtures/export/negation_data.py). A bag of words
//! cannot separate these, so the head must beat both measured baselines,
//! the majority class and a bag-of-words logistic regression
//! ([`baselines`]), by 0.15 on held-out sentences, in 12 epochs.
//!
//! Then try it for real: with MiniLM fetched,
//! `cargo run -p ex08-bert --release --bin plot` trains the head on 2,400
//! of the 3,000 review sentences of data/sentiment-labelled-sentences (UCI,
//! CC BY 4.0), scores the other 600 against the same two baselines, and
//! draws out/08-bert/training.png (loss, accuracies, baselines) and
//! out/08-bert/attention.png (where each habit query looks in a few
//! sentences). `-- --tiny` does the same on the tiny model and the negation
//! set. `cargo run -p ex08-bert --bin minilm-speed` times your BERT on 32
//! sentences.
//!
//! Check your work with `cargo run -p grader -- 08`. The pretrained check
//! needs the real model: `scripts/fetch-minilm.sh` (83 MB, once).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use attention_habit::{AttentionHabit, Projections};
use candle_core::{DType, Device, IndexOp, Module, Result, Tensor, D};
use candle_nn::{Embedding, Linear, Optimizer, VarBuilder, VarMap};
use multi_head::{MhaMask, MultiheadAttention};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use tokenizers::Tokenizer;

#[path = "../given/baselines.rs"]
pub mod baselines;

// ---------------------------------------------------------------------------
// Part 1: BERT from your own pieces
// ---------------------------------------------------------------------------

/// The fields of a Hugging Face `config.json` that BERT needs.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    pub hidden_act: String,
}

impl BertConfig {
    /// Reads `config.json` from a checkpoint folder. (given)
    pub fn from_dir(dir: &Path) -> Result<BertConfig> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| candle_core::Error::msg(format!("{}: {e}", path.display())))?;
        let config: BertConfig = serde_json::from_str(&text)
            .map_err(|e| candle_core::Error::msg(format!("{}: {e}", path.display())))?;
        if config.hidden_act != "gelu" {
            candle_core::bail!("only hidden_act \"gelu\" (exact, erf) is supported");
        }
        Ok(config)
    }
}

/// Layer normalisation over the last dimension, with PyTorch's names
/// `weight` and `bias`:
///
/// ```text
/// y = (x - mean) / sqrt(var + eps) * weight + bias     var: biased (÷ H)
/// ```
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    /// Loads `weight` and `bias`, both of shape (size,).
    pub fn new(vb: VarBuilder, size: usize, eps: f64) -> Result<LayerNorm> {
        todo!()
    }
}

impl Module for LayerNorm {
    /// (…, H) → (…, H), each row normalised to mean 0 and variance 1 before
    /// the affine map.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        todo!()
    }
}

/// Word + position + token-type embeddings, then a LayerNorm
/// (`embeddings.*`; BERT's dropout is off at inference).
pub struct BertEmbeddings {
    word_embeddings: Embedding,
    position_embeddings: Embedding,
    token_type_embeddings: Embedding,
    layer_norm: LayerNorm,
}

impl BertEmbeddings {
    /// `vb` points at `embeddings`: load `word_embeddings` (vocab, H),
    /// `position_embeddings` (max_positions, H), `token_type_embeddings`
    /// (type_vocab, H) and `LayerNorm`.
    pub fn new(vb: VarBuilder, config: &BertConfig) -> Result<BertEmbeddings> {
        todo!()
    }

    /// `input_ids`, `token_type_ids`: (B, L) u32 → (B, L, H).
    /// Positions are 0, 1, …, L−1 in every row.
    pub fn forward(&self, input_ids: &Tensor, token_type_ids: &Tensor) -> Result<Tensor> {
        todo!()
    }
}

/// Your exercise-04 `MultiheadAttention`, loaded with one BERT layer's
/// self-attention weights.
///
/// `vb` points at `encoder.layer.N.attention`. Read
/// `self.{query,key,value}.{weight,bias}` (each (H, H) and (H,)) and
/// `output.dense.{weight,bias}`, pack them under nn.MultiheadAttention's
/// names `in_proj_weight` (3H, H), `in_proj_bias` (3H,),
/// `out_proj.weight`, `out_proj.bias`, and build the layer from a
/// `VarBuilder::from_tensors` of that map.
pub fn attention_from_bert(vb: VarBuilder, config: &BertConfig) -> Result<MultiheadAttention> {
    todo!()
}

/// Hugging Face's attention mask as a key padding mask for your attention.
///
/// `attention_mask`: (B, L), any integer or float dtype, 1 = real token,
/// 0 = padding. Returns `MhaMask::Float` of shape (B, L), f32: 0 where the
/// key is real, `f32::MIN` (torch's `finfo(float32).min`) where it is
/// padding. Not `-inf`: that is what Hugging Face adds, and a row whose keys
/// are all padding then stays finite.
pub fn padding_mask(attention_mask: &Tensor) -> Result<MhaMask> {
    todo!()
}

/// One encoder layer (`encoder.layer.N`): your attention, two post-norm
/// residual blocks and the exact-GELU feed-forward.
pub struct BertLayer {
    attention: MultiheadAttention,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

impl BertLayer {
    /// `vb` points at `encoder.layer.N`: `attention` (see
    /// [`attention_from_bert`]), `attention.output.LayerNorm`,
    /// `intermediate.dense` (H → I), `output.dense` (I → H), `output.LayerNorm`.
    pub fn new(vb: VarBuilder, config: &BertConfig) -> Result<BertLayer> {
        todo!()
    }

    /// `x`: (B, L, H); `mask`: a key padding mask from [`padding_mask`], or
    /// `None` when no token is padding. Returns (B, L, H).
    pub fn forward(&self, x: &Tensor, mask: Option<&MhaMask>) -> Result<Tensor> {
        todo!()
    }
}

/// What [`BertModel::forward`] returns, as Hugging Face's `BaseModelOutputWithPooling`.
pub struct BertOutput {
    /// (B, L, H)
    pub last_hidden_state: Tensor,
    /// (B, H); `None` for a checkpoint without `pooler.dense`.
    pub pooler_output: Option<Tensor>,
}

/// The whole encoder: embeddings, `num_hidden_layers` × [`BertLayer`], and
/// the pooler when the checkpoint has one.
pub struct BertModel {
    pub config: BertConfig,
    pub embeddings: BertEmbeddings,
    pub layers: Vec<BertLayer>,
    pooler: Option<Linear>,
}

impl BertModel {
    /// Builds the model from weights under the Hugging Face names, at the
    /// root of `vb` or under `bert.` (look for
    /// `bert.embeddings.word_embeddings.weight` with `vb.contains_tensor`).
    /// Loads the pooler only when `pooler.dense.weight` is there.
    pub fn new(vb: VarBuilder, config: &BertConfig) -> Result<BertModel> {
        todo!()
    }

    /// Loads `config.json` and `model.safetensors` from a checkpoint folder. (given)
    pub fn load(dir: &Path, device: &Device) -> Result<BertModel> {
        let config = BertConfig::from_dir(dir)?;
        let weights = dir.join("model.safetensors");
        // SAFETY: the file is not modified while the model is alive.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, device)? };
        BertModel::new(vb, &config)
    }

    /// `input_ids`, `token_type_ids`: (B, L) u32; `attention_mask`: (B, L),
    /// 1 = token, 0 = padding. Returns the last hidden state (B, L, H) and
    /// the pooled `[CLS]` vector `tanh(pooler.dense(h[:, 0]))` (B, H).
    pub fn forward(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
    ) -> Result<BertOutput> {
        todo!()
    }
}

// ---------------------------------------------------------------------------
// Part 2: text in, ids out
// ---------------------------------------------------------------------------

/// A tokenizer error as a candle error. (given)
fn tokenizer_error(e: impl std::fmt::Display) -> candle_core::Error {
    candle_core::Error::msg(format!("tokenizer: {e}"))
}

/// The checkpoint's tokenizer: `tokenizer.json` when the folder has one,
/// otherwise a BERT tokenizer assembled from `vocab.txt`:
/// `BertNormalizer` (clean text, Chinese characters, strip accents, lower
/// case), `BertPreTokenizer`, `WordPiece` with `[UNK]`, and `BertProcessing`
/// with the ids of `[SEP]` and `[CLS]`.
///
/// Turn off whatever padding and truncation the file configures (MiniLM's
/// pads every sentence to 128): [`encode`] chooses its own.
pub fn load_tokenizer(dir: &Path) -> Result<Tokenizer> {
    todo!()
}

/// A tokenized batch: three (B, L) u32 tensors, as Hugging Face's
/// `tokenizer(texts, padding=True)` returns them.
pub struct Encoded {
    pub input_ids: Tensor,
    pub token_type_ids: Tensor,
    pub attention_mask: Tensor,
}

/// Tokenizes a batch of sentences, or of sentence pairs when `pairs` is
/// given (one second sentence per first one), with `[CLS]`/`[SEP]`, and
/// pads every row with id 0, type 0, mask 0 to the longest row.
/// `max_len`: truncate longer rows to this many tokens (specials included).
pub fn encode(
    tokenizer: &Tokenizer,
    sentences: &[&str],
    pairs: Option<&[&str]>,
    max_len: Option<usize>,
    device: &Device,
) -> Result<Encoded> {
    todo!()
}

// ---------------------------------------------------------------------------
// Part 3: an AttentionHabit head on the frozen BERT, trained
// ---------------------------------------------------------------------------
//
// Where does the habit layer go? On top of the last hidden state. BERT stays
// frozen, so its outputs for a sentence never change during training: we
// compute them once ([`frozen_features`]) and every training step only runs
// the small head. Inserted between encoder layers, it would change the input
// of the frozen layers above it, layers that were trained on other inputs,
// and every step would have to run them again.
//
// How does the habit read a sentence? In exercise 07 an AttentionHabit lets
// m inputs (B, m, n) attend over p initial points (B, p, n, k) of the node.
// Here the node is the sentence: its L tokens are the p = L initial points,
// each a (H, 1) point (n = H, k = 1), and the inputs are m learned "habit"
// queries, the same for every sentence, each asking one question of the
// tokens ("is there a negation?", "which adjective?"). The habit returns one
// (m, H) summary per sentence; a small MLP turns it into class scores.
//
// AttentionHabit has no padding mask, so we never pad: the features are
// grouped by token length and every batch holds sentences of one length.

/// One labelled sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub text: String,
    pub label: usize,
}

/// Reads a data set in the kit's TSV format: a header line `label\ttext`,
/// then one `label<TAB>sentence` per line. (given)
pub fn read_tsv(path: &Path) -> Result<Vec<Example>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| candle_core::Error::msg(format!("{}: {e}", path.display())))?;
    let mut examples = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let (label, text) = line.split_once('\t').ok_or_else(|| {
            candle_core::Error::msg(format!("{}:{}: no tab", path.display(), n + 1))
        })?;
        let label = label.trim().parse().map_err(|_| {
            candle_core::Error::msg(format!("{}:{}: bad label", path.display(), n + 1))
        })?;
        examples.push(Example {
            text: text.to_string(),
            label,
        });
    }
    Ok(examples)
}

/// The frozen BERT's last hidden states for sentences that all have the
/// same number of tokens, so that none is padded.
pub struct Bucket {
    /// (b, L, H)
    pub hidden: Tensor,
    /// Which sentence (an index into the caller's list) each of the b rows is.
    pub rows: Vec<usize>,
}

/// Runs the frozen BERT once over every sentence and groups the last hidden
/// states by token length (truncated to `max_len` tokens). Sentences of one
/// length go through BERT `batch_size` at a time; buckets come in increasing
/// length, rows in their original order.
pub fn frozen_features(
    bert: &BertModel,
    tokenizer: &Tokenizer,
    texts: &[&str],
    max_len: usize,
    batch_size: usize,
) -> Result<Vec<Bucket>> {
    todo!()
}

/// The sizes of the head on top of BERT.
#[derive(Debug, Clone, Copy)]
pub struct HeadConfig {
    /// H, BERT's hidden size: the habit's parent size n.
    pub hidden_size: usize,
    /// m, how many learned habit queries read each sentence.
    pub num_queries: usize,
    pub attention_heads: usize,
    pub attention_dim: usize,
    /// Width of the MLP between the habit and the class scores.
    pub mlp_hidden: usize,
    pub classes: usize,
}

/// AttentionHabit over a sentence's tokens, then an MLP classifier.
///
/// Parameters (all trained; BERT's are not here at all): `queries` (m, H),
/// `habit.*` (exercise 07's names), `mlp.weight/bias` (m·H → mlp_hidden) and
/// `classifier.weight/bias` (mlp_hidden → classes).
pub struct HabitClassifier {
    queries: Tensor,
    habit: AttentionHabit,
    /// The habit's own `embed` and `attention` weights (the same variables),
    /// to read its attention weights for plots.
    habit_embed: Linear,
    habit_attention: Projections,
    mlp: Linear,
    classifier: Linear,
    config: HeadConfig,
}

impl HabitClassifier {
    pub fn new(vb: VarBuilder, config: HeadConfig) -> Result<HabitClassifier> {
        todo!()
    }

    /// The habit's summary of each sentence: `hidden_states` (B, L, H) are
    /// the init points (B, L, H, 1); the m queries, repeated for each
    /// sentence, are the input (B, m, H). Returns (B, m, H).
    pub fn summarize(&self, hidden_states: &Tensor) -> Result<Tensor> {
        todo!()
    }

    /// Where the habit looks: for each sentence and each query, the
    /// attention weights over the L tokens, averaged over the heads
    /// (B, m, L). Recomputes the habit's first steps from its weights:
    /// `q = query_proj(embed(queries))`, `k = key_proj(hidden)`, split into
    /// heads, then exercise 07's `scaled_dot_product`.
    pub fn attention_weights(&self, hidden_states: &Tensor) -> Result<Tensor> {
        todo!()
    }

    /// Class scores (logits) (B, classes) for BERT's hidden states
    /// (B, L, H): `classifier(gelu(mlp(flatten(summarize(x)))))`.
    pub fn forward(&self, hidden_states: &Tensor) -> Result<Tensor> {
        todo!()
    }
}

/// The training budget and the optimiser's settings.
#[derive(Debug, Clone, Copy)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    /// Seeds the initial weights and the order of the batches.
    pub seed: u64,
}

/// Loss and accuracies, one entry per epoch.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Mean training cross-entropy of the epoch.
    pub loss: Vec<f64>,
    pub train_accuracy: Vec<f64>,
    /// Empty when no held-out set was given.
    pub test_accuracy: Vec<f64>,
}

/// A trained head, its weights, and how training went.
pub struct Trained {
    pub classifier: HabitClassifier,
    pub varmap: VarMap,
    pub history: History,
}

/// Sets every trainable weight from a seeded generator, so that a run is
/// reproducible (candle's own CPU generator cannot be seeded): vectors
/// (biases) start at 0, matrices uniform in ±1/sqrt(columns). (given)
pub fn seeded_init(varmap: &VarMap, seed: u64) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let data = varmap.data().lock().unwrap();
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var = &data[name];
        let dims = var.dims().to_vec();
        let count: usize = dims.iter().product();
        let values: Vec<f32> = if dims.len() < 2 {
            vec![0.0; count]
        } else if name.ends_with("queries") {
            (0..count).map(|_| rng.random_range(-1.0..1.0)).collect()
        } else {
            let bound = 1.0 / (*dims.last().unwrap() as f32).sqrt();
            (0..count)
                .map(|_| rng.random_range(-bound..bound))
                .collect()
        };
        var.set(&Tensor::from_vec(values, dims, var.device())?)?;
    }
    Ok(())
}

/// The labels of a bucket's rows, as a u32 tensor. (given)
fn bucket_labels(bucket: &Bucket, labels: &[usize], rows: &[usize]) -> Result<Tensor> {
    let values: Vec<u32> = rows
        .iter()
        .map(|&i| labels[bucket.rows[i]] as u32)
        .collect();
    Tensor::from_vec(values, rows.len(), bucket.hidden.device())
}

/// Trains a [`HabitClassifier`] on frozen features.
///
/// - `train`: buckets from [`frozen_features`], `labels[row]` the class of
///   sentence `row`; `test`: optional held-out buckets and labels, scored
///   after every epoch.
/// - Build the head on a `VarMap`, call [`seeded_init`], and optimise with
///   `candle_nn::AdamW`, minimising `candle_nn::loss::cross_entropy`.
/// - Each epoch shuffles all training sentences (a `StdRng` seeded from
///   `config.seed`) and cuts them into mini-batches of `batch_size`. Mix the
///   lengths in a batch: run the head once per bucket the batch touches,
///   concatenate the logits, and take one step on the batch's loss. Batches
///   of one length only would be biased (a negated sentence is one token
///   longer), and training stalls.
pub fn train_classifier(
    train: &[Bucket],
    labels: &[usize],
    test: Option<(&[Bucket], &[usize])>,
    head: HeadConfig,
    config: TrainConfig,
) -> Result<Trained> {
    todo!()
}

/// The predicted class of every sentence, in the original order (`count`
/// sentences, spread over the buckets).
pub fn predict(
    classifier: &HabitClassifier,
    buckets: &[Bucket],
    count: usize,
) -> Result<Vec<usize>> {
    todo!()
}

/// The fraction of predictions equal to the labels. (given)
pub fn accuracy(predicted: &[usize], labels: &[usize]) -> f64 {
    let right = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
    right as f64 / labels.len().max(1) as f64
}
