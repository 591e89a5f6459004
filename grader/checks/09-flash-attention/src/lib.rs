//! Exercise 09's judge: every fixture case of `online_softmax`,
//! `flash_forward`, `flash_backward` and `flash_attention` (the candle op
//! through autograd), properties on fresh random inputs, the memory bound
//! (graded) and the speed against the naive path (reported, not graded).
//! The student's code runs in its adapter
//! (`grader/adapters/09-flash-attention`); `ex` below calls it (the ops it
//! declares).

use std::cell::RefCell;

use candle_core::{DType, Device, Tensor, Var, D};
use grader_kit::client::Client;
use grader_kit::compare::compare;
use grader_kit::properties::PROPERTY_TOLERANCE;
use grader_kit::protocol::CheckStatus;
use grader_kit::random::{randn, rng_for};
use grader_kit::{CheckResult, Failure, Fixtures, Worker};
use rand::rngs::StdRng;
use rand::Rng;

const EXERCISE: &str = "09-flash-attention";

/// Random draws per property check: small tiles, L ≠ S, causal or not and
/// batch dimensions make many corner cases.
const TRIALS: usize = 4;

/// The memory check's problem: one head, L = S = 4096, E = Ev = 64 (the
/// naive path's scores alone would take L²·4 = 64 MiB).
const MEMORY_L: usize = 4096;
const MEMORY_E: usize = 64;
/// The threads the student's code is asked for during the memory check
/// (FLASH_ATTENTION_THREADS, which `num_threads()` reads): each thread has
/// its own tiles, so a fixed number makes the bound the same on every
/// machine.
const MEMORY_THREADS: usize = 4;
/// What the forward and the backward may each allocate beyond their inputs
/// and outputs: 8·L·E·4 bytes (8 MiB here: O(L·E), room for a few padded or
/// transposed copies of q, k, v, out or d_out and O(L) statistics such as
/// the lse and D) plus this constant, for the per-thread tiles of
/// MEMORY_THREADS threads (a few Bq×Bk and B×E tiles each: 16 KiB apiece
/// at 64×64) and thread and tensor bookkeeping. The reference solution
/// needs 0.1 MiB (forward) and 0.5 MiB (backward) of the whole allowance.
const MEMORY_SLACK: usize = 1 << 20;

/// The speed line's problem, (batch, heads, L, E), and the runs whose
/// median is reported (steadier than the fastest on a shared machine): the
/// student's code after a warm-up, the naive path (about half a second a
/// run) without.
const SPEED_SHAPE: [usize; 4] = [1, 2, 1024, 64];
const SPEED_REPS: usize = 5;
const NAIVE_REPS: usize = 3;

/// The tile sizes the properties draw from (`None`: the default).
const TILES: [Option<(usize, usize)>; 9] = [
    Some((1, 1)),
    Some((2, 3)),
    Some((3, 5)),
    Some((4, 4)),
    Some((5, 2)),
    Some((7, 3)),
    Some((8, 8)),
    Some((16, 4)),
    None,
];

