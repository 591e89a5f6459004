//! Exercise 10's adapter: op name → the student's GPT-2, KV cache, decoding
//! and tokenizer. The judge (`grader/checks/10-gpt`) sends the inputs and
//! the folder of the checkpoint to load (`model_dir`, readable by this
//! process), and judges the outputs.
//!
//! What a padded position holds is not specified by the exercise (a
//! padding query sees no key): the ops that return per-position tensors set
//! those positions to 0 here, in the student's outputs, before they go back.
//!
//! Two ops measure instead of computing: `step_time` returns the seconds of
//! one cached step and of one full forward at several lengths, `speed` the
//! seconds of a greedy generation with and without the cache, both on a
//! model with random weights built by the student's `Gpt2::new`. The judge
//! decides what the numbers mean.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use grader_kit::adapter::LoadedOnce;
use grader_kit::ops::{Tensor, Weights};
use grader_kit::Failure;
use ops::{Sampling, Sizes};
use rand::rngs::StdRng;
use rand::SeedableRng;

mod ops;

fn main() {
    ops::serve(ops::Student {
        tokenize,
        decode: |dir, ids| {
            let ids = ids.flatten_all()?.to_dtype(DType::U32)?.to_vec1::<u32>()?;
            Ok(ex::decode(&*tokenizer(&dir)?, &ids)?)
        },
        positions: |past, new| {
            let past = past.map(u8_mask).transpose()?;
            Ok(ex::positions(past.as_ref(), &u8_mask(new)?)?)
        },
        attention_mask: |past, new| {
            let past = past.map(u8_mask).transpose()?;
            Ok(ex::attention_mask(past.as_ref(), &u8_mask(new)?)?)
        },
        logits: |dir, params, ids, mask| {
            let (ids, mask) = batch(ids, mask)?;
            let logits = model(&dir, params)?.forward(&ids, Some(&mask))?;
            zero_padding(&logits, &mask)
        },
        hidden_states: |dir, ids, mask| {
            let (ids, mask) = batch(ids, mask)?;
            let out = model(&dir, None)?.forward_step(&ids, Some(&mask), None)?;
            let hidden = out.hidden_states.iter();
            hidden.map(|h| zero_padding(h, &mask)).collect()
        },
        steps: |dir, ids, mask, chunks| {
            let (ids, mask) = batch(ids, mask)?;
            steps(&*model(&dir, None)?, &ids, &mask, &chunks)
        },
        // One computation under the two names the fixture cases group it by.
        generate: greedy,
        greedy_ids: greedy,
        generate_sampled: |dir, ids, mask, new, sampling, seed, use_cache| {
            let (sampling, mut rng) = (student_sampling(&sampling), StdRng::seed_from_u64(seed));
            let next = |logits: &Tensor| ex::sample(logits, &sampling, &mut rng);
            generate(&dir, ids, mask, new, use_cache, next)
        },
        complete: |dir, texts, new| {
            let tokenizer = tokenizer(&dir)?;
            let (ids, mask) = tokenize(dir.clone(), texts)?;
            let model = model(&dir, None)?;
            let out = ex::generate(&model, &ids, Some(&mask), new, true, ex::greedy)?;
            let prompt = ids.dim(1)?;
            let rows = out.to_dtype(DType::U32)?.to_vec2::<u32>()?;
            let texts = (rows.iter()).map(|row| {
                Ok(ex::decode(
                    &tokenizer,
                    row.get(prompt..).unwrap_or_default(),
                )?)
            });
            Ok((out, texts.collect::<Result<_, Failure>>()?))
        },
        temperature: |logits, t| Ok(ex::apply_temperature(&logits, t)?),
        top_k: |logits, k| Ok(ex::top_k_filter(&logits, k)?),
        top_p: |logits, p| Ok(ex::top_p_filter(&logits, p)?),
        filter: |logits, sampling| Ok(ex::filter_logits(&logits, &student_sampling(&sampling))?),
        sample: |logits, sampling, seed, draws| {
            let (sampling, mut rng) = (student_sampling(&sampling), StdRng::seed_from_u64(seed));
            let draws = (0..draws)
                .map(|_| Ok(ex::sample(&logits, &sampling, &mut rng)?.to_dtype(DType::U32)?))
                .collect::<Result<Vec<_>, Failure>>()?;
            Ok(Tensor::stack(&draws, 0)?)
        },
        train_copy: |sizes, budget, train, prompts, new, test| {
            let budget = ex::TrainConfig {
                steps: budget.steps,
                batch_size: budget.batch_size,
                learning_rate: budget.learning_rate,
                seed: budget.seed,
            };
            let (model, losses) =
                ex::train_lm(&config_of(&sizes), &rows("train", &train)?, &budget)?;
            let prompts = rows_tensor("prompts", &prompts)?;
            let generated = ex::generate(&model, &prompts, None, new, true, ex::greedy)?;
            let continuations = generated.narrow(1, prompts.dim(1)?, new)?;
            let test = rows_tensor("test", &test)?;
            let test_logits = model.forward(&test.narrow(1, 0, test.dim(1)? - 1)?, None)?;
            Ok((continuations, test_logits, losses))
        },
        step_time: |sizes, lengths, reps| {
            let model = random_model(&sizes)?;
            let (mut cached, mut full) = (vec![], vec![]);
            for &len in &lengths {
                let ids = some_ids(len, sizes.vocab_size)?;
                let prefix = model.forward_step(&ids.narrow(1, 0, len - 1)?, None, None)?;
                let last = ids.narrow(1, len - 1, 1)?;
                cached.push(fastest_secs(reps, || {
                    model.forward_step(&last, None, Some(&prefix.cache))?;
                    Ok(())
                })?);
                full.push(fastest_secs(reps, || {
                    model.forward(&ids, None)?;
                    Ok(())
                })?);
            }
            Ok((cached, full))
        },
        speed: |sizes, prompt, new| {
            let model = random_model(&sizes)?;
            let ids = some_ids(prompt, sizes.vocab_size)?;
            let time = |use_cache: bool| -> Result<f64, Failure> {
                let start = Instant::now();
                ex::generate(&model, &ids, None, new, use_cache, ex::greedy)?;
                Ok(start.elapsed().as_secs_f64())
            };
            Ok((time(true)?, time(false)?))
        },
    })
}

