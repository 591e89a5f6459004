//! Speed and memory of the reference FlashAttention (bench/09-flash.sh).
//!
//!     sol09-flash-bench speed B H L E [--causal] [--reps N] [--no-naive] [--tiles BQ,BK]
//!     sol09-flash-bench memory L [E]
//!
//! `speed`: forward and backward of this solution and of a naive candle
//! path (softmax(q·kᵀ·scale)·v with candle ops, its backward by candle's
//! autograd), on the same inputs in this process; the median of N runs.
//! `memory`: the peak heap bytes that flash_forward and flash_backward
//! allocate beyond their inputs and outputs at L = S (one head), counted by
//! a global allocator, against the bound 8·L·E·4 and the naive L²·4.

mod counting_alloc;

use candle_core::{DType, Device, Result, Tensor, Var, D};
use counting_alloc::{measure, CountingAlloc};
use sol09_flash_attention::{flash_backward, flash_forward};
use std::time::Instant;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// The naive path: the whole (…, L, S) score matrix.
fn naive(q: &Tensor, k: &Tensor, v: &Tensor, causal: bool) -> Result<Tensor> {
    let dims = q.dims().to_vec();
    let r = dims.len();
    let (l, e) = (dims[r - 2], dims[r - 1]);
    let s = k.dim(D::Minus2)?;
    let heads: usize = dims[..r - 2].iter().product();
    let q3 = q.reshape((heads, l, e))?;
    let k3 = k.reshape((heads, s, e))?;
    let v3 = v.reshape((heads, s, v.dim(D::Minus1)?))?;
    let mut scores = (q3.matmul(&k3.t()?.contiguous()?)? * (1.0 / (e as f64).sqrt()))?;
    if causal {
        let i = Tensor::arange(0u32, l as u32, q.device())?.unsqueeze(1)?;
        let j = Tensor::arange(0u32, s as u32, q.device())?.unsqueeze(0)?;
        let allowed = j.broadcast_le(&i)?.broadcast_as(scores.shape())?;
        let ninf = Tensor::full(f32::NEG_INFINITY, scores.shape(), q.device())?;
        scores = allowed.where_cond(&scores, &ninf)?;
    }
    let m = scores.max_keepdim(D::Minus1)?;
    let p = scores.broadcast_sub(&m)?.exp()?;
    let p = p.broadcast_div(&p.sum_keepdim(D::Minus1)?)?;
    let out = p.matmul(&v3)?;
    out.reshape([&dims[..r - 2], &[l, v.dim(D::Minus1)?]].concat())
}

/// This process's CPU time (user + system, all threads) in ms, from
/// /proc/self/stat (Linux; 0 elsewhere). On a shared machine the wall clock
/// also counts the time other processes had the cores; this does not.
fn cpu_ms() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some(rest) = stat.rsplit(')').next() else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) * 10.0 // utime, stime in 1/100 s
}

