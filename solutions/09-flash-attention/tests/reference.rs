//! The reference solution against a plain float64 implementation written
//! here (the golden fixtures from PyTorch are graded by the grader).

use candle_core::{Device, Tensor, Var};
use sol09_flash_attention::*;

struct Naive {
    out: Vec<f64>,
    lse: Vec<f64>,
    dq: Vec<f64>,
    dk: Vec<f64>,
    dv: Vec<f64>,
}

/// Deterministic standard normal numbers (xorshift and Box-Muller), so that
/// a failure reproduces.
fn randn(seed: &mut u64, shape: Vec<usize>) -> Tensor {
    let n: usize = shape.iter().product();
    let mut uniform = || {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        ((*seed >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let values: Vec<f32> = (0..n)
        .map(|_| {
            let (a, b) = (uniform(), uniform());
            ((-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()) as f32
        })
        .collect();
    Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
}

fn data(t: &Tensor) -> Vec<f64> {
    t.flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn naive(
    q: &[f64],
    k: &[f64],
    v: &[f64],
    dout: &[f64],
    heads: usize,
    l: usize,
    s: usize,
    e: usize,
    ev: usize,
    causal: bool,
    scale: f64,
) -> Naive {
    let mut r = Naive {
        out: vec![0.0; heads * l * ev],
        lse: vec![f64::NEG_INFINITY; heads * l],
        dq: vec![0.0; heads * l * e],
        dk: vec![0.0; heads * s * e],
        dv: vec![0.0; heads * s * ev],
    };
    for h in 0..heads {
        let (qh, kh, vh, doh) = (
            &q[h * l * e..],
            &k[h * s * e..],
            &v[h * s * ev..],
            &dout[h * l * ev..],
        );
        for i in 0..l {
            let allowed: Vec<usize> = (0..s).filter(|&j| !causal || j <= i).collect();
            if allowed.is_empty() {
                continue;
            }
            let scores: Vec<f64> = allowed
                .iter()
                .map(|&j| scale * (0..e).map(|x| qh[i * e + x] * kh[j * e + x]).sum::<f64>())
                .collect();
            let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = scores.iter().map(|s| (s - m).exp()).sum();
            let lse = m + sum.ln();
            r.lse[h * l + i] = lse;
            let p: Vec<f64> = scores.iter().map(|s| (s - lse).exp()).collect();
            for y in 0..ev {
                r.out[(h * l + i) * ev + y] = allowed
                    .iter()
                    .zip(&p)
                    .map(|(&j, pj)| pj * vh[j * ev + y])
                    .sum();
            }
            // Backward.
            let dp: Vec<f64> = allowed
                .iter()
                .map(|&j| (0..ev).map(|y| doh[i * ev + y] * vh[j * ev + y]).sum())
                .collect();
            let dd: f64 = p.iter().zip(&dp).map(|(a, b)| a * b).sum();
            for (n, &j) in allowed.iter().enumerate() {
                let ds = p[n] * (dp[n] - dd);
                for x in 0..e {
                    r.dq[(h * l + i) * e + x] += scale * ds * kh[j * e + x];
                    r.dk[(h * s + j) * e + x] += scale * ds * qh[i * e + x];
                }
                for y in 0..ev {
                    r.dv[(h * s + j) * ev + y] += p[n] * doh[i * ev + y];
                }
            }
        }
    }
    r
}

fn close(name: &str, got: &Tensor, want: &[f64], atol: f64, rtol: f64) {
    let got = data(got);
    assert_eq!(got.len(), want.len(), "{name}: length");
    for (n, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = (g == w) || (g - w).abs() <= atol + rtol * w.abs();
        assert!(ok, "{name}[{n}]: got {g}, want {w}");
    }
}

#[allow(clippy::too_many_arguments)]
fn check(
    batch: &[usize],
    l: usize,
    s: usize,
    e: usize,
    ev: usize,
    causal: bool,
    scale: Option<f64>,
    tiles: Option<(usize, usize)>,
    size: f64,
) {
    let shape = |a: usize, b: usize| [batch, &[a, b]].concat();
    let mut seed = 0x9e37_79b9_7f4a_7c15 ^ (l * 1000 + s * 10 + e) as u64;
    let q = (randn(&mut seed, shape(l, e)) * size).unwrap();
    let k = (randn(&mut seed, shape(s, e)) * size).unwrap();
    let v = randn(&mut seed, shape(s, ev));
    let dout = randn(&mut seed, shape(l, ev));
    let heads = batch.iter().product();
    let sc = scale.unwrap_or(1.0 / (e as f64).sqrt());
    let want = naive(
        &data(&q),
        &data(&k),
        &data(&v),
        &data(&dout),
        heads,
        l,
        s,
        e,
        ev,
        causal,
        sc,
    );
    let what = format!("batch {batch:?} l {l} s {s} e {e} ev {ev} causal {causal} tiles {tiles:?}");
    let tol = 1e-4 * size * size;
    let (out, lse) = flash_forward(&q, &k, &v, causal, scale, tiles).unwrap();
    close(&format!("out {what}"), &out, &want.out, tol, 1e-4);
    close(&format!("lse {what}"), &lse, &want.lse, tol, 1e-4);
    let (dq, dk, dv) = flash_backward(&q, &k, &v, &out, &lse, &dout, causal, scale, tiles).unwrap();
    close(&format!("dq {what}"), &dq, &want.dq, 4.0 * tol, 1e-3);
    close(&format!("dk {what}"), &dk, &want.dk, 4.0 * tol, 1e-3);
    close(&format!("dv {what}"), &dv, &want.dv, 4.0 * tol, 1e-3);

    // Through candle's autograd: loss = Σ out ∘ dout.
    let (qv, kv, vv) = (
        Var::from_tensor(&q).unwrap(),
        Var::from_tensor(&k).unwrap(),
        Var::from_tensor(&v).unwrap(),
    );
    let out2 = flash_attention(
        qv.as_tensor(),
        kv.as_tensor(),
        vv.as_tensor(),
        causal,
        scale,
        tiles,
    )
    .unwrap();
    close(&format!("op out {what}"), &out2, &want.out, tol, 1e-4);
    let loss = (out2 * &dout).unwrap().sum_all().unwrap();
    let grads = loss.backward().unwrap();
    close(
        &format!("op dq {what}"),
        grads.get(qv.as_tensor()).unwrap(),
        &want.dq,
        4.0 * tol,
        1e-3,
    );
    close(
        &format!("op dk {what}"),
        grads.get(kv.as_tensor()).unwrap(),
        &want.dk,
        4.0 * tol,
        1e-3,
    );
    close(
        &format!("op dv {what}"),
        grads.get(vv.as_tensor()).unwrap(),
        &want.dv,
        4.0 * tol,
        1e-3,
    );
}

#[test]
fn small_shapes_and_odd_tiles() {
    for causal in [false, true] {
        check(&[2, 3], 7, 5, 3, 4, causal, None, Some((4, 3)), 1.0);
        check(&[2], 5, 9, 4, 2, causal, Some(0.7), Some((2, 4)), 1.0);
        check(&[], 9, 4, 5, 7, causal, None, Some((3, 2)), 1.0);
        check(&[1], 1, 1, 1, 1, causal, None, None, 1.0);
        check(&[3], 33, 47, 16, 32, causal, None, Some((8, 16)), 1.0);
        check(&[2, 2], 70, 130, 64, 64, causal, None, None, 1.0);
        check(&[2], 130, 70, 64, 48, causal, None, Some((32, 16)), 1.0);
        check(&[], 19, 23, 17, 33, causal, None, Some((5, 7)), 1.0);
    }
}

#[test]
fn single_head_takes_the_two_pass_path() {
    for causal in [false, true] {
        check(&[], 200, 150, 64, 64, causal, None, Some((32, 32)), 1.0);
        check(&[1], 150, 200, 20, 12, causal, None, Some((16, 64)), 1.0);
    }
}

#[test]
fn large_logits() {
    check(&[2], 6, 8, 8, 3, false, None, Some((4, 4)), 10.0);
    check(&[2], 8, 6, 8, 3, true, None, Some((4, 4)), 10.0);
}

#[test]
fn no_keys_gives_zeros_and_neg_inf() {
    let dev = Device::Cpu;
    let q = Tensor::randn(0f32, 1.0, (2, 3, 4), &dev).unwrap();
    let k = Tensor::zeros((2, 0, 4), candle_core::DType::F32, &dev).unwrap();
    let v = Tensor::zeros((2, 0, 5), candle_core::DType::F32, &dev).unwrap();
    let (out, lse) = flash_forward(&q, &k, &v, false, None, None).unwrap();
    assert_eq!(out.dims(), &[2, 3, 5]);
    assert!(data(&out).iter().all(|&x| x == 0.0));
    assert!(data(&lse).iter().all(|&x| x == f64::NEG_INFINITY));
}

#[test]
fn online_softmax_rows() {
    let row = [1.0f32, 3.0, -2.0, 7.0, 7.0, f32::NEG_INFINITY, 0.5];
    let got = online_softmax(&row);
    let m = 7.0f64;
    let sum: f64 = row.iter().map(|&x| (x as f64 - m).exp()).sum();
    for (g, &x) in got.iter().zip(&row) {
        assert!((*g as f64 - (x as f64 - m).exp() / sum).abs() < 1e-6);
    }
    assert_eq!(online_softmax(&[f32::NEG_INFINITY; 3]), vec![0.0; 3]);
    assert!(online_softmax(&[]).is_empty());
    let big = online_softmax(&[1000.0, 999.0, -1000.0]);
    assert!((big[0] - 0.731_058_6).abs() < 1e-6 && big[2] == 0.0);
}