fn tokenize(dir: PathBuf, texts: Vec<String>) -> Result<(Tensor, Tensor), Failure> {
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    Ok(ex::encode_batch(&*tokenizer(&dir)?, &texts, &Device::Cpu)?)
}

/// Greedy decoding of `new` tokens after the padded prompts.
fn greedy(
    dir: PathBuf,
    ids: Tensor,
    mask: Tensor,
    new: usize,
    use_cache: bool,
) -> Result<Tensor, Failure> {
    generate(&dir, ids, mask, new, use_cache, ex::greedy)
}

/// The student's `generate` after the padded prompts, each next token
/// picked by `next`.
fn generate(
    dir: &Path,
    ids: Tensor,
    mask: Tensor,
    new: usize,
    use_cache: bool,
    next: impl FnMut(&Tensor) -> candle_core::Result<Tensor>,
) -> Result<Tensor, Failure> {
    let (ids, mask) = batch(ids, mask)?;
    let model = model(dir, None)?;
    Ok(ex::generate(
        &model,
        &ids,
        Some(&mask),
        new,
        use_cache,
        next,
    )?)
}

thread_local! {
    /// Checkpoints and tokenizers loaded by the student's code, by folder.
    static MODELS: LoadedOnce<ex::Gpt2> = LoadedOnce::default();
    static TOKENIZERS: LoadedOnce<tokenizers::Tokenizer> = LoadedOnce::default();
}

/// `Gpt2::load` of `dir`, once per folder; or, with `params`, a `Gpt2::new`
/// of those with that folder's config.
fn model(dir: &Path, params: Option<Weights>) -> Result<Rc<ex::Gpt2>, Failure> {
    if let Some(params) = params {
        let config = ex::Gpt2Config::from_dir(dir)?;
        return Ok(Rc::new(ex::Gpt2::new(params.var_builder(), &config)?));
    }
    MODELS.with(|m| m.get(dir, |dir| Ok(ex::Gpt2::load(dir, &Device::Cpu)?)))
}

