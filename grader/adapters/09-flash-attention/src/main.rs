//! Exercise 09's adapter: each op (declared in `ops.rs`) → the student's
//! function. The judge (`grader/checks/09-flash-attention`) sends the
//! inputs and judges the outputs.
//!
//! Besides the four ops of the fixture cases, two measure: `memory` returns
//! the peak heap bytes that the student's forward and backward allocate
//! while they run (this adapter counts every allocation, see [`counting`]);
//! `speed` returns the seconds of the student's forward and backward and of
//! a naive candle path on the same inputs. The judge decides what the
//! numbers mean.

#[cfg(not(feature = "solution"))]
use exercise as ex;
#[cfg(feature = "solution")]
use solution as ex;

use std::time::Instant;

use candle_core::{Device, Tensor, Var, D};
use grader_kit::Failure;

mod ops;

#[global_allocator]
static ALLOC: counting::CountingAlloc = counting::CountingAlloc;

fn main() {
    // In trusted mode the sandbox allows 64 processes and threads: on a
    // grading machine with more cores, `num_threads()` (every core) would
    // make the student's thread spawns fail. At most 16 then, unless set.
    if std::env::var_os("FLASH_ATTENTION_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        std::env::set_var("FLASH_ATTENTION_THREADS", cores.min(16).to_string());
    }
    ops::serve(ops::Student {
        online_softmax: |x| {
            let out = ex::online_softmax(&x.to_vec1::<f32>()?);
            let n = out.len();
            Ok(Tensor::from_vec(out, n, &Device::Cpu)?)
        },
        flash_forward: |q, k, v, is_causal, scale, tiles| {
            Ok(ex::flash_forward(&q, &k, &v, is_causal, scale, tiles)?)
        },
        flash_backward: |q, k, v, out, lse, d_out, is_causal, scale, tiles| {
            let dq_dk_dv =
                ex::flash_backward(&q, &k, &v, &out, &lse, &d_out, is_causal, scale, tiles);
            Ok(dq_dk_dv?)
        },
        flash_attention,
        memory,
        speed,
    })
}

/// The student's `FlashAttention` op through candle's autograd: out =
/// apply_op3(q, k, v), loss = sum(out · d_out), then the gradients of q, k
/// and v (a gradient that does not reach its input is left out, for the
/// judge to report).
#[allow(clippy::type_complexity)]
fn flash_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    d_out: Tensor,
    is_causal: bool,
    scale: Option<f64>,
    tiles: Option<(usize, usize)>,
) -> Result<(Tensor, Option<Tensor>, Option<Tensor>, Option<Tensor>), Failure> {
    let q = Var::from_tensor(&q.contiguous()?)?;
    let k = Var::from_tensor(&k.contiguous()?)?;
    let v = Var::from_tensor(&v.contiguous()?)?;
    let op = ex::FlashAttention::new(is_causal, scale, tiles);
    let out = q.as_tensor().apply_op3(k.as_tensor(), v.as_tensor(), op)?;
    let grads = (&out * &d_out)?.sum_all()?.backward()?;
    let grad = |var: &Var| grads.get(var.as_tensor()).cloned();
    Ok((out.detach(), grad(&q), grad(&k), grad(&v)))
}

/// The peak bytes allocated, beyond what was allocated before, while the
/// student's `flash_forward` and then `flash_backward` ran on the judge's
/// inputs (default tiles and scale). Their outputs are included: the judge
/// subtracts them. The param `threads` is put in FLASH_ATTENTION_THREADS for
/// the two calls, so that the per-thread tiles counted are the same on every
/// machine.
fn memory(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    d_out: Tensor,
    is_causal: bool,
    threads: usize,
) -> Result<(f64, f64, f64), Failure> {
    let saved = std::env::var_os("FLASH_ATTENTION_THREADS");
    std::env::set_var("FLASH_ATTENTION_THREADS", threads.to_string());
    let measured = (|| {
        let (forward, fwd_peak, fwd_threads) =
            counting::measure(|| ex::flash_forward(&q, &k, &v, is_causal, None, None));
        let (out, lse) = forward?;
        let (backward, bwd_peak, bwd_threads) = counting::measure(|| {
            ex::flash_backward(&q, &k, &v, &out, &lse, &d_out, is_causal, None, None)
        });
        backward?;
        Ok::<_, Failure>((fwd_peak, bwd_peak, fwd_threads.max(bwd_threads)))
    })();
    match saved {
        Some(value) => std::env::set_var("FLASH_ATTENTION_THREADS", value),
        None => std::env::remove_var("FLASH_ATTENTION_THREADS"),
    }
    let (fwd_peak, bwd_peak, threads) = measured?;
    Ok((fwd_peak as f64, bwd_peak as f64, threads as f64))
}