/// The median wall-clock time of `reps` runs after a warm-up, and the mean
/// CPU time per run (all threads).
fn median_ms(reps: usize, mut f: impl FnMut() -> Result<()>) -> Result<(f64, f64)> {
    f()?; // warm-up
    let mut times = Vec::with_capacity(reps);
    let cpu0 = cpu_ms();
    for _ in 0..reps {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let cpu = (cpu_ms() - cpu0) / reps as f64;
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Ok((times[times.len() / 2], cpu))
}

fn speed(args: &[String]) -> Result<()> {
    let num = |i: usize| -> usize { args[i].parse().expect("speed B H L E") };
    let (b, h, l, e) = (num(0), num(1), num(2), num(3));
    let causal = args.iter().any(|a| a == "--causal");
    let with_naive = !args.iter().any(|a| a == "--no-naive");
    let tiles = args.iter().position(|a| a == "--tiles").map(|i| {
        let (a, b) = args[i + 1].split_once(',').expect("--tiles BQ,BK");
        (a.parse().unwrap(), b.parse().unwrap())
    });
    let reps = args
        .iter()
        .position(|a| a == "--reps")
        .map_or(5, |i| args[i + 1].parse().unwrap());
    let dev = Device::Cpu;
    let q = Tensor::randn(0f32, 1.0, (b, h, l, e), &dev)?;
    let k = Tensor::randn(0f32, 1.0, (b, h, l, e), &dev)?;
    let v = Tensor::randn(0f32, 1.0, (b, h, l, e), &dev)?;
    let dout = Tensor::randn(0f32, 1.0, (b, h, l, e), &dev)?;
    // 4·B·H·L·S·E for the forward (two products), 2.5 times that for the
    // backward (five products), halved under the causal mask.
    let fwd_flop = 4.0 * (b * h * l * l * e) as f64 * if causal { 0.5 } else { 1.0 };
    let shape = format!(
        "({b}, {h}, {l}, {e}){}{}",
        if causal { " causal" } else { "" },
        tiles.map_or(String::new(), |(x, y)| format!(" {x}x{y}"))
    );
    let report = |what: &str, (ms, cpu): (f64, f64), flop: f64| {
        println!(
            "{what:<26} {shape:<24} {ms:>9.1} ms  {:>6.1} GFLOP/s   (CPU {cpu:.0} ms/run)",
            flop / ms / 1e6
        );
    };
    let (out, lse) = flash_forward(&q, &k, &v, causal, None, tiles)?;
    let t = median_ms(reps, || {
        flash_forward(&q, &k, &v, causal, None, tiles).map(|_| ())
    })?;
    report("flash forward (ours)", t, fwd_flop);
    let t = median_ms(reps, || {
        flash_backward(&q, &k, &v, &out, &lse, &dout, causal, None, tiles).map(|_| ())
    })?;
    report("flash backward (ours)", t, 2.5 * fwd_flop);
    if with_naive {
        // The naive path is slow and big (B·H·L·S·4 bytes of scores): fewer runs.
        let reps = reps.div_ceil(4);
        let t = median_ms(reps, || naive(&q, &k, &v, causal).map(|_| ()))?;
        report("naive candle forward", t, fwd_flop);
        let (qv, kv, vv) = (
            Var::from_tensor(&q)?,
            Var::from_tensor(&k)?,
            Var::from_tensor(&v)?,
        );
        let t = median_ms(reps, || {
            let out = naive(qv.as_tensor(), kv.as_tensor(), vv.as_tensor(), causal)?;
            (out * &dout)?.sum_all()?.backward().map(|_| ())
        })?;
        report("naive candle fwd+bwd", t, 3.5 * fwd_flop);
    }
    Ok(())
}

fn memory(args: &[String]) -> Result<()> {
    let l: usize = args[0].parse().expect("memory L [E]");
    let e: usize = args.get(1).map_or(64, |a| a.parse().unwrap());
    let dev = Device::Cpu;
    let q = Tensor::randn(0f32, 1.0, (l, e), &dev)?;
    let k = Tensor::randn(0f32, 1.0, (l, e), &dev)?;
    let v = Tensor::randn(0f32, 1.0, (l, e), &dev)?;
    let dout = Tensor::randn(0f32, 1.0, (l, e), &dev)?;
    let bound = 8 * l * e * 4;
    let mib = |n: usize| n as f64 / (1 << 20) as f64;
    for causal in [false, true] {
        let (res, peak) = measure(|| flash_forward(&q, &k, &v, causal, None, None));
        let (out, lse) = res?;
        let outputs = (l * e + l) * 4;
        let fwd_extra = peak.saturating_sub(outputs);
        let (res, peak) =
            measure(|| flash_backward(&q, &k, &v, &out, &lse, &dout, causal, None, None));
        res?;
        let bwd_extra = peak.saturating_sub(3 * l * e * 4);
        println!(
            "memory L=S={l} E={e}{}: forward {fwd_extra} B ({:.3} MiB), backward {bwd_extra} B ({:.3} MiB) beyond inputs and outputs; bound 8·L·E·4 = {bound} B ({:.1} MiB); naive scores L²·4 = {:.0} MiB",
            if causal { " causal" } else { "" },
            mib(fwd_extra),
            mib(bwd_extra),
            mib(bound),
            mib(l * l * 4)
        );
    }
    let _ = DType::F32;
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("speed") => speed(&args[1..]),
        Some("memory") => memory(&args[1..]),
        _ => {
            eprintln!("usage: sol09-flash-bench speed B H L E [--causal] [--reps N] [--no-naive] [--tiles BQ,BK] | memory L [E]");
            std::process::exit(2);
        }
    }
}
