//! Exercise 10's judge (a bonus exercise):
//! 1. a tiny random GPT-2 checkpoint (fixtures/10-gpt/tiny-gpt2) and its
//!    byte-level BPE: the tokenizer's ids and texts, the position ids and
//!    the 4-D mask, the logits and every layer's hidden states against
//!    transformers' `GPT2LMHeadModel` within 1e-4;
//! 2. the KV cache: a prefill then steps give the full forward's logits at
//!    every position, the cache holds transformers' `past_key_values`, and
//!    its shape after every step is (B, H, T, D) in every layer;
//! 3. greedy generation equal to `model.generate(do_sample=False)` token for
//!    token, with and without the cache, and from text to text;
//! 4. temperature, top-k and top-p against transformers' logits warpers;
//!    sampling with a seeded RNG: reproducible, inside the filters, and
//!    drawn with the right frequencies (never compared with torch's RNG);
//! 5. the step time: one cached step must grow far less from T = 32 to
//!    T = 512 than a step without the cache (graded); tokens per second
//!    with and without the cache (printed, not graded);
//! 6. training: a tiny GPT trained by the student's loop on the copy task
//!    (in an adapter process of its own, started first) must continue
//!    95% of held-out prompts into exact copies, and its held-out
//!    cross-entropy (computed here from its logits) must be at most 60% of
//!    the unigram baseline's.
//!
//! The student's code runs in its adapter (`grader/adapters/10-gpt`); `ex`
//! below calls it. The adapter may read the checkpoint folders (inputs
//! only), never this exercise's goldens.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, IndexOp, Tensor};
use grader_kit::client::Client;
use grader_kit::client::Outputs;
use grader_kit::compare::compare;
use grader_kit::manifest::Tolerance;
use grader_kit::ops::Pending;
use grader_kit::protocol::CheckStatus;
use grader_kit::random::randn;
use grader_kit::{Case, CheckResult, Failure, Fixtures, Inputs, Worker};
use rand::Rng;

const EXERCISE: &str = "10-gpt";
const MODEL: &str = "tiny-gpt2";

/// What the model's outputs are compared with: transformers' float32
/// logits, as the fixture cases of the model.
const MODEL_TOLERANCE: Tolerance = Tolerance {
    atol: 1e-4,
    rtol: 1e-4,
};

/// The timing model: large enough that a full forward at T = 512 is mostly
/// arithmetic (not candle's per-op overhead), and that at T = 512 one
/// token's attention (2·T·E per layer) costs as much as its projections and
/// MLP (12·E²); n_positions leaves room for T = 512.
const TIMING: Sizes = Sizes {
    n_embd: 128,
    n_head: 4,
    n_layer: 4,
    vocab_size: 256,
    n_positions: 600,
};
/// The two lengths of the step-time check, and the runs whose fastest counts.
const SHORT: usize = 32;
const LONG: usize = 512;
const TIMING_REPS: usize = 5;
/// How much less a cached step may grow from SHORT to LONG than a step
/// without the cache: at most a third of that growth (see
/// [`step_time_does_not_grow`]).
const GROWTH_FRACTION: f64 = 1.0 / 3.0;
/// The speed line: a greedy generation of this many tokens after a prompt.
const SPEED_PROMPT: usize = 8;
const SPEED_TOKENS: usize = 64;

/// The training check: a tiny GPT learns the copy task
/// `<|endoftext|> x₁…x₆ | x₁…x₆ <|endoftext|>` (letters 2..8, `|` = 1).
const COPY_MODEL: Sizes = Sizes {
    n_embd: 32,
    n_head: 4,
    n_layer: 2,
    vocab_size: 8,
    n_positions: 16,
};
const COPY_LEN: usize = 6;
const COPY_LETTERS: u32 = 6;
const COPY_TRAIN: usize = 2000;
const COPY_TEST: usize = 200;
/// The data's own seed: the same sets in every run (the run's seed never
/// changes what the training sees).
const COPY_DATA_SEED: u64 = 10;
/// The fixed budget: the grader's, not the student's defaults.
const COPY_BUDGET: Budget = Budget {
    steps: 300,
    batch_size: 32,
    learning_rate: 3e-3,
    seed: 8,
};
/// The share of held-out prompts whose greedy continuation must be the
/// exact copy, and how far below the unigram baseline's the held-out
/// cross-entropy must be (a fraction of it). A model that learned the
/// format but not the copy scores 12·ln 6 / 14 ≈ 1.54 nats against the
/// baseline's ≈ 2.04: it fails the loss check too.
const COPY_VALID_NEEDED: f64 = 0.95;
const COPY_LOSS_FRACTION: f64 = 0.6;

