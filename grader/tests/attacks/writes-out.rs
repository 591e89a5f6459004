// writes-out: tries to write into the grader's output folder (a file of its
// own, another student's report folder, the gradebook), into another
// student's staged copy (their lib.rs, and a new file), into the reference
// adapters' folder and into the shared build cache. Its softmax is its own
// and correct (after trying, it carries on silently); its attention weights
// report the refusals. It must earn what honest-partial earns, and no file
// may be touched.

const MARK: &str = "PWNED-by-writes-out";

fn vandalize() -> std::result::Result<(), String> {
    let mut refused = Vec::new();
    let files = [
        format!("@OUT@/{MARK}"),
        format!("@OUT@/@VICTIM@/{MARK}"),
        format!("@WORK@/students/@VICTIM@/kit/{MARK}"),
        format!("@WORK@/reference/{MARK}"),
        format!("@CARGO_TARGET@/{MARK}"),
    ];
    for file in &files {
        if let Some(dir) = std::path::Path::new(file).parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(error) = std::fs::write(file, MARK) {
            refused.push(format!("writing {file}: {error}"));
        }
    }
    for file in [
        "@OUT@/gradebook.csv".to_string(),
        "@WORK@/students/@VICTIM@/kit/exercises/01-attention/src/lib.rs".to_string(),
    ] {
        let opened = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&file);
        if let Err(error) =
            opened.and_then(|mut f| std::io::Write::write_all(&mut f, MARK.as_bytes()))
        {
            refused.push(format!("appending to {file}: {error}"));
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(refused.join("; "))
    }
}

pub fn softmax(x: &Tensor) -> Result<Tensor> {
    if let Err(refused) = vandalize() {
        eprintln!("writes-out: {refused}");
    }
    honest_softmax(x)
}

pub fn attention_weights(q: &Tensor, k: &Tensor, scale: Option<f64>) -> Result<Tensor> {
    vandalize().map_err(candle_core::Error::Msg)?;
    todo!()
}

pub fn scaled_dot_product_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: Option<f64>,
) -> Result<Tensor> {
    todo!()
}
