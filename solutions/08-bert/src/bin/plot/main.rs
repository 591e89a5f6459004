//! Trains the AttentionHabit head on a frozen BERT and draws what happened:
//!
//! ```text
//! cargo run -p ex08-bert --release --bin plot            # MiniLM + UCI sentences
//! cargo run -p ex08-bert --release --bin plot -- --tiny  # tiny BERT + negation set
//! ```
//!
//! With the pretrained all-MiniLM-L6-v2 (scripts/fetch-minilm.sh) it uses the
//! 3,000 labelled review sentences of data/sentiment-labelled-sentences
//! (80 % train, 20 % test, shuffled with a fixed seed); without it, or with
//! `--tiny`, the frozen tiny BERT of the fixtures and the generated negation
//! set the grader trains on. It prints the two baselines next to the
//! habit's accuracy and writes out/08-bert/training.png (loss and accuracy
//! per epoch, baselines dashed) and out/08-bert/attention.png (where each
//! habit query looks in a few test sentences).

mod canvas;
mod font;

use std::path::{Path, PathBuf};
use std::time::Instant;

use bert::baselines::{bag_of_words_accuracy, majority_accuracy};
use bert::{Example, HeadConfig, TrainConfig};
use candle_core::{Device, Result, Tensor};
use canvas::{Canvas, Rgb, BLACK, BLUE, GREEN, GREY, ORANGE, PURPLE, RED};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// The tiny runs' settings are the grader's; MiniLM's are this demo's.
struct Setup {
    name: &'static str,
    model: PathBuf,
    train: Vec<Example>,
    test: Vec<Example>,
    head: HeadConfig,
    config: TrainConfig,
}

fn main() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tiny = std::env::args().any(|a| a == "--tiny");
    let minilm = root.join("models/all-MiniLM-L6-v2");
    let setup = if !tiny && minilm.join("model.safetensors").is_file() {
        uci_setup(&root, minilm)?
    } else {
        if !tiny {
            println!("(no models/all-MiniLM-L6-v2: run scripts/fetch-minilm.sh for the real model; using the tiny one)");
        }
        tiny_setup(&root)?
    };
    println!(
        "{}: {} training and {} test sentences",
        setup.name,
        setup.train.len(),
        setup.test.len()
    );
    let device = Device::Cpu;
    let bert = bert::BertModel::load(&setup.model, &device)?;
    let tokenizer = bert::load_tokenizer(&setup.model)?;
    let start = Instant::now();
    let texts = |set: &[Example]| set.iter().map(|e| e.text.clone()).collect::<Vec<_>>();
    let (train_texts, test_texts) = (texts(&setup.train), texts(&setup.test));
    let train_buckets = bert::frozen_features(&bert, &tokenizer, &as_refs(&train_texts), 64, 32)?;
    let test_buckets = bert::frozen_features(&bert, &tokenizer, &as_refs(&test_texts), 64, 32)?;
    println!(
        "frozen BERT features: {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let labels = |set: &[Example]| set.iter().map(|e| e.label).collect::<Vec<_>>();
    let (train_labels, test_labels) = (labels(&setup.train), labels(&setup.test));
    let start = Instant::now();
    let trained = bert::train_classifier(
        &train_buckets,
        &train_labels,
        Some((&test_buckets, &test_labels)),
        setup.head,
        setup.config,
    )?;
    println!(
        "training the habit head: {:.1} s for {} epochs",
        start.elapsed().as_secs_f64(),
        setup.config.epochs
    );
    let history = &trained.history;
    let majority = majority_accuracy(&setup.train, &setup.test);
    let bag = bag_of_words_accuracy(&setup.train, &setup.test);
    let habit = *history.test_accuracy.last().unwrap_or(&f64::NAN);
    println!("\nheld-out accuracy on {} sentences:", setup.test.len());
    println!("  majority class            {majority:.3}");
    println!("  bag-of-words logistic     {bag:.3}");
    println!("  frozen BERT + habit head  {habit:.3}");

    let out = root.join("out/08-bert");
    std::fs::create_dir_all(&out)?;
    let curves = training_plot(setup.name, history, majority, bag);
    std::fs::write(out.join("training.png"), curves.png())?;
    let picks = pick_sentences(&setup.test, 4);
    let mut rows = Vec::new();
    for &i in &picks {
        let text = setup.test[i].text.as_str();
        let enc = bert::encode(&tokenizer, &[text], None, Some(64), &device)?;
        let hidden = bert
            .forward(&enc.input_ids, &enc.token_type_ids, &enc.attention_mask)?
            .last_hidden_state;
        let weights = trained.classifier.attention_weights(&hidden)?.squeeze(0)?;
        let predicted = trained
            .classifier
            .forward(&hidden)?
            .argmax(1)?
            .to_vec1::<u32>()?[0] as usize;
        let ids = enc.input_ids.squeeze(0)?.to_vec1::<u32>()?;
        let tokens: Vec<String> = ids
            .iter()
            .map(|&id| tokenizer.id_to_token(id).unwrap_or_else(|| "?".into()))
            .collect();
        rows.push((tokens, weights, setup.test[i].label, predicted));
    }
    std::fs::write(out.join("attention.png"), attention_plot(&rows)?.png())?;
    println!(
        "\nwrote {} and {}",
        out.join("training.png").display(),
        out.join("attention.png").display()
    );
    Ok(())
}