/// The judge's checks, run by the launcher as `grader judge 09-flash-attention`.
pub fn checks(worker: &mut Worker) {
    let cx = &worker.client();
    if let Some(fixtures) = Fixtures::load_for(worker, EXERCISE) {
        fixtures.judge_ops(
            worker,
            &[
                ("online softmax", "online_softmax"),
                ("forward", "flash_forward"),
                ("backward", "flash_backward"),
                ("autograd", "flash_attention"),
            ],
        );
    }

    worker.property("matches-attention-in-float64", |rng| {
        for _ in 0..TRIALS {
            let p = Problem::random(rng, 1..=24, 1..=16);
            let want = p.reference()?;
            let (out, lse) = ex::flash_forward(cx, &p.q, &p.k, &p.v, p.causal, p.scale, p.tiles)?;
            let (dq, dk, dv) = ex::flash_backward(
                cx, &p.q, &p.k, &p.v, &out, &lse, &p.d_out, p.causal, p.scale, p.tiles,
            )?;
            for (name, got, want) in [
                ("out", &out, &want.out),
                ("lse", &lse, &want.lse),
                ("dq", &dq, &want.dq),
                ("dk", &dk, &want.dk),
                ("dv", &dv, &want.dv),
            ] {
                compare(name, got, want, PROPERTY_TOLERANCE).map_err(|f| {
                    f.context(format!(
                        "{}: softmax(q·kᵀ·scale)·v and its gradients, computed in float64",
                        p.describe()
                    ))
                })?;
            }
        }
        Ok(())
    });
    worker.property("tile-sizes-agree", |rng| {
        for _ in 0..TRIALS {
            // Longer sequences: many blocks, so many work items for threads.
            let mut p = Problem::random(rng, 20..=150, 4..=32);
            let small = (rng.random_range(1..=9), rng.random_range(1..=9));
            let mut results = vec![];
            for tiles in [Some(small), None] {
                p.tiles = tiles;
                let (out, lse) = ex::flash_forward(cx, &p.q, &p.k, &p.v, p.causal, p.scale, tiles)?;
                let (dq, dk, dv) = ex::flash_backward(
                    cx, &p.q, &p.k, &p.v, &out, &lse, &p.d_out, p.causal, p.scale, tiles,
                )?;
                results.push([out, lse, dq, dk, dv]);
            }
            for (i, name) in ["out", "lse", "dq", "dk", "dv"].iter().enumerate() {
                compare(name, &results[0][i], &results[1][i], PROPERTY_TOLERANCE).map_err(|f| {
                    f.context(format!(
                        "{}: tiles {small:?} and the default tiles must give the same {name}",
                        p.describe()
                    ))
                })?;
            }
        }
        Ok(())
    });
    worker.property("autograd-op-agrees-with-forward-and-backward", |rng| {
        for _ in 0..TRIALS {
            let p = Problem::random(rng, 1..=40, 1..=16);
            let (out, lse) = ex::flash_forward(cx, &p.q, &p.k, &p.v, p.causal, p.scale, p.tiles)?;
            let (dq, dk, dv) = ex::flash_backward(cx,
                &p.q, &p.k, &p.v, &out, &lse, &p.d_out, p.causal, p.scale, p.tiles,
            )?;
            let [op_out, op_dq, op_dk, op_dv] = flash_attention(cx, &p)?;
            for (name, got, want) in [
                ("out", &op_out, &out),
                ("dq", &op_dq, &dq),
                ("dk", &op_dk, &dk),
                ("dv", &op_dv, &dv),
            ] {
                compare(name, got, want, PROPERTY_TOLERANCE).map_err(|f| {
                    f.context(format!(
                        "{}: the FlashAttention op through candle's autograd must give what flash_forward and flash_backward give",
                        p.describe()
                    ))
                })?;
            }
        }
        Ok(())
    });

    let seed = worker.seed();
    let measured: RefCell<Option<Result<Memory, Failure>>> = RefCell::new(None);
    worker.check("memory", "memory", || {
        let result = measure_memory(cx, rng_for(seed, "memory"));
        let verdict = match &result {
            Ok(memory) => memory_verdict(memory),
            Err(failure) => Err(failure.clone()),
        };
        *measured.borrow_mut() = Some(result);
        verdict
    });
    worker.check("memory", "memory-peak", || report_memory(&measured));
    worker.check("speed", "speed", || report_speed(cx, seed));
}

/// One random attention problem, with the arguments of every op.
struct Problem {
    q: Tensor,
    k: Tensor,
    v: Tensor,
    d_out: Tensor,
    causal: bool,
    scale: Option<f64>,
    tiles: Option<(usize, usize)>,
}

/// The `FlashAttention` op through candle's autograd: out, dq, dk, dv,
/// each of which it must return.
fn flash_attention(cx: &Client, p: &Problem) -> Result<[Tensor; 4], Failure> {
    let (out, dq, dk, dv) =
        ex::flash_attention(cx, &p.q, &p.k, &p.v, &p.d_out, p.causal, p.scale, p.tiles)?;
    let got = [("out", Some(out)), ("dq", dq), ("dk", dk), ("dv", dv)];
    let returned: Vec<&str> = got
        .iter()
        .filter(|(_, t)| t.is_some())
        .map(|(n, _)| *n)
        .collect();
    let [out, dq, dk, dv] = got.map(|(name, t)| {
        t.ok_or_else(|| {
            Failure::new(format!(
                "the call returned no output `{name}` (it returned {returned:?})"
            ))
        })
    });
    Ok([out?, dq?, dk?, dv?])
}

/// The expected values, computed here in float64.
struct Expected {
    out: Tensor,
    lse: Tensor,
    dq: Tensor,
    dk: Tensor,
    dv: Tensor,
}

