//! Exercise 08's adapter: op name → the student's BERT, tokenizer and habit
//! head. The judge (`grader/checks/08-bert`) sends the inputs, the folder of
//! the checkpoint to load (`model_dir`, readable by this process) and the
//! training data, and judges the outputs.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use grader_kit::adapter::{outputs, serve, unknown_op, Call, Outputs};
use grader_kit::harness::{catch, joined, spawn_caught};
use grader_kit::{Failure, Inputs};

fn main() {
    serve(|call| match call.op.as_str() {
        "load" => {
            tokenizer(call)?;
            loaded(call)?;
            Ok(vec![])
        }
        "tokenize" => {
            let enc = encode(call)?;
            outputs([
                ("input_ids", enc.input_ids),
                ("token_type_ids", enc.token_type_ids),
                ("attention_mask", enc.attention_mask),
            ])
        }
        "embeddings" => {
            let model = model(call)?;
            let out = model
                .embeddings
                .forward(&call.ids("input_ids")?, &call.ids("token_type_ids")?)?;
            outputs([("out", out)])
        }
        "layer" => {
            let model = model(call)?;
            let layer = model
                .layers
                .get(call.params.usize("layer")?)
                .ok_or_else(|| Failure::new("BertModel::layers has too few layers"))?;
            let mask = ex::padding_mask(&call.input("attention_mask")?)?;
            outputs([("out", layer.forward(&call.input("hidden")?, Some(&mask))?)])
        }
        "bert" => {
            let model = model(call)?;
            let out = model.forward(
                &call.ids("input_ids")?,
                &call.ids("token_type_ids")?,
                &call.ids("attention_mask")?,
            )?;
            Ok(bert_outputs(vec![], out))
        }
        "pretrained" => {
            let enc = encode(call)?;
            let model = model(call)?;
            let out = model.forward(&enc.input_ids, &enc.token_type_ids, &enc.attention_mask)?;
            let ids = vec![
                ("input_ids".to_string(), enc.input_ids),
                ("token_type_ids".to_string(), enc.token_type_ids),
                ("attention_mask".to_string(), enc.attention_mask),
            ];
            Ok(bert_outputs(ids, out))
        }
        "train_habit" => train_habit(call),
        "habit_attention_weights" => {
            let classifier = habit_classifier(call)?;
            outputs([(
                "weights",
                classifier.attention_weights(&call.input("hidden")?)?,
            )])
        }
        "habit_logits" => {
            let classifier = habit_classifier(call)?;
            outputs([("logits", classifier.forward(&call.input("hidden")?)?)])
        }
        _ => unknown_op(call),
    })
}

/// The checkpoint folder the judge names.
fn model_dir(call: &Call) -> Result<PathBuf, Failure> {
    Ok(PathBuf::from(required(
        call.params.str("model_dir")?,
        "model_dir",
    )?))
}

fn required<T>(value: Option<T>, name: &str) -> Result<T, Failure> {
    value.ok_or_else(|| Failure::fixture(format!("the call has no parameter {name:?}")))
}

/// The checkpoint of `model_dir`, or, when the call sends the weights as
/// inputs `params__…`, a model built from those with that folder's config.
fn model(call: &Call) -> Result<Rc<ex::BertModel>, Failure> {
    let dir = model_dir(call)?;
    if call.input_names().iter().any(|n| n.starts_with("params__")) {
        let config = ex::BertConfig::from_dir(&dir)?;
        Ok(Rc::new(ex::BertModel::new(
            call.var_builder("params")?,
            &config,
        )?))
    } else {
        loaded(call)
    }
}

thread_local! {
    /// Checkpoints and tokenizers loaded by the student's code, by folder:
    /// the fixture cases of one checkpoint load it once (MiniLM is 90 MB).
    static MODELS: RefCell<HashMap<PathBuf, Rc<ex::BertModel>>> = RefCell::default();
    static TOKENIZERS: RefCell<HashMap<PathBuf, Rc<tokenizers::Tokenizer>>> = RefCell::default();
}

/// `BertModel::load` of `model_dir`, once per folder.
fn loaded(call: &Call) -> Result<Rc<ex::BertModel>, Failure> {
    let dir = model_dir(call)?;
    if let Some(model) = MODELS.with(|m| m.borrow().get(&dir).cloned()) {
        return Ok(model);
    }
    let model = Rc::new(ex::BertModel::load(&dir, &Device::Cpu)?);
    MODELS.with(|m| m.borrow_mut().insert(dir, model.clone()));
    Ok(model)
}

/// `load_tokenizer` of `model_dir`, once per folder.
fn tokenizer(call: &Call) -> Result<Rc<tokenizers::Tokenizer>, Failure> {
    let dir = model_dir(call)?;
    if let Some(tokenizer) = TOKENIZERS.with(|t| t.borrow().get(&dir).cloned()) {
        return Ok(tokenizer);
    }
    let tokenizer = Rc::new(ex::load_tokenizer(&dir)?);
    TOKENIZERS.with(|t| t.borrow_mut().insert(dir, tokenizer.clone()));
    Ok(tokenizer)
}

