//! Exercise 08's adapter: each op (declared in `ops.rs`) → the student's
//! BERT, tokenizer and habit head. The judge (`grader/checks/08-bert`)
//! sends the inputs, the folder of the checkpoint to load (`model_dir`,
//! readable by this process) and the training data, and judges the outputs.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use std::path::{Path, PathBuf};
use std::rc::Rc;

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use grader_kit::adapter::LoadedOnce;
use grader_kit::harness::{catch, joined, spawn_caught};
use grader_kit::ops::{Tensor, Weights};
use grader_kit::Failure;
use ops::{HeadConfig, TrainConfig};

mod ops;

fn main() {
    ops::serve(ops::Student {
        load: |model_dir| {
            tokenizer(&model_dir)?;
            loaded(&model_dir)?;
            Ok(())
        },
        tokenize: |model_dir, sentences, pairs| {
            let enc = encode(&model_dir, &sentences, pairs.as_deref())?;
            Ok((enc.input_ids, enc.token_type_ids, enc.attention_mask))
        },
        embeddings: |model_dir, params, input_ids, token_type_ids| {
            let model = model(&model_dir, params)?;
            let (input_ids, token_type_ids) = (ids(&input_ids)?, ids(&token_type_ids)?);
            Ok(model.embeddings.forward(&input_ids, &token_type_ids)?)
        },
        layer: |model_dir, params, layer, hidden, attention_mask| {
            let model = model(&model_dir, params)?;
            let layer = (model.layers.get(layer))
                .ok_or_else(|| Failure::new("BertModel::layers has too few layers"))?;
            let mask = ex::padding_mask(&attention_mask)?;
            Ok(layer.forward(&hidden, Some(&mask))?)
        },
        bert: |model_dir, params, input_ids, token_type_ids, attention_mask| {
            let model = model(&model_dir, params)?;
            let (input_ids, token_type_ids) = (ids(&input_ids)?, ids(&token_type_ids)?);
            let out = model.forward(&input_ids, &token_type_ids, &ids(&attention_mask)?)?;
            Ok((out.last_hidden_state, out.pooler_output))
        },
        pretrained: |model_dir, params, sentences, pairs| {
            let enc = encode(&model_dir, &sentences, pairs.as_deref())?;
            let model = model(&model_dir, params)?;
            let out = model.forward(&enc.input_ids, &enc.token_type_ids, &enc.attention_mask)?;
            Ok((
                enc.input_ids,
                enc.token_type_ids,
                enc.attention_mask,
                out.last_hidden_state,
                out.pooler_output,
            ))
        },
        train_habit,
        habit_attention_weights: |head, seed, hidden| {
            Ok(habit_classifier(head, seed)?.attention_weights(&hidden)?)
        },
        habit_logits: |head, seed, hidden| Ok(habit_classifier(head, seed)?.forward(&hidden)?),
    })
}