impl Problem {
    /// q (…, L, E), k (…, S, E), v (…, S, Ev) with 0 to 2 batch dimensions,
    /// L and S from `lengths`, E and Ev from `widths`; causal half the time
    /// (then often L ≠ S), a random scale a quarter of the time.
    fn random(
        rng: &mut StdRng,
        lengths: std::ops::RangeInclusive<usize>,
        widths: std::ops::RangeInclusive<usize>,
    ) -> Problem {
        let batch: Vec<usize> = (0..rng.random_range(0..=2))
            .map(|_| rng.random_range(1..=3))
            .collect();
        let (l, s) = (rng.random_range(lengths.clone()), rng.random_range(lengths));
        let (e, ev) = (rng.random_range(widths.clone()), rng.random_range(widths));
        let shape = |rows: usize, cols: usize| [batch.clone(), vec![rows, cols]].concat();
        Problem {
            q: randn(rng, &shape(l, e)),
            k: randn(rng, &shape(s, e)),
            v: randn(rng, &shape(s, ev)),
            d_out: randn(rng, &shape(l, ev)),
            causal: rng.random_bool(0.5),
            scale: rng.random_bool(0.25).then(|| rng.random_range(0.3..1.5f64)),
            tiles: TILES[rng.random_range(0..TILES.len())],
        }
    }

    fn describe(&self) -> String {
        format!(
            "q {:?}, k {:?}, v {:?}, is_causal {}, scale {:?}, tiles {:?}",
            self.q.dims(),
            self.k.dims(),
            self.v.dims(),
            self.causal,
            self.scale,
            self.tiles
        )
    }

    /// softmax(q·kᵀ·scale + mask)·v, the lse of the masked scores, and the
    /// gradients of sum(out · d_out) by candle's autograd, all in float64
    /// (every query sees at least key 0, so no row is empty).
    fn reference(&self) -> Result<Expected, Failure> {
        let f64_var = |t: &Tensor| Var::from_tensor(&t.to_dtype(DType::F64)?);
        let (q, k, v) = (f64_var(&self.q)?, f64_var(&self.k)?, f64_var(&self.v)?);
        let e = q.dim(D::Minus1)?;
        let (l, s) = (q.dim(D::Minus2)?, k.dim(D::Minus2)?);
        let scale = self.scale.unwrap_or(1.0 / (e as f64).sqrt());
        let mut scores = (q.matmul(&k.t()?)? * scale)?;
        if self.causal {
            let bias: Vec<f64> = (0..l)
                .flat_map(|i| (0..s).map(move |j| if j <= i { 0.0 } else { f64::NEG_INFINITY }))
                .collect();
            let bias = Tensor::from_vec(bias, (l, s), &Device::Cpu)?;
            scores = scores.broadcast_add(&bias)?;
        }
        let max = scores.max_keepdim(D::Minus1)?.detach();
        let exp = scores.broadcast_sub(&max)?.exp()?;
        let sum = exp.sum_keepdim(D::Minus1)?;
        let out = exp.broadcast_div(&sum)?.matmul(v.as_tensor())?;
        let lse = (sum.log()? + max)?.squeeze(D::Minus1)?;
        let d_out = self.d_out.to_dtype(DType::F64)?;
        let grads = (&out * &d_out)?.sum_all()?.backward()?;
        let grad = |var: &Var| -> Result<Tensor, Failure> {
            Ok(grads
                .get(var.as_tensor())
                .ok_or_else(|| Failure::fixture("the float64 reference has no gradient"))?
                .to_dtype(DType::F32)?)
        };
        Ok(Expected {
            out: out.detach().to_dtype(DType::F32)?,
            lse: lse.detach().to_dtype(DType::F32)?,
            dq: grad(&q)?,
            dk: grad(&k)?,
            dv: grad(&v)?,
        })
    }
}

/// The peak bytes the student's forward and backward allocate beyond their
/// inputs and outputs, on random inputs of the memory check's size.
/// What the memory check measured: the peaks beyond inputs and outputs,
/// and the threads that allocated while the code ran.
struct Memory {
    forward: usize,
    backward: usize,
    threads: usize,
}

fn measure_memory(cx: &Client, mut rng: StdRng) -> Result<Memory, Failure> {
    let (l, e) = (MEMORY_L, MEMORY_E);
    let [q, k, v, d_out] = [0; 4].map(|_| filler(&mut rng, &[l, e]));
    let (forward_peak, backward_peak, threads) =
        ex::memory(cx, &q, &k, &v, &d_out, false, MEMORY_THREADS)?;
    let forward_peak = measurement(forward_peak)? as usize;
    let backward_peak = measurement(backward_peak)? as usize;
    let outputs = (l * e + l) * 4; // out and lse
    let gradients = 3 * l * e * 4; // dq, dk and dv
    Ok(Memory {
        forward: forward_peak.saturating_sub(outputs),
        backward: backward_peak.saturating_sub(gradients),
        threads: measurement(threads)? as usize,
    })
}

/// A number the adapter measured: finite and not negative.
fn measurement(x: f64) -> Result<f64, Failure> {
    if x.is_finite() && x >= 0.0 {
        return Ok(x);
    }
    Err(Failure::new(format!(
        "the adapter sent back {:?}, not a measurement",
        [x]
    )))
}