/// The params `sentences` and optional `pairs`, tokenized.
fn encode(call: &Call) -> Result<ex::Encoded, Failure> {
    let tokenizer = tokenizer(call)?;
    let sentences: Vec<String> = required(call.params.value("sentences")?, "sentences")?;
    let pairs: Option<Vec<String>> = call.params.value("pairs")?;
    let sentences: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let pairs: Option<Vec<&str>> = pairs
        .as_ref()
        .map(|p| p.iter().map(String::as_str).collect());
    Ok(ex::encode(
        &tokenizer,
        &sentences,
        pairs.as_deref(),
        None,
        &Device::Cpu,
    )?)
}

/// `last_hidden_state`, and `pooler_output` when the model returned one.
fn bert_outputs(mut named: Outputs, out: ex::BertOutput) -> Outputs {
    named.push(("last_hidden_state".to_string(), out.last_hidden_state));
    if let Some(pooled) = out.pooler_output {
        named.push(("pooler_output".to_string(), pooled));
    }
    named
}

fn head_config(call: &Call) -> Result<ex::HeadConfig, Failure> {
    let p = &call.params;
    Ok(ex::HeadConfig {
        hidden_size: p.usize("hidden_size")?,
        num_queries: p.usize("num_queries")?,
        attention_heads: p.usize("attention_heads")?,
        attention_dim: p.usize("attention_dim")?,
        mlp_hidden: p.usize("mlp_hidden")?,
        classes: p.usize("classes")?,
    })
}

/// A freshly built head, its weights from `seeded_init` with the param `seed`.
fn habit_classifier(call: &Call) -> Result<ex::HabitClassifier, Failure> {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let classifier = ex::HabitClassifier::new(vb, head_config(call)?)?;
    ex::seeded_init(&varmap, call.params.usize("seed")? as u64)?;
    Ok(classifier)
}

/// Trains the head on the frozen BERT of `model_dir` with the sent training
/// sentences and labels and budget; returns its predictions on the sent
/// test sentences (`predicted`, u32) and the loss of each epoch (`loss`).
fn train_habit(call: &Call) -> Result<Outputs, Failure> {
    let p = &call.params;
    let train: Vec<String> = required(p.value("train_texts")?, "train_texts")?;
    let labels: Vec<usize> = required(p.value("train_labels")?, "train_labels")?;
    let test: Vec<String> = required(p.value("test_texts")?, "test_texts")?;
    let (max_len, batch) = (p.usize("max_len")?, p.usize("feature_batch")?);
    let features = |bert: &ex::BertModel, tokenizer: &tokenizers::Tokenizer, texts: &[String]| {
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let buckets = ex::frozen_features(bert, tokenizer, &texts, max_len, batch)?;
        Ok::<_, Failure>(buckets)
    };
    let config = ex::TrainConfig {
        epochs: p.usize("epochs")?,
        batch_size: p.usize("batch_size")?,
        learning_rate: required(p.f64("learning_rate")?, "learning_rate")?,
        weight_decay: required(p.f64("weight_decay")?, "weight_decay")?,
        seed: p.usize("seed")? as u64,
    };
    let head = head_config(call)?;
    let dir = model_dir(call)?;
    let (bert, tokenizer) = (loaded(call)?, tokenizer(call)?);
    // The test sentences' features are needed only once the head is
    // trained: a second thread computes them meanwhile, with a model and
    // tokenizer of its own (the student's types need not be shareable
    // between threads), dropped before it ends, under `catch`. If no thread
    // can start, this one computes them after training.
    let test_features = || {
        let bert = ex::BertModel::load(&dir, &Device::Cpu)?;
        let tokenizer = ex::load_tokenizer(&dir)?;
        features(&bert, &tokenizer, &test)
    };
    let (train_buckets, test_buckets, trained) = std::thread::scope(|scope| {
        let started = spawn_caught(scope, test_features);
        let train_buckets = features(&bert, &tokenizer, &train);
        let trained = match &train_buckets {
            Ok(buckets) => catch(|| {
                let trained = ex::train_classifier(buckets, &labels, None, head, config)?;
                Ok(trained)
            }),
            Err(_) => Err(Failure::new("no features to train on")),
        };
        let test_buckets = match started {
            Ok(thread) => joined(Ok(thread)),
            Err(_) => features(&bert, &tokenizer, &test),
        };
        (train_buckets, test_buckets, trained)
    });
    // The first failure in the order the steps would run one after another.
    train_buckets?;
    let (test_buckets, trained) = (test_buckets?, trained?);
    let predicted = ex::predict(&trained.classifier, &test_buckets, test.len())?;
    let predicted: Vec<u32> = predicted.iter().map(|&c| c as u32).collect();
    let loss = trained.history.loss;
    outputs([
        (
            "predicted",
            Tensor::new(predicted.as_slice(), &Device::Cpu)?,
        ),
        ("loss", Tensor::new(loss.as_slice(), &Device::Cpu)?),
    ])
}