/// `load_tokenizer` of `dir`, once per folder.
fn tokenizer(dir: &Path) -> Result<Rc<tokenizers::Tokenizer>, Failure> {
    TOKENIZERS.with(|t| t.get(dir, |dir| Ok(ex::load_tokenizer(dir)?)))
}

/// A 0/1 mask of any integer dtype, as u8.
fn u8_mask(mask: Tensor) -> Result<Tensor, Failure> {
    Ok(mask.to_dtype(DType::U8)?)
}

/// Token ids as u32 and their mask as u8.
fn batch(ids: Tensor, mask: Tensor) -> Result<(Tensor, Tensor), Failure> {
    Ok((ids.to_dtype(DType::U32)?, u8_mask(mask)?))
}

/// The student's `Sampling` of the judge's.
fn student_sampling(sampling: &Sampling) -> ex::Sampling {
    ex::Sampling {
        temperature: sampling.temperature,
        top_k: sampling.top_k,
        top_p: sampling.top_p,
    }
}

/// `t` (B, T, …) with the positions where `mask` (B, T) is 0 set to 0 (NaN
/// and infinities included). A tensor of another shape is left as it is,
/// for the judge to report.
fn zero_padding(t: &Tensor, mask: &Tensor) -> Result<Tensor, Failure> {
    let dims = t.dims();
    if dims.len() < 2 || dims[..2] != *mask.dims() {
        return Ok(t.clone());
    }
    let mut shape = mask.dims().to_vec();
    shape.resize(dims.len(), 1);
    let keep = mask.reshape(shape)?.broadcast_as(dims)?;
    Ok(keep.where_cond(t, &t.zeros_like()?)?)
}

/// A cache tensor (B, H, T, D) with the padded positions set to 0.
fn zero_padding_cache(t: &Tensor, mask: &Tensor) -> Result<Tensor, Failure> {
    let dims = t.dims();
    if dims.len() != 4 || dims[0] != mask.dim(0)? || dims[2] != mask.dim(1)? {
        return Ok(t.clone());
    }
    let keep = mask.reshape((dims[0], 1, dims[2], 1))?.broadcast_as(dims)?;
    Ok(keep.where_cond(t, &t.zeros_like()?)?)
}

/// Prefill then `chunks` through `forward_step` with the cache (see
/// `ops::steps`).
#[allow(clippy::type_complexity)]
fn steps(
    model: &ex::Gpt2,
    ids: &Tensor,
    mask: &Tensor,
    chunks: &[usize],
) -> Result<(Tensor, Tensor, Vec<Tensor>, Vec<Tensor>), Failure> {
    if chunks.iter().sum::<usize>() != ids.dim(1)? || chunks.is_empty() {
        return Err(Failure::fixture("the chunks do not add up to the sequence"));
    }
    let mut cache: Option<ex::KvCache> = None;
    let (mut logits, mut shapes) = (Vec::new(), Vec::new());
    let mut start = 0;
    for &n in chunks {
        let new_mask = mask.narrow(1, start, n)?;
        let out = model.forward_step(&ids.narrow(1, start, n)?, Some(&new_mask), cache.as_ref())?;
        logits.push(out.logits);
        for layer in &out.cache.layers {
            for t in [&layer.k, &layer.v] {
                let mut shape = vec![t.rank() as u32];
                shape.extend(t.dims().iter().take(4).map(|&d| d as u32));
                shape.resize(5, 0);
                shapes.extend(shape);
            }
        }
        cache = Some(out.cache);
        start += n;
    }
    let layers = cache.map(|c| c.layers).unwrap_or_default();
    let shapes = Tensor::from_vec(shapes, (chunks.len(), layers.len(), 2, 5), &Device::Cpu)?;
    let zeroed = |t: &Tensor| zero_padding_cache(t, mask);
    Ok((
        zero_padding(&Tensor::cat(&logits, 1)?, mask)?,
        shapes,
        layers
            .iter()
            .map(|l| zeroed(&l.k))
            .collect::<Result<_, _>>()?,
        layers
            .iter()
            .map(|l| zeroed(&l.v))
            .collect::<Result<_, _>>()?,
    ))
}