/// Trains the head on the frozen BERT of `model_dir`.
#[allow(clippy::too_many_arguments)]
fn train_habit(
    model_dir: PathBuf,
    train_texts: Vec<String>,
    train_labels: Vec<usize>,
    test_texts: Vec<String>,
    max_len: usize,
    feature_batch: usize,
    head: HeadConfig,
    config: TrainConfig,
) -> Result<(Vec<u32>, Vec<f64>), Failure> {
    let features = |bert: &ex::BertModel, tokenizer: &tokenizers::Tokenizer, texts: &[String]| {
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let buckets = ex::frozen_features(bert, tokenizer, &texts, max_len, feature_batch)?;
        Ok::<_, Failure>(buckets)
    };
    let config = ex::TrainConfig {
        epochs: config.epochs,
        batch_size: config.batch_size,
        learning_rate: config.learning_rate,
        weight_decay: config.weight_decay,
        seed: config.seed,
    };
    let head = head_config(head);
    let dir = model_dir;
    let (bert, tokenizer) = (loaded(&dir)?, tokenizer(&dir)?);
    // The test sentences' features are needed only once the head is
    // trained: a second thread computes them meanwhile, with a model and
    // tokenizer of its own (the student's types need not be shareable
    // between threads), dropped before it ends, under `catch`. If no
    // thread can start, this one computes them after training.
    let test_features = || {
        let bert = ex::BertModel::load(&dir, &Device::Cpu)?;
        let tokenizer = ex::load_tokenizer(&dir)?;
        features(&bert, &tokenizer, &test_texts)
    };
    let (train_buckets, test_buckets, trained) = std::thread::scope(|scope| {
        let started = spawn_caught(scope, test_features);
        let train_buckets = features(&bert, &tokenizer, &train_texts);
        let trained = match &train_buckets {
            Ok(buckets) => catch(|| {
                let trained = ex::train_classifier(buckets, &train_labels, None, head, config)?;
                Ok(trained)
            }),
            Err(_) => Err(Failure::new("no features to train on")),
        };
        let test_buckets = match started {
            Ok(thread) => joined(Ok(thread)),
            Err(_) => features(&bert, &tokenizer, &test_texts),
        };
        (train_buckets, test_buckets, trained)
    });
    // The first failure in the order the steps would run one after another.
    train_buckets?;
    let (test_buckets, trained) = (test_buckets?, trained?);
    let predicted = ex::predict(&trained.classifier, &test_buckets, test_texts.len())?;
    let predicted = predicted.iter().map(|&c| c as u32).collect();
    Ok((predicted, trained.history.loss))
}

/// Token ids (or a 0/1 mask) as candle indexes with them: u32.
fn ids(t: &Tensor) -> Result<Tensor, Failure> {
    Ok(t.to_dtype(DType::U32)?)
}

/// The checkpoint of `dir`, or, when the call sends the weights as inputs
/// `params__…`, a model built from those with that folder's config.
fn model(dir: &Path, params: Option<Weights>) -> Result<Rc<ex::BertModel>, Failure> {
    match params {
        Some(params) => {
            let config = ex::BertConfig::from_dir(dir)?;
            Ok(Rc::new(ex::BertModel::new(params.var_builder(), &config)?))
        }
        None => loaded(dir),
    }
}

thread_local! {
    /// Checkpoints and tokenizers loaded by the student's code, by folder
    /// (MiniLM is 90 MB).
    static MODELS: LoadedOnce<ex::BertModel> = LoadedOnce::default();
    static TOKENIZERS: LoadedOnce<tokenizers::Tokenizer> = LoadedOnce::default();
}

/// `BertModel::load` of `dir`, once per folder.
fn loaded(dir: &Path) -> Result<Rc<ex::BertModel>, Failure> {
    MODELS.with(|m| m.get(dir, |dir| Ok(ex::BertModel::load(dir, &Device::Cpu)?)))
}

/// `load_tokenizer` of `dir`, once per folder.
fn tokenizer(dir: &Path) -> Result<Rc<tokenizers::Tokenizer>, Failure> {
    TOKENIZERS.with(|t| t.get(dir, |dir| Ok(ex::load_tokenizer(dir)?)))
}

/// `sentences` and the optional `pairs`, tokenized.
fn encode(
    dir: &Path,
    sentences: &[String],
    pairs: Option<&[String]>,
) -> Result<ex::Encoded, Failure> {
    let tokenizer = tokenizer(dir)?;
    let sentences: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let pairs: Option<Vec<&str>> = pairs.map(|p| p.iter().map(String::as_str).collect());
    Ok(ex::encode(
        &tokenizer,
        &sentences,
        pairs.as_deref(),
        None,
        &Device::Cpu,
    )?)
}

fn head_config(head: HeadConfig) -> ex::HeadConfig {
    ex::HeadConfig {
        hidden_size: head.hidden_size,
        num_queries: head.num_queries,
        attention_heads: head.attention_heads,
        attention_dim: head.attention_dim,
        mlp_hidden: head.mlp_hidden,
        classes: head.classes,
    }
}

/// A freshly built head, its weights from `seeded_init(seed)`.
fn habit_classifier(head: HeadConfig, seed: u64) -> Result<ex::HabitClassifier, Failure> {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let classifier = ex::HabitClassifier::new(vb, head_config(head))?;
    ex::seeded_init(&varmap, seed)?;
    Ok(classifier)
}