/// Every check of exercise 10, in order.
pub fn checks(worker: &mut Worker) {
    let cx = &worker.client();
    let root = worker.args().fixtures.join(EXERCISE);
    let tiny = absolute(&root.join(MODEL));
    let fixtures = Fixtures::load_for(worker, EXERCISE);
    // The checkpoints are inputs: the adapter may read the tiny model and
    // every folder a case names (a hidden set may bring its own), and
    // nothing else of the fixture folder.
    let named = fixtures
        .iter()
        .flat_map(|f| f.checkpoints_named(&root, &[]));
    for dir in std::iter::once(tiny.clone()).chain(named) {
        cx.allow_read(&dir);
    }
    // The training takes longest: it starts first, in an adapter process
    // of its own, and runs while the other checks do.
    let mut training = worker
        .selected("copy-task")
        .then(|| CopyRun::start(cx, &copy_data()));
    if let Some(fixtures) = fixtures {
        fixtures.unknown_ops(worker, ops::OPS);
        let call = |case: &Case| call_case(case, &root);
        fixtures.run_op(worker, "tokenizer", "tokenize", |case| {
            case.check_outputs(&call(case)?)
        });
        fixtures.run_op(worker, "tokenizer", "decode", |case| {
            check_text(case, &call(case)?, "text")
        });
        for op in ["positions", "attention_mask"] {
            fixtures.run_op(worker, "positions and masks", op, |case| {
                case.check_outputs(&call(case)?)
            });
        }
        for op in ["logits", "hidden_states"] {
            fixtures.run_op(worker, "model", op, |case| case.check_outputs(&call(case)?));
        }
        fixtures.run_op(worker, "kv cache", "steps", |case| {
            check_steps(case, &call(case)?)
        });
        fixtures.run_op(worker, "generation", "generate", |case| {
            check_ids(case, &call(case)?)
        });
        fixtures.run_op(worker, "generation", "complete", |case| {
            let out = call(case)?;
            check_ids(case, &out)?;
            let names: Vec<String> = case.spec.expected.keys().cloned().collect();
            for name in names.iter().filter(|n| n.starts_with("text")) {
                check_text(case, &out, name)?;
            }
            Ok(())
        });
        for op in ["temperature", "top_k", "top_p", "filter"] {
            fixtures.run_op(worker, "filters", op, |case| {
                case.check_outputs(&call(case)?)
            });
        }
    }

    let model = Model::read(&tiny);
    worker.check("training", "copy-task", || {
        let run = training
            .take()
            .unwrap_or_else(|| CopyRun::start(cx, &copy_data()));
        copy_task(run)
    });
    worker.property("padding-does-not-leak", |rng| {
        padding_does_not_leak(cx, rng, loaded(&model)?)
    });
    worker.property("steps-match-the-full-forward", |rng| {
        steps_match_the_full_forward(cx, rng, loaded(&model)?)
    });
    worker.property("greedy-tokens-are-argmaxes", |rng| {
        greedy_tokens_are_argmaxes(cx, rng, loaded(&model)?)
    });
    worker.check(
        "properties",
        "checkpoint-without-transformer-prefix-loads-the-same",
        || without_prefix_loads_the_same(cx, loaded(&model)?),
    );
    worker.property("sampling-is-reproducible", |rng| {
        sampling_is_reproducible(cx, rng, loaded(&model)?)
    });
    worker.property("sampling-keeps-to-the-filters", |rng| {
        sampling_keeps_to_the_filters(cx, rng)
    });
    worker.property("sampling-follows-the-distribution", |rng| {
        sampling_follows_the_distribution(cx, rng)
    });
    worker.property("top-k-1-sampling-is-greedy", |rng| {
        top_k_1_is_greedy(cx, rng, loaded(&model)?)
    });
    // The step times are graded by one check and printed by the next.
    let measured: RefCell<Option<String>> = RefCell::new(None);
    worker.check("speed", "step-time-does-not-grow", || {
        step_time_does_not_grow(cx, &measured)
    });
    worker.check("speed", "speed", || report_speed(cx, &measured));
}

/// `path` from the root, as the adapter (another process) must be told it.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Runs a fixture case in the adapter: the case's params and inputs, plus
/// `model_dir`, the checkpoint folder its `model` names, when it names one.
fn call_case(case: &Case, root: &Path) -> Result<Outputs, Failure> {
    match case.param_str("model")? {
        Some(name) => {
            let dir = absolute(&root.join(name));
            case.call_with("model_dir", dir.display().to_string().into())
        }
        None => case.call(),
    }
}