/// Seconds (the median of `reps` runs, after a warm-up) of the student's
/// `flash_forward` and `flash_backward`, and of the naive path's forward and
/// backward (candle's autograd through [`naive`]; the median of
/// `naive_reps` runs, without a warm-up: it is slow), on the same inputs.
fn speed(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    d_out: Tensor,
    is_causal: bool,
    reps: usize,
    naive_reps: usize,
) -> Result<(f64, f64, f64, f64), Failure> {
    let (reps, naive_reps) = (reps.max(1), naive_reps.max(1));
    let (out, lse) = ex::flash_forward(&q, &k, &v, is_causal, None, None)?;
    let flash_forward = median_secs(reps, true, || {
        ex::flash_forward(&q, &k, &v, is_causal, None, None)?;
        Ok(0.0)
    })?;
    let flash_backward = median_secs(reps, true, || {
        ex::flash_backward(&q, &k, &v, &out, &lse, &d_out, is_causal, None, None)?;
        Ok(0.0)
    })?;
    let naive_forward = median_secs(naive_reps, false, || {
        naive(&q, &k, &v, is_causal)?;
        Ok(0.0)
    })?;
    let (qv, kv, vv) = (
        Var::from_tensor(&q)?,
        Var::from_tensor(&k)?,
        Var::from_tensor(&v)?,
    );
    // The backward alone: each run builds its graph untimed, then times
    // `backward()`; the closure returns the seconds it leaves out.
    let naive_backward = median_secs(naive_reps, false, || {
        let start = Instant::now();
        let out = naive(qv.as_tensor(), kv.as_tensor(), vv.as_tensor(), is_causal)?;
        let loss = (&out * &d_out)?.sum_all()?;
        let untimed = start.elapsed().as_secs_f64();
        loss.backward()?;
        Ok(untimed)
    })?;
    Ok((flash_forward, flash_backward, naive_forward, naive_backward))
}

/// The median wall-clock seconds of `reps` runs of `f` (after a warm-up
/// run when `warm_up`), less the seconds each run says to leave out: steadier
/// from run to run than the fastest on a shared machine.
fn median_secs(
    reps: usize,
    warm_up: bool,
    mut f: impl FnMut() -> Result<f64, Failure>,
) -> Result<f64, Failure> {
    if warm_up {
        f()?;
    }
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let start = Instant::now();
        let untimed = f()?;
        times.push((start.elapsed().as_secs_f64() - untimed).max(0.0));
    }
    times.sort_by(f64::total_cmp);
    Ok(times.get(times.len() / 2).copied().unwrap_or(0.0))
}

/// The naive path: the whole (…, L, S) score matrix,
/// softmax(q·kᵀ·scale (masked)) · v, with candle ops.
fn naive(q: &Tensor, k: &Tensor, v: &Tensor, is_causal: bool) -> candle_core::Result<Tensor> {
    let e = q.dim(D::Minus1)?;
    let (l, s) = (q.dim(D::Minus2)?, k.dim(D::Minus2)?);
    let mut scores = (q.matmul(&k.t()?.contiguous()?)? * (1.0 / (e as f64).sqrt()))?;
    if is_causal {
        let i = Tensor::arange(0u32, l as u32, q.device())?.unsqueeze(1)?;
        let j = Tensor::arange(0u32, s as u32, q.device())?.unsqueeze(0)?;
        let allowed = j.broadcast_le(&i)?.broadcast_as(scores.shape())?;
        let minus_inf = Tensor::full(f32::NEG_INFINITY, scores.shape(), q.device())?;
        scores = allowed.where_cond(&scores, &minus_inf)?;
    }
    let max = scores.max_keepdim(D::Minus1)?;
    let p = scores.broadcast_sub(&max)?.exp()?;
    let p = p.broadcast_div(&p.sum_keepdim(D::Minus1)?)?;
    p.matmul(v)
}

/// A global allocator that counts the bytes allocated now and the most
/// since the last reset. Thread stacks are mapped, not allocated, and are
/// not counted.
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    pub struct CountingAlloc;

    static NOW: AtomicUsize = AtomicUsize::new(0);
    static MOST: AtomicUsize = AtomicUsize::new(0);
    /// Which measurement is running, and how many threads allocated in it
    /// (a thread counts once per measurement: the threads the code used).
    static EPOCH: AtomicUsize = AtomicUsize::new(0);
    static THREADS: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SEEN: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
    }

    fn add(bytes: usize) {
        let now = NOW.fetch_add(bytes, SeqCst) + bytes;
        MOST.fetch_max(now, SeqCst);
        let epoch = EPOCH.load(SeqCst);
        // try_with: no panic in a thread whose locals are being torn down.
        let _ = SEEN.try_with(|seen| {
            if seen.get() != epoch {
                seen.set(epoch);
                THREADS.fetch_add(1, SeqCst);
            }
        });
    }

    fn sub(bytes: usize) {
        NOW.fetch_sub(bytes, SeqCst);
    }

    // SAFETY: every call is passed on to the system allocator unchanged;
    // the counters only watch.
    unsafe impl GlobalAlloc for CountingAlloc {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let ptr = System.alloc(layout);
            if !ptr.is_null() {
                add(layout.size());
            }
            ptr
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            let ptr = System.alloc_zeroed(layout);
            if !ptr.is_null() {
                add(layout.size());
            }
            ptr
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            System.dealloc(ptr, layout);
            sub(layout.size());
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let moved = System.realloc(ptr, layout, new_size);
            if !moved.is_null() {
                if new_size >= layout.size() {
                    add(new_size - layout.size());
                } else {
                    sub(layout.size() - new_size);
                }
            }
            moved
        }
    }

    /// Runs `f`; returns its result, the most bytes allocated during the
    /// call beyond those allocated before it, and how many threads
    /// allocated during it.
    pub fn measure<R>(f: impl FnOnce() -> R) -> (R, usize, usize) {
        EPOCH.fetch_add(1, SeqCst);
        THREADS.store(0, SeqCst);
        let before = NOW.load(SeqCst);
        MOST.store(before, SeqCst);
        let result = f();
        let threads = THREADS.load(SeqCst);
        (result, MOST.load(SeqCst).saturating_sub(before), threads)
    }
}