fn tiny_setup(root: &Path) -> Result<Setup> {
    let dir = root.join("fixtures/08-bert");
    Ok(Setup {
        name: "tiny random BERT, generated negation set",
        model: dir.join("tiny-bert-fresh"),
        train: bert::read_tsv(&dir.join("negation-train.tsv"))?,
        test: bert::read_tsv(&dir.join("negation-test.tsv"))?,
        head: HeadConfig {
            hidden_size: 32,
            num_queries: 4,
            attention_heads: 4,
            attention_dim: 32,
            mlp_hidden: 64,
            classes: 2,
        },
        config: TrainConfig {
            epochs: 12,
            batch_size: 32,
            learning_rate: 3e-3,
            weight_decay: 0.0,
            seed: 8,
        },
    })
}

fn uci_setup(root: &Path, model: PathBuf) -> Result<Setup> {
    let mut all = Vec::new();
    for source in ["amazon", "imdb", "yelp"] {
        let path = root.join(format!("data/sentiment-labelled-sentences/{source}.tsv"));
        all.extend(bert::read_tsv(&path)?);
    }
    all.shuffle(&mut StdRng::seed_from_u64(8));
    let test = all.split_off(all.len() * 4 / 5);
    Ok(Setup {
        name: "all-MiniLM-L6-v2, UCI sentiment labelled sentences",
        model,
        train: all,
        test,
        head: HeadConfig {
            hidden_size: 384,
            num_queries: 4,
            attention_heads: 4,
            attention_dim: 64,
            mlp_hidden: 64,
            classes: 2,
        },
        config: TrainConfig {
            epochs: 6,
            batch_size: 32,
            learning_rate: 1e-3,
            weight_decay: 0.01,
            seed: 8,
        },
    })
}

/// A few short test sentences, both classes.
fn pick_sentences(test: &[Example], count: usize) -> Vec<usize> {
    let mut short: Vec<usize> = (0..test.len())
        .filter(|&i| test[i].text.split_whitespace().count() <= 9)
        .collect();
    short.sort_by_key(|&i| (i % 7, i));
    let mut picks = Vec::new();
    for label in [0, 1] {
        picks.extend(
            short
                .iter()
                .filter(|&&i| test[i].label == label)
                .take(count / 2),
        );
    }
    picks
}

/// Loss (left) and accuracy (right) per epoch, the baselines dashed.
fn training_plot(title: &str, history: &bert::History, majority: f64, bag: f64) -> Canvas {
    let mut c = Canvas::new(1000, 440);
    c.text(
        20,
        10,
        &format!("Frozen BERT + AttentionHabit head: {title}"),
        BLACK,
        1,
    );
    let max_loss = history
        .loss
        .iter()
        .cloned()
        .fold(0.0f64, f64::max)
        .max(1e-9);
    panel(
        &mut c,
        (60, 50),
        "training loss (cross-entropy)",
        &[(&history.loss, BLUE, "train loss")],
        &[],
        (0.0, max_loss * 1.05),
    );
    panel(
        &mut c,
        (560, 50),
        "accuracy",
        &[
            (&history.train_accuracy, ORANGE, "train"),
            (&history.test_accuracy, GREEN, "held-out"),
        ],
        &[
            (majority, GREY, "majority class"),
            (bag, RED, "bag of words"),
        ],
        (0.0, 1.0),
    );
    c
}

type Series<'a> = (&'a Vec<f64>, Rgb, &'a str);