/// A text output (UTF-8 bytes) against the case's, shown as text.
fn check_text(case: &Case, out: &Outputs, name: &str) -> CheckResult {
    let text = |t: &Tensor| -> Result<String, Failure> {
        let bytes = t.flatten_all()?.to_dtype(DType::U8)?.to_vec1::<u8>()?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    let (got, want) = (text(&out.get(name)?)?, text(&case.expected(name)?)?);
    if got != want {
        return Err(Failure::new(format!(
            "`{name}`: expected the text {want:?}, got {got:?}"
        )));
    }
    Ok(())
}

/// Generated ids against the case's, token for token; a failure names the
/// first token that differs in each row.
fn check_ids(case: &Case, out: &Outputs) -> CheckResult {
    let got = out.get("ids")?;
    let want = case.expected("ids")?;
    let prompt = case.input("input_ids").ok().map(|t| t.dim(1)).transpose()?;
    case.check("ids", &got)
        .map_err(|failure| match first_differences(&got, &want, prompt) {
            Some(where_) => failure.context(where_),
            None => failure,
        })
}

/// "row b: first difference at token t (new token n): expected x, got y"
/// for every row that differs, when the shapes agree.
fn first_differences(got: &Tensor, want: &Tensor, prompt: Option<usize>) -> Option<String> {
    let rows = |t: &Tensor| t.to_dtype(DType::I64).ok()?.to_vec2::<i64>().ok();
    let (got, want) = (rows(got)?, rows(want)?);
    if got.len() != want.len() {
        return None;
    }
    let mut lines = vec![];
    for (b, (g, w)) in got.iter().zip(&want).enumerate() {
        if g.len() != w.len() {
            return None;
        }
        if let Some(t) = (0..w.len()).find(|&t| g[t] != w[t]) {
            let which = match prompt {
                Some(p) if t >= p => format!(" (new token {})", t - p + 1),
                Some(_) => " (in the prompt, which must come back as it was)".to_string(),
                None => String::new(),
            };
            lines.push(format!(
                "row {b} first differs at token {t}{which}: expected id {}, got {}",
                w[t], g[t]
            ));
        }
    }
    (!lines.is_empty()).then(|| lines.join("; "))
}

/// The logits first (a catalogued mistake of the cache is named from
/// them), then the cache's shape after every step, then its values.
fn check_steps(case: &Case, out: &Outputs) -> CheckResult {
    case.check("logits", &out.get("logits")?)?;
    let chunks: Vec<usize> = case
        .params()
        .value("chunks")?
        .ok_or_else(|| Failure::fixture(format!("case {} has no chunks", case.id())))?;
    let batch = case.input("input_ids")?.dim(0)?;
    let k0 = case.expected("k0")?;
    let (_, heads, _, head_dim) = k0.dims4()?;
    let layers = case
        .spec
        .expected
        .keys()
        .filter(|k| k.starts_with('k'))
        .count();
    check_cache_shapes(
        &out.get("cache_shapes")?,
        &chunks,
        [batch, heads, head_dim],
        layers,
    )?;
    case.check_outputs(out)
}

/// `shapes` (chunks, layers, 2, 5): after each chunk, each layer's k and v
/// shape as [rank, d0, d1, d2, d3]; each must be (B, H, T, D), T the
/// positions seen so far.
fn check_cache_shapes(
    shapes: &Tensor,
    chunks: &[usize],
    [batch, heads, head_dim]: [usize; 3],
    layers: usize,
) -> CheckResult {
    let dims = shapes.dims();
    if dims.len() != 4 || dims[0] != chunks.len() || dims[2] != 2 || dims[3] != 5 {
        return Err(Failure::fixture(format!(
            "the adapter sent cache shapes of shape {dims:?}"
        )));
    }
    if dims[1] != layers {
        return Err(Failure::new(format!(
            "the cache has {} layers; the model has {layers}: one LayerCache per block",
            dims[1]
        )));
    }
    let values = shapes
        .to_dtype(DType::U32)?
        .flatten_all()?
        .to_vec1::<u32>()?;
    let mut seen = 0;
    for (step, &n) in chunks.iter().enumerate() {
        seen += n;
        let want = [batch, heads, seen, head_dim];
        for layer in 0..layers {
            for (which, name) in ["k", "v"].iter().enumerate() {
                let at = ((step * layers + layer) * 2 + which) * 5;
                let rank = values[at] as usize;
                let got: Vec<usize> = values[at + 1..at + 1 + rank.min(4)]
                    .iter()
                    .map(|&d| d as usize)
                    .collect();
                if rank == 4 && got == want {
                    continue;
                }
                let why = cache_shape_hint(&got, rank, want, n);
                return Err(Failure::new(format!(
                    "after step {} ({n} new tokens, {seen} positions in all), layer {layer}'s cached {name} has shape {got:?}{}; expected (B, H, T, D) = {want:?}{why}",
                    step + 1,
                    if rank > 4 { format!(" (rank {rank})") } else { String::new() },
                )));
            }
        }
    }
    Ok(())
}

/// What a wrong cache shape most likely means.
fn cache_shape_hint(got: &[usize], rank: usize, want: [usize; 4], new: usize) -> String {
    let count: usize = got.iter().product();
    if rank != 4 {
        return ": keep the heads split, as split_heads gives them".to_string();
    }
    if got[2] == new && want[2] != new {
        return ": it holds only this step's positions; append them to the past keys and values (Tensor::cat along axis 2), do not replace them".to_string();
    }
    if count == want.iter().product::<usize>() {
        return ": the right number of values in another layout; append along T, axis 2 of (B, H, T, D)".to_string();
    }
    if got[2] == want[2] - new {
        return ": the new positions are missing; return the grown cache".to_string();
    }
    ": append along T, axis 2 of (B, H, T, D)".to_string()
}

/// The tiny checkpoint's folder and sizes.
struct Model {
    dir: PathBuf,
    vocab_size: usize,
    n_positions: usize,
}

impl Model {
    /// Reads `config.json` of the checkpoint folder.
    fn read(dir: &Path) -> Result<Model, Failure> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Failure::fixture(format!("{}: {e}", path.display())))?;
        let config: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Failure::fixture(format!("{}: {e}", path.display())))?;
        let size = |name: &str| {
            config[name]
                .as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| Failure::fixture(format!("{}: no {name}", path.display())))
        };
        Ok(Model {
            dir: dir.to_path_buf(),
            vocab_size: size("vocab_size")?,
            n_positions: size("n_positions")?,
        })
    }
}