/// A GPT-2 config of `sizes` (GPT-2's MLP width, epsilon and activation).
fn config_of(sizes: &Sizes) -> ex::Gpt2Config {
    ex::Gpt2Config {
        vocab_size: sizes.vocab_size,
        n_positions: sizes.n_positions,
        n_embd: sizes.n_embd,
        n_layer: sizes.n_layer,
        n_head: sizes.n_head,
        n_inner: None,
        layer_norm_epsilon: 1e-5,
        activation_function: "gelu_new".to_string(),
    }
}

/// The student's `Gpt2::new` on random weights (N(0, 0.02²), LayerNorms
/// at weight 1 and bias 0) of `sizes`: the timing model.
fn random_model(sizes: &Sizes) -> Result<ex::Gpt2, Failure> {
    let config = config_of(sizes);
    let (e, v, inner) = (config.n_embd, config.vocab_size, 4 * config.n_embd);
    let mut weights = HashMap::new();
    let mut put = |name: String, shape: &[usize], value: Option<f64>| -> Result<(), Failure> {
        let t = match value {
            Some(x) => (Tensor::ones(shape, DType::F32, &Device::Cpu)? * x)?,
            None => Tensor::randn(0f32, 0.02, shape, &Device::Cpu)?,
        };
        weights.insert(name, t);
        Ok(())
    };
    put("transformer.wte.weight".into(), &[v, e], None)?;
    let p = config.n_positions;
    put("transformer.wpe.weight".into(), &[p, e], None)?;
    let layer_norms = (0..config.n_layer)
        .flat_map(|i| ["ln_1", "ln_2"].map(|n| format!("transformer.h.{i}.{n}")));
    for norm in layer_norms.chain(["transformer.ln_f".to_string()]) {
        put(format!("{norm}.weight"), &[e], Some(1.0))?;
        put(format!("{norm}.bias"), &[e], Some(0.0))?;
    }
    for i in 0..config.n_layer {
        let h = format!("transformer.h.{i}");
        for (name, fan_in, fan_out) in [
            ("attn.c_attn", e, 3 * e),
            ("attn.c_proj", e, e),
            ("mlp.c_fc", e, inner),
            ("mlp.c_proj", inner, e),
        ] {
            put(format!("{h}.{name}.weight"), &[fan_in, fan_out], None)?;
            put(format!("{h}.{name}.bias"), &[fan_out], Some(0.0))?;
        }
    }
    let vb = VarBuilder::from_tensors(weights, DType::F32, &Device::Cpu);
    Ok(ex::Gpt2::new(vb, &config)?)
}

/// Token ids 1.. for the timing runs (their values do not matter).
fn some_ids(len: usize, vocab: usize) -> Result<Tensor, Failure> {
    let ids: Vec<u32> = (0..len)
        .map(|i| (1 + (i * 7919) % (vocab - 1)) as u32)
        .collect();
    Ok(Tensor::from_vec(ids, (1, len), &Device::Cpu)?)
}

/// The fewest wall-clock seconds of `reps` runs of `f`, after a warm-up
/// run: the run least disturbed by other processes.
fn fastest_secs(reps: usize, mut f: impl FnMut() -> Result<(), Failure>) -> Result<f64, Failure> {
    f()?;
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        f()?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// Sequences of token ids, `name` of the call, checked to be of one length.
fn rows(name: &str, rows: &[Vec<u32>]) -> Result<Vec<Vec<u32>>, Failure> {
    let len = rows.first().map_or(0, Vec::len);
    if rows.iter().any(|r| r.len() != len) || len == 0 {
        return Err(Failure::fixture(format!(
            "the sequences of {name} differ in length"
        )));
    }
    Ok(rows.to_vec())
}

/// The same as an (N, T) u32 tensor.
fn rows_tensor(name: &str, sequences: &[Vec<u32>]) -> Result<Tensor, Failure> {
    let sequences = rows(name, sequences)?;
    let flat: Vec<u32> = sequences.iter().flatten().copied().collect();
    let shape = (sequences.len(), flat.len() / sequences.len());
    Ok(Tensor::from_vec(flat, shape, &Device::Cpu)?)
}
