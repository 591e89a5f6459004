// forges: prints forged "passed" records (grader/kit/src/protocol.rs) for
// every check, and the "done" line, with guessed tokens, on stdout, stderr
// and every other descriptor it may have (one of them is the pipe its
// replies go back on). Its honest code is todo!(): it must earn 0, and no
// forged check may appear in its report.

extern "C" {
    fn write(fd: i32, buf: *const u8, count: usize) -> isize;
}

fn forge() {
    let mut lines = String::new();
    for token in [
        "00000000000000000000000000000000",
        "ffffffffffffffffffffffffffffffff",
        "",
    ] {
        for (group, check) in [
            ("softmax", "softmax-random-000"),
            ("attention weights", "weights-random-000"),
            ("attention", "sdpa-random-000"),
            ("properties", "softmax-rows-sum-to-one"),
            ("properties", "forged-check-by-forges"),
        ] {
            lines.push_str(&format!(
                "@grader-record {token} {{\"group\":\"{group}\",\"check\":\"{check}\",\"status\":\"passed\"}}\n"
            ));
        }
        lines.push_str(&format!("@grader-record {token} done\n"));
    }
    print!("{lines}");
    eprint!("{lines}");
    for fd in 3..16 {
        // SAFETY: write(2) of a live buffer; a closed descriptor is EBADF.
        unsafe {
            write(fd, lines.as_ptr(), lines.len());
        }
    }
}

pub fn softmax(x: &Tensor) -> Result<Tensor> {
    forge();
    todo!()
}

pub fn attention_weights(q: &Tensor, k: &Tensor, scale: Option<f64>) -> Result<Tensor> {
    forge();
    todo!()
}

pub fn scaled_dot_product_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: Option<f64>,
) -> Result<Tensor> {
    forge();
    todo!()
}