/// The model read by [`Model::read`], or why it could not be.
fn loaded(model: &Result<Model, Failure>) -> Result<&Model, Failure> {
    model.as_ref().map_err(Clone::clone)
}

/// Random token ids 1..V (no end-of-text) of `len` tokens.
fn random_tokens(rng: &mut impl Rng, len: usize, vocab: usize) -> Vec<u32> {
    (0..len)
        .map(|_| rng.random_range(1..vocab as u32))
        .collect()
}

/// Random token ids of a random length in lo..=hi.
fn random_row(rng: &mut impl Rng, lo: usize, hi: usize, vocab: usize) -> Vec<u32> {
    let len = rng.random_range(lo..=hi);
    random_tokens(rng, len, vocab)
}

/// A left-padded batch of `rows` (ids 0 and mask 0 at the padding).
fn left_padded(rows: &[Vec<u32>]) -> Result<(Tensor, Tensor), Failure> {
    let len = rows.iter().map(Vec::len).max().unwrap_or(0);
    let (mut ids, mut mask) = (vec![], vec![]);
    for row in rows {
        let pads = len - row.len();
        ids.extend(std::iter::repeat_n(0u32, pads).chain(row.iter().copied()));
        mask.extend(std::iter::repeat_n(0u8, pads).chain(std::iter::repeat_n(1u8, row.len())));
    }
    Ok((
        Tensor::from_vec(ids, (rows.len(), len), &Device::Cpu)?,
        Tensor::from_vec(mask, (rows.len(), len), &Device::Cpu)?,
    ))
}

/// A sentence alone and the same sentence left-padded inside a batch with
/// a longer one give the same logits at its real positions.
fn padding_does_not_leak(cx: &Client, rng: &mut impl Rng, model: &Model) -> CheckResult {
    let short = random_row(rng, 2, 10, model.vocab_size);
    let long_len = rng.random_range(short.len() + 1..=24);
    let long = random_tokens(rng, long_len, model.vocab_size);
    let (alone, alone_mask) = left_padded(std::slice::from_ref(&short))?;
    let (batch, mask) = left_padded(&[long, short.clone()])?;
    let a = ex::logits(cx, &model.dir, None, &alone, &alone_mask)?;
    let b = ex::logits(cx, &model.dir, None, &batch, &mask)?;
    let pads = long_len - short.len();
    let real = b.i((1..2, pads..))?;
    compare("logits of the padded row", &real, &a, MODEL_TOLERANCE).map_err(|f| {
        f.context(format!(
            "a sequence of {} tokens left-padded by {pads} in a batch must give its logits alone (positions from the mask, padding keys masked)",
            short.len()
        ))
    })
}

/// Prefill then random steps give the student's own full forward's logits
/// at every real position, on a random left-padded batch; and the cache
/// has the right shape after every step.
fn steps_match_the_full_forward(cx: &Client, rng: &mut impl Rng, model: &Model) -> CheckResult {
    let batch = rng.random_range(1..=3);
    let len = rng.random_range(2..=model.n_positions.min(40));
    let rows: Vec<Vec<u32>> = (0..batch)
        .map(|_| random_row(rng, 1, len, model.vocab_size))
        .collect();
    let mut rows = rows;
    rows[0] = random_tokens(rng, len, model.vocab_size);
    let (ids, mask) = left_padded(&rows)?;
    let most_padding = rows.iter().map(|r| len - r.len()).max().unwrap_or(0);
    // The prefill holds every row's padding; then chunks of 1 to 4 tokens.
    let mut chunks = vec![rng.random_range(most_padding + 1..=len)];
    while chunks.iter().sum::<usize>() < len {
        let left = len - chunks.iter().sum::<usize>();
        chunks.push(rng.random_range(1..=left.min(4)));
    }
    let full = ex::logits(cx, &model.dir, None, &ids, &mask)?;
    let (logits, shapes, k, _) = ex::steps(cx, &model.dir, &ids, &mask, &chunks)?;
    if let Some((_, heads, _, head_dim)) = k.first().and_then(|k0| k0.dims4().ok()) {
        check_cache_shapes(&shapes, &chunks, [batch, heads, head_dim], k.len())?;
    }
    compare("logits", &logits, &full, MODEL_TOLERANCE).map_err(|f| {
        f.context(format!(
            "{batch} rows of {len} tokens, left-padded, prefill then steps of {chunks:?} tokens: the steps' logits must be the full forward's"
        ))
    })
}

