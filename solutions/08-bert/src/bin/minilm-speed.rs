//! Times your BERT on the pretrained all-MiniLM-L6-v2: 32 review sentences
//! (the longest of data/sentiment-labelled-sentences, cut at 64 tokens),
//! tokenized and run through the model as one padded batch.
//!
//! ```text
//! scripts/fetch-minilm.sh && cargo run -p ex08-bert --bin minilm-speed
//! ```
//!
//! The kit's budget is 5 s for this batch in the dev profile.

use std::path::Path;
use std::time::Instant;

use candle_core::{Device, Result};

fn main() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join("models/all-MiniLM-L6-v2");
    if !dir.join("model.safetensors").is_file() {
        eprintln!("no {}: run scripts/fetch-minilm.sh first", dir.display());
        std::process::exit(2);
    }
    let mut sentences = Vec::new();
    for source in ["amazon", "imdb", "yelp"] {
        let path = root.join(format!("data/sentiment-labelled-sentences/{source}.tsv"));
        sentences.extend(bert::read_tsv(&path)?.into_iter().map(|e| e.text));
    }
    sentences.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let batch: Vec<&str> = sentences.iter().take(32).map(|s| s.as_str()).collect();
    let start = Instant::now();
    let model = bert::BertModel::load(&dir, &Device::Cpu)?;
    let tokenizer = bert::load_tokenizer(&dir)?;
    println!("load: {:.2} s", start.elapsed().as_secs_f64());
    let mut best = f64::INFINITY;
    for run in 1..=3 {
        let start = Instant::now();
        let enc = bert::encode(&tokenizer, &batch, None, Some(64), &Device::Cpu)?;
        let out = model.forward(&enc.input_ids, &enc.token_type_ids, &enc.attention_mask)?;
        let _ = out.last_hidden_state.sum_all()?.to_scalar::<f32>()?;
        let seconds = start.elapsed().as_secs_f64();
        best = best.min(seconds);
        println!(
            "run {run}: {} sentences × {} tokens: {seconds:.2} s",
            batch.len(),
            enc.input_ids.dim(1)?
        );
    }
    println!("MiniLM inference, 32 sentences ≤ 64 tokens: best {best:.2} s (budget 5 s)");
    Ok(())
}