/// One 400×320 panel with axes, curves, dashed horizontal lines and a legend.
fn panel(
    c: &mut Canvas,
    origin: (i64, i64),
    title: &str,
    series: &[Series],
    levels: &[(f64, Rgb, &str)],
    range: (f64, f64),
) {
    let (x0, y0, w, h) = (origin.0, origin.1 + 20, 400i64, 320i64);
    c.text(x0, origin.1, title, BLACK, 1);
    c.line(
        (x0 as f64, y0 as f64),
        (x0 as f64, (y0 + h) as f64),
        BLACK,
        1,
        0,
    );
    c.line(
        (x0 as f64, (y0 + h) as f64),
        ((x0 + w) as f64, (y0 + h) as f64),
        BLACK,
        1,
        0,
    );
    let epochs = series.iter().map(|s| s.0.len()).max().unwrap_or(1).max(2);
    let px = |i: usize| x0 as f64 + w as f64 * i as f64 / (epochs - 1) as f64;
    let py = |v: f64| (y0 + h) as f64 - h as f64 * (v - range.0) / (range.1 - range.0);
    for tick in 0..=4 {
        let v = range.0 + (range.1 - range.0) * tick as f64 / 4.0;
        let y = py(v);
        c.line((x0 as f64 - 4.0, y), (x0 as f64, y), BLACK, 1, 0);
        c.text(x0 - 50, y as i64 - 6, &format!("{v:.2}"), BLACK, 1);
    }
    c.text(x0 + w / 2 - 20, y0 + h + 8, "epoch", BLACK, 1);
    c.text(x0 - 4, y0 + h + 8, "1", BLACK, 1);
    c.text(x0 + w - 14, y0 + h + 8, &format!("{epochs}"), BLACK, 1);
    for &(level, color, _) in levels {
        c.line(
            (x0 as f64, py(level)),
            ((x0 + w) as f64, py(level)),
            color,
            2,
            6,
        );
    }
    for (values, color, _) in series {
        for i in 1..values.len() {
            c.line(
                (px(i - 1), py(values[i - 1])),
                (px(i), py(values[i])),
                *color,
                2,
                0,
            );
        }
    }
    let entries = (series.len() + levels.len()) as i64;
    // Loss falls and accuracy rises: put the legend where the curves are not.
    let mut y = if range.1 <= 1.0 {
        y0 + h - 16 * entries - 8
    } else {
        y0 + 8
    };
    let legend = series
        .iter()
        .map(|(v, c, n)| (v.last().copied(), *c, *n))
        .chain(levels.iter().map(|&(l, c, n)| (Some(l), c, n)));
    for (last, color, name) in legend {
        let label = match last {
            Some(v) => format!("{name} {v:.3}"),
            None => name.to_string(),
        };
        c.fill(x0 + w - 190, y + 5, 14, 3, color);
        c.text(x0 + w - 170, y, &label, color, 1);
        y += 16;
    }
}

/// For each sentence, a column: one row per token, one cell per habit
/// query, darker where the query puts more attention.
fn attention_plot(rows: &[(Vec<String>, Tensor, usize, usize)]) -> Result<Canvas> {
    let cell = 18i64;
    let label_w = 110i64;
    let block_w = label_w + 4 * cell + 30;
    let max_tokens = rows.iter().map(|r| r.0.len()).max().unwrap_or(1) as i64;
    let mut c = Canvas::new(
        (20 + block_w * rows.len().max(1) as i64) as usize,
        (90 + cell * max_tokens) as usize,
    );
    c.text(
        20,
        10,
        "Where each habit query looks (attention over tokens, averaged over heads)",
        BLACK,
        1,
    );
    for (b, (tokens, weights, label, predicted)) in rows.iter().enumerate() {
        let weights = weights.to_vec2::<f32>()?; // (m, L)
        let x0 = 20 + block_w * b as i64;
        let verdict = format!(
            "label {} / predicted {}",
            if *label == 1 { "+" } else { "-" },
            if *predicted == 1 { "+" } else { "-" }
        );
        c.text(
            x0,
            36,
            &verdict,
            if label == predicted { GREEN } else { RED },
            1,
        );
        for (q, _) in weights.iter().enumerate() {
            c.text(
                x0 + label_w + q as i64 * cell + 5,
                56,
                &format!("{}", q + 1),
                PURPLE,
                1,
            );
        }
        for (t, token) in tokens.iter().enumerate() {
            let y = 72 + t as i64 * cell;
            let shown: String = token.chars().take(14).collect();
            c.text(
                x0 + label_w - 6 - Canvas::text_width(&shown, 1),
                y + 3,
                &shown,
                BLACK,
                1,
            );
            for (q, row) in weights.iter().enumerate() {
                let w = row.get(t).copied().unwrap_or(0.0).clamp(0.0, 1.0);
                // white (0) to dark purple (1), on a square-root scale
                let s = w.sqrt();
                let mix = |hi: u8| (255.0 - s * (255.0 - hi as f32)) as u8;
                let color = [mix(PURPLE[0] / 2), mix(PURPLE[1] / 3), mix(PURPLE[2] / 2)];
                c.fill(x0 + label_w + q as i64 * cell, y, cell - 2, cell - 2, color);
            }
        }
    }
    Ok(c)
}

fn as_refs(texts: &[String]) -> Vec<&str> {
    texts.iter().map(|s| s.as_str()).collect()
}