/// Values in [-1, 1] for the measuring checks, whose results do not depend
/// on them: sin(a·i + b) over the elements, with a and b from `rng`. A
/// million normal draws take most of a second in this (unoptimized) judge;
/// candle's ops take milliseconds.
fn filler(rng: &mut StdRng, shape: &[usize]) -> Tensor {
    let (a, b) = (rng.random_range(0.5..1.5f64), rng.random_range(0.0..6.3f64));
    let n: usize = shape.iter().product();
    Tensor::arange(0u32, n as u32, &Device::Cpu)
        .and_then(|i| i.to_dtype(DType::F32)?.affine(a, b)?.sin()?.reshape(shape))
        .expect("a range of the right size")
}

fn mib(bytes: usize) -> String {
    format!("{:.2} MiB", bytes as f64 / (1 << 20) as f64)
}

fn memory_bound() -> usize {
    8 * MEMORY_L * MEMORY_E * 4 + MEMORY_SLACK
}

/// What the measurement was, in words.
fn memory_line(m: &Memory) -> String {
    format!(
        "forward {} and backward {} beyond their inputs and outputs at L = S = {MEMORY_L}, E = {MEMORY_E}, {} (FLASH_ATTENTION_THREADS asked for {MEMORY_THREADS} at a time) (bound {} = 8·L·E·4 + 1 MiB; the naive path's scores alone take {})",
        mib(m.forward),
        mib(m.backward),
        if m.threads <= 1 {
            "run on 1 thread".to_string()
        } else {
            format!(
                "run on {} threads in all (the caller and those it started)",
                m.threads
            )
        },
        mib(memory_bound()),
        mib(MEMORY_L * MEMORY_L * 4)
    )
}

fn memory_verdict(m: &Memory) -> CheckResult {
    if m.forward.max(m.backward) <= memory_bound() {
        return Ok(());
    }
    Err(Failure::new(format!(
        "too much memory: {}. FlashAttention never holds an L×S matrix: keep only tiles, and O(L) statistics",
        memory_line(m)
    )))
}

/// The measured peaks, always, as a record that neither earns nor loses
/// points (the check `memory` grades them).
fn report_memory(measured: &RefCell<Option<Result<Memory, Failure>>>) -> CheckResult {
    let line = match measured.borrow().as_ref() {
        Some(Ok(memory)) => format!("measured: {}", memory_line(memory)),
        // A stub: the same "not started" as the check that measures.
        Some(Err(failure)) if failure.status == CheckStatus::NotStarted => {
            return Err(failure.clone())
        }
        Some(Err(failure)) => format!("not measured: {}", failure.message),
        None => "not measured (run the check `memory`)".to_string(),
    };
    Err(Failure::not_graded(line))
}

/// The student's forward and backward against the naive path, timed in the
/// adapter on the same inputs: a line in the report, never points.
fn report_speed(cx: &Client, seed: u64) -> CheckResult {
    let mut rng = rng_for(seed, "speed");
    let [b, h, l, e] = SPEED_SHAPE;
    let [q, k, v, d_out] = [0; 4].map(|_| filler(&mut rng, &[b, h, l, e]));
    let times = ex::speed(cx, &q, &k, &v, &d_out, false, SPEED_REPS, NAIVE_REPS).and_then(
        |(a, b, c, d)| {
            Ok([
                measurement(a)?,
                measurement(b)?,
                measurement(c)?,
                measurement(d)?,
            ])
        },
    );
    let times = match times {
        Ok(times) => times,
        Err(failure) if failure.status == CheckStatus::NotStarted => return Err(failure),
        Err(failure) => {
            return Err(Failure::not_graded(format!(
                "not graded, not measured: {}",
                failure.message
            )))
        }
    };
    let [fwd, bwd, naive_fwd, naive_bwd] = times;
    let ratio = |mine: f64, naive: f64| {
        let x = naive / mine.max(1e-9);
        if x >= 1.0 {
            format!("{x:.1}× faster")
        } else {
            format!("{:.1}× slower", 1.0 / x.max(1e-9))
        }
    };
    Err(Failure::not_graded(format!(
        "not graded: forward {} than naive at L = {l}, backward {} ({} heads, E = {e}; forward {:.1} ms against {:.1} ms, backward {:.1} ms against {:.1} ms, median of {SPEED_REPS} and {NAIVE_REPS} runs)",
        ratio(fwd, naive_fwd),
        ratio(bwd, naive_bwd),
        b * h,
        fwd * 1e3,
        naive_fwd * 1e3,
        bwd * 1e3,
        naive_bwd * 1e3
    )))
}

/// The student's functions, called in the adapter: the ops it declares.
#[path = "../../../adapters/09-flash-attention/src/ops.rs"]
mod ops;
use ops::call as ex;