/// Greedy generation of a random left-padded batch, with the cache and
/// without it: every generated token is the argmax of the student's own
/// full forward at the position before it (within twice the tolerance of
/// the model's logits, so that a near tie decides nothing).
fn greedy_tokens_are_argmaxes(cx: &Client, rng: &mut impl Rng, model: &Model) -> CheckResult {
    let rows: Vec<Vec<u32>> = (0..rng.random_range(1..=3))
        .map(|_| random_row(rng, 1, 8, model.vocab_size))
        .collect();
    let (ids, mask) = left_padded(&rows)?;
    let (batch, prompt) = ids.dims2()?;
    let new = rng.random_range(1..=12);
    for use_cache in [true, false] {
        let how = if use_cache { "with" } else { "without" };
        let generated = ex::greedy_ids(cx, &model.dir, &ids, &mask, new, use_cache)?;
        if generated.dims() != [batch, prompt + new] {
            return Err(Failure::new(format!(
                "generate {how} the cache returned ids of shape {:?} for a prompt {:?} and {new} new tokens; expected [{batch}, {}]",
                generated.dims(),
                ids.dims(),
                prompt + new
            )));
        }
        let ones = Tensor::ones((batch, new), DType::U8, &Device::Cpu)?;
        let full_mask = Tensor::cat(&[&mask, &ones], 1)?;
        let generated = generated.to_dtype(DType::U32)?;
        let logits = ex::logits(cx, &model.dir, None, &generated, &full_mask)?;
        let logits = logits.to_dtype(DType::F32)?.to_vec3::<f32>()?;
        let tokens = generated.to_vec2::<u32>()?;
        for b in 0..batch {
            for t in prompt..prompt + new {
                let row = &logits[b][t - 1];
                let best = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let token = tokens[b][t] as usize;
                let got = row.get(token).copied().unwrap_or(f32::NEG_INFINITY);
                let slack = 2.0 * (MODEL_TOLERANCE.atol + MODEL_TOLERANCE.rtol * best.abs() as f64);
                // NaN is never the argmax.
                let short = f64::from(got) < f64::from(best) - slack;
                if short || got.is_nan() || best.is_nan() {
                    return Err(Failure::new(format!(
                        "greedy generation {how} the cache, {new} tokens after a left-padded prompt of {prompt}: row {b}'s new token {} is id {token}, whose logit {got} is not the largest ({best}) of your full forward at the position before it",
                        t - prompt + 1
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The tiny checkpoint with every name without `transformer.` (as the
/// hub's original gpt2 checkpoint) loads into the same model.
fn without_prefix_loads_the_same(cx: &Client, model: &Model) -> CheckResult {
    let tensors = candle_core::safetensors::load(model.dir.join("model.safetensors"), &Device::Cpu)
        .map_err(|e| Failure::fixture(e.to_string()))?;
    let bare: std::collections::HashMap<String, Tensor> = tensors
        .iter()
        .map(|(k, v)| (k.trim_start_matches("transformer.").to_string(), v.clone()))
        .collect();
    let ids = Tensor::new(&[[5u32, 17, 42, 99, 3]], &Device::Cpu)?;
    let mask = ids.ones_like()?.to_dtype(DType::U8)?;
    let a = ex::logits(cx, &model.dir, None, &ids, &mask)?;
    let b = ex::logits(cx, &model.dir, Some(&bare), &ids, &mask)?;
    compare(
        "logits (names without transformer.)",
        &b,
        &a,
        Tolerance {
            atol: 0.0,
            rtol: 0.0,
        },
    )
}

/// A random sampling configuration: a temperature, and top-k and top-p
/// each half of the time.
fn random_sampling(rng: &mut impl Rng) -> Sampling {
    Sampling {
        temperature: rng.random_range(0.5..1.5),
        top_k: rng.random_bool(0.5).then(|| rng.random_range(1..=20)),
        top_p: rng.random_bool(0.5).then(|| rng.random_range(0.3..0.95)),
    }
}

/// The same seed gives the same samples (`sample`, and a sampled
/// generation with the cache); another seed gives others.
fn sampling_is_reproducible(cx: &Client, rng: &mut impl Rng, model: &Model) -> CheckResult {
    let logits = (randn(rng, &[3, 50]) * 2.0)?;
    let sampling = random_sampling(rng);
    let seed: u64 = rng.random_range(0..1 << 40);
    let a = ex::sample(cx, &logits, &sampling, seed, 20)?;
    let b = ex::sample(cx, &logits, &sampling, seed, 20)?;
    let exact = Tolerance {
        atol: 0.0,
        rtol: 0.0,
    };
    compare("samples", &b, &a, exact).map_err(|f| {
        f.context(format!(
            "two runs with the seed {seed} ({sampling:?}) must draw the same tokens"
        ))
    })?;
    // Without filters, 3 rows × 20 draws from 50 tokens: another seed that
    // draws the very same 60 tokens means the rng is not used.
    let open = Sampling {
        temperature: 1.0,
        top_k: None,
        top_p: None,
    };
    let a = ex::sample(cx, &logits, &open, seed, 20)?;
    let c = ex::sample(cx, &logits, &open, seed + 1, 20)?;
    if compare("samples", &c, &a, exact).is_ok() {
        return Err(Failure::new(format!(
            "the seeds {seed} and {} drew the same 60 tokens: draw from the rng you are given",
            seed + 1
        )));
    }
    let (ids, mask) = left_padded(&[random_tokens(rng, 5, model.vocab_size)])?;
    let first = ex::generate_sampled(cx, &model.dir, &ids, &mask, 8, &sampling, seed, true)?;
    let again = ex::generate_sampled(cx, &model.dir, &ids, &mask, 8, &sampling, seed, true)?;
    compare("ids", &again, &first, exact).map_err(|f| {
        f.context(format!(
            "two sampled generations with the seed {seed} ({sampling:?}) must give the same tokens"
        ))
    })
}

/// Which tokens of each row `sampling` may draw, computed here in f64 from
/// the definitions (temperature, then top-k, then top-p); tokens within
/// 1e-5 of a top-p threshold count as allowed either way.
fn allowed_tokens(logits: &Tensor, sampling: &Sampling) -> Result<Vec<Vec<bool>>, Failure> {
    let rows = logits.to_dtype(DType::F64)?.to_vec2::<f64>()?;
    Ok(rows
        .iter()
        .map(|row| {
            let scaled: Vec<f64> = row.iter().map(|x| x / sampling.temperature).collect();
            let mut order: Vec<usize> = (0..scaled.len()).collect();
            order.sort_by(|&a, &b| scaled[b].total_cmp(&scaled[a]));
            let kept = sampling.top_k.unwrap_or(scaled.len()).min(scaled.len());
            let mut allowed = vec![false; scaled.len()];
            let max = scaled[order[0]];
            let total: f64 = order[..kept].iter().map(|&t| (scaled[t] - max).exp()).sum();
            let mut above = 0.0;
            for (rank, &token) in order[..kept].iter().enumerate() {
                if let Some(p) = sampling.top_p {
                    if rank > 0 && above >= p + 1e-5 {
                        break;
                    }
                }
                allowed[token] = true;
                above += (scaled[token] - max).exp() / total;
            }
            allowed
        })
        .collect())
}

/// Every sampled token is one the filters keep.
fn sampling_keeps_to_the_filters(cx: &Client, rng: &mut rand::rngs::StdRng) -> CheckResult {
    for _ in 0..3 {
        let logits = (randn(rng, &[4, 60]) * 3.0)?;
        let mut sampling = random_sampling(rng);
        if sampling.top_k.is_none() && sampling.top_p.is_none() {
            sampling.top_k = Some(rng.random_range(1..=8));
        }
        let seed: u64 = rng.random_range(0..1 << 40);
        let samples = ex::sample(cx, &logits, &sampling, seed, 50)?;
        let allowed = allowed_tokens(&logits, &sampling)?;
        let drawn = samples.to_dtype(DType::U32)?.to_vec2::<u32>()?;
        for draw in &drawn {
            for (row, &token) in draw.iter().enumerate() {
                if !allowed[row].get(token as usize).copied().unwrap_or(false) {
                    return Err(Failure::new(format!(
                        "{sampling:?}: row {row} drew token {token}, which the filters remove (it keeps {:?})",
                        allowed[row]
                            .iter()
                            .enumerate()
                            .filter(|(_, a)| **a)
                            .map(|(t, _)| t)
                            .collect::<Vec<_>>()
                    )));
                }
            }
        }
    }
    Ok(())
}

/// 4,000 draws from a distribution of five tokens: each token's frequency
/// within five standard deviations (plus 0.002) of its probability,
/// softmax(logits / temperature). A correct sampler fails this once in
/// about a million runs.
fn sampling_follows_the_distribution(cx: &Client, rng: &mut rand::rngs::StdRng) -> CheckResult {
    let (rows, draws) = (8usize, 500usize);
    let row: Vec<f32> = (0..5).map(|_| rng.random_range(-1.5f32..1.5)).collect();
    let temperature = [0.7, 1.0, 1.5][rng.random_range(0..3)];
    let logits = Tensor::from_vec(row.repeat(rows), (rows, 5), &Device::Cpu)?;
    let sampling = Sampling {
        temperature,
        top_k: None,
        top_p: None,
    };
    let seed: u64 = rng.random_range(0..1 << 40);
    let samples = ex::sample(cx, &logits, &sampling, seed, draws)?;
    let mut counts = [0usize; 5];
    for draw in samples.to_dtype(DType::U32)?.to_vec2::<u32>()? {
        for token in draw {
            match counts.get_mut(token as usize) {
                Some(c) => *c += 1,
                None => return Err(Failure::new(format!("drew token {token} from 5 tokens"))),
            }
        }
    }
    let scaled: Vec<f64> = row.iter().map(|&x| f64::from(x) / temperature).collect();
    let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let total: f64 = scaled.iter().map(|x| (x - max).exp()).sum();
    let n = (rows * draws) as f64;
    for (token, &count) in counts.iter().enumerate() {
        let p = (scaled[token] - max).exp() / total;
        let f = count as f64 / n;
        let bound = 5.0 * (p * (1.0 - p) / n).sqrt() + 0.002;
        if (f - p).abs() > bound {
            return Err(Failure::new(format!(
                "logits {row:?} at temperature {temperature}: token {token} has probability {p:.4} but was drawn {count} times in {} ({f:.4}); draw from softmax(logits / temperature)",
                rows * draws
            )));
        }
    }
    Ok(())
}

/// A sampled generation with top_k = 1 is the greedy one.
fn top_k_1_is_greedy(cx: &Client, rng: &mut impl Rng, model: &Model) -> CheckResult {
    let rows: Vec<Vec<u32>> = (0..2)
        .map(|_| random_row(rng, 1, 6, model.vocab_size))
        .collect();
    let (ids, mask) = left_padded(&rows)?;
    let sampling = Sampling {
        temperature: rng.random_range(0.5..1.5),
        top_k: Some(1),
        top_p: None,
    };
    let seed: u64 = rng.random_range(0..1 << 40);
    let sampled = ex::generate_sampled(cx, &model.dir, &ids, &mask, 10, &sampling, seed, true)?;
    let greedy = ex::greedy_ids(cx, &model.dir, &ids, &mask, 10, true)?;
    compare(
        "ids",
        &sampled,
        &greedy,
        Tolerance {
            atol: 0.0,
            rtol: 0.0,
        },
    )
    .map_err(|f| {
        f.context(format!(
            "sampling with {sampling:?} keeps one token: it must give the greedy tokens"
        ))
    })
}

/// The copy task's training, held-out prompts and held-out sequences.
struct CopyData {
    train: Vec<Vec<u32>>,
    test: Vec<Vec<u32>>,
}

/// `<|endoftext|> x | x <|endoftext|>` for random x of COPY_LEN letters;
/// the test strings are none of the training ones.
fn copy_data() -> CopyData {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(COPY_DATA_SEED);
    let mut draw = || -> Vec<u32> {
        let x: Vec<u32> = (0..COPY_LEN)
            .map(|_| 2 + rng.random_range(0..COPY_LETTERS))
            .collect();
        [vec![0], x.clone(), vec![1], x, vec![0]].concat()
    };
    let train: Vec<Vec<u32>> = (0..COPY_TRAIN).map(|_| draw()).collect();
    let seen: std::collections::HashSet<Vec<u32>> = train.iter().cloned().collect();
    let mut test = vec![];
    while test.len() < COPY_TEST {
        let sequence = draw();
        if !seen.contains(&sequence) {
            test.push(sequence);
        }
    }
    CopyData { train, test }
}

/// The copy task's training, started in an adapter process of its own.
struct CopyRun {
    started: Pending<(Tensor, Tensor, Vec<f64>)>,
    data: CopyData,
}

impl CopyRun {
    fn start(cx: &Client, data: &CopyData) -> CopyRun {
        let prompts: Vec<Vec<u32>> = data
            .test
            .iter()
            .map(|s| s[..COPY_LEN + 2].to_vec())
            .collect();
        let started = start::train_copy(
            cx,
            &COPY_MODEL,
            &COPY_BUDGET,
            &data.train,
            &prompts,
            COPY_LEN + 1,
            &data.test,
        );
        CopyRun {
            started,
            data: CopyData {
                train: data.train.clone(),
                test: data.test.clone(),
            },
        }
    }
}

/// Graded: after training on the copy task within the grader's budget,
/// at least COPY_VALID_NEEDED of the held-out prompts `<|endoftext|> x |`
/// continue greedily into exactly `x <|endoftext|>`, and the held-out
/// cross-entropy (computed here from the logits the model gives) is at
/// most COPY_LOSS_FRACTION of the unigram baseline's (the training
/// tokens' frequencies, no context).
fn copy_task(run: CopyRun) -> CheckResult {
    let CopyRun { started, data } = run;
    let (continuations, test_logits, losses) = started.finish()?;
    let last_loss = losses.last().copied().unwrap_or(f64::NAN);
    let want_dims = [data.test.len(), COPY_LEN + 1];
    if continuations.dims() != want_dims {
        return Err(Failure::new(format!(
            "the continuations have shape {:?}, expected {want_dims:?}",
            continuations.dims()
        )));
    }
    let continuations = continuations.to_dtype(DType::U32)?.to_vec2::<u32>()?;
    let mut right = 0;
    let mut wrong = None;
    for (sequence, got) in data.test.iter().zip(&continuations) {
        if got.as_slice() == &sequence[COPY_LEN + 2..] {
            right += 1;
        } else if wrong.is_none() {
            wrong = Some((sequence[..COPY_LEN + 2].to_vec(), got.clone()));
        }
    }
    let valid = right as f64 / data.test.len() as f64;
    let (model_ce, unigram_ce) = copy_cross_entropies(&test_logits, &data)?;
    let summary = format!(
        "{right} of {} held-out prompts copied exactly ({:.1}%, needed {:.0}%); held-out cross-entropy {model_ce:.3} nats against the unigram baseline's {unigram_ce:.3} (at most {:.3} needed); last training loss {last_loss:.3}",
        data.test.len(),
        100.0 * valid,
        100.0 * COPY_VALID_NEEDED,
        COPY_LOSS_FRACTION * unigram_ce
    );
    if valid < COPY_VALID_NEEDED || !valid.is_finite() {
        let example = wrong
            .map(|(prompt, got)| format!("; e.g. the prompt {prompt:?} continued as {got:?}"))
            .unwrap_or_default();
        return Err(Failure::new(format!("{summary}{example}")));
    }
    if model_ce.is_nan() || model_ce > COPY_LOSS_FRACTION * unigram_ce {
        return Err(Failure::new(summary));
    }
    Ok(())
}

/// The held-out cross-entropy of the model (from `logits` (M, T − 1, V):
/// position t predicts token t + 1) and of the unigram baseline (the
/// frequencies of the training tokens at positions 1..T), in nats per
/// token.
fn copy_cross_entropies(logits: &Tensor, data: &CopyData) -> Result<(f64, f64), Failure> {
    let len = data.test[0].len();
    let vocab = COPY_MODEL.vocab_size;
    let want = [data.test.len(), len - 1, vocab];
    if logits.dims() != want {
        return Err(Failure::new(format!(
            "the held-out logits have shape {:?}, expected {want:?}",
            logits.dims()
        )));
    }
    let logits = logits.to_dtype(DType::F64)?.to_vec3::<f64>()?;
    let mut counts = vec![1.0f64; vocab];
    for sequence in &data.train {
        for &token in &sequence[1..] {
            counts[token as usize] += 1.0;
        }
    }
    let total: f64 = counts.iter().sum();
    let (mut model, mut unigram, mut n) = (0.0, 0.0, 0.0);
    for (sequence, rows) in data.test.iter().zip(&logits) {
        for (t, row) in rows.iter().enumerate() {
            let target = sequence[t + 1] as usize;
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let log_sum = row.iter().map(|x| (x - max).exp()).sum::<f64>().ln() + max;
            model += log_sum - row[target];
            unigram -= (counts[target] / total).ln();
            n += 1.0;
        }
    }
    Ok((model / n, unigram / n))
}

/// `values`, when they are `count` measurements (finite seconds, not negative).
fn measurements(values: Vec<f64>, count: usize) -> Result<Vec<f64>, Failure> {
    if values.len() != count || values.iter().any(|x| !x.is_finite() || *x < 0.0) {
        return Err(Failure::new(format!(
            "the adapter sent back {values:?}, not {count} measurements"
        )));
    }
    Ok(values)
}

/// Graded: one cached step (one token after T − 1 cached positions) must
/// grow from T = 32 to T = 512 by at most a third of what a step without
/// the cache (a full forward of T tokens) grows by, both timed in the
/// adapter on the same random model. Without the cache the step's work
/// grows at least 16 times (T·12·E² + T²·2·E per layer); with it, only its
/// one attention row grows (12·E² + T·2·E). A "cache" that recomputes the
/// past grows as much as the full forward and fails.
fn step_time_does_not_grow(cx: &Client, measured: &RefCell<Option<String>>) -> CheckResult {
    let (cached, full) = ex::step_time(cx, &TIMING, &[SHORT, LONG], TIMING_REPS)?;
    let (cached, full) = (measurements(cached, 2)?, measurements(full, 2)?);
    let cached_growth = cached[1] / cached[0].max(1e-9);
    let full_growth = full[1] / full[0].max(1e-9);
    let line = format!(
        "one cached step: {:.2} ms at T = {SHORT}, {:.2} ms at T = {LONG} (× {cached_growth:.1}); without the cache: {:.2} ms and {:.2} ms (× {full_growth:.1}); {} layers, E = {}, {} heads, fastest of {TIMING_REPS} runs",
        cached[0] * 1e3,
        cached[1] * 1e3,
        full[0] * 1e3,
        full[1] * 1e3,
        TIMING.n_layer,
        TIMING.n_embd,
        TIMING.n_head,
    );
    *measured.borrow_mut() = Some(line.clone());
    if cached_growth > 1.0 + (full_growth - 1.0) * GROWTH_FRACTION {
        return Err(Failure::new(format!(
            "a cached step grows too fast with T: {line}. A step must compute the new token only, reading the past keys and values from the cache"
        )));
    }
    Ok(())
}

/// Tokens per second with and without the cache, and the step times the
/// check before measured: a line in the report, never points.
fn report_speed(cx: &Client, measured: &RefCell<Option<String>>) -> CheckResult {
    let measured_speed =
        ex::speed(cx, &TIMING, SPEED_PROMPT, SPEED_TOKENS).and_then(|(cached, full)| {
            Ok((
                measurements(vec![cached], 1)?[0],
                measurements(vec![full], 1)?[0],
            ))
        });
    let (cached, full) = match measured_speed {
        Ok(times) => times,
        Err(failure) if failure.status == CheckStatus::NotStarted => return Err(failure),
        Err(failure) => {
            return Err(Failure::not_graded(format!(
                "not graded, not measured: {}",
                failure.message
            )))
        }
    };
    let rate = |secs: f64| SPEED_TOKENS as f64 / secs.max(1e-9);
    let steps = match measured.borrow().as_ref() {
        Some(line) => format!("; {line}"),
        None => String::new(),
    };
    Err(Failure::not_graded(format!(
        "not graded: greedy generation of {SPEED_TOKENS} tokens after {SPEED_PROMPT}: {:.0} tokens/s with the cache, {:.0} without ({:.1}× faster){steps}",
        rate(cached),
        rate(full),
        full / cached.max(1e-9),
    )))
}

#[path = "../../../adapters/10-gpt/src/ops.rs"]
mod ops;
use ops::{call as ex, start, Budget, Sampling, Sizes};
