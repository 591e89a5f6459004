//! Building blocks for exercise 09 (given, the same in the exercise and the
//! reference solution): use them, or write your own.
//!
//! - [`tile_matmul`]: `C (+)= alpha · A · B` on small tiles, register-blocked
//!   (6 rows × 16 columns of C kept in AVX registers);
//! - [`exp_sub_sum`], [`exp_sub_each`]: a vectorized exp over a row;
//!   [`exp_sub_cols`] and [`col_max`] over the columns of a tile;
//! - [`scale_row`], [`axpy`], [`dot`]: row operations;
//! - [`pack_t`], [`pack_rows`], [`rows_operand`]: copy tiles into the
//!   layouts `tile_matmul` wants;
//! - [`split_sizes`], [`run_parallel`]: cut the outputs into disjoint
//!   `&mut` pieces and run work items on scoped threads.
//!
//! Each numeric function has an AVX2 + FMA version, chosen at run time once
//! (`FLASH_NO_SIMD=1` forces the plain one), and a plain fallback with the
//! same results up to rounding. None of them knows about attention: the
//! online softmax, the tiling, the masks and the gradients are yours.

use std::sync::{Mutex, OnceLock};

/// Columns of C that one call of the micro-kernel computes (two AVX vectors).
pub const NR: usize = 16;
/// Rows of C that one call of the micro-kernel computes.
const MR: usize = 6;

/// `n` rounded up to a multiple of [`NR`].
pub fn pad(n: usize) -> usize {
    n.div_ceil(NR) * NR
}

/// Whether the AVX2 + FMA versions run (decided once).
pub fn simd() -> bool {
    avx2()
}

fn avx2() -> bool {
    static AVX2: OnceLock<bool> = OnceLock::new();
    *AVX2.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::env::var_os("FLASH_NO_SIMD").is_none()
                && is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// A read-only matrix operand `A` of a tile product: element (r, p) is at
/// `data[r * rs + p * cs]`, so a transposed view is just swapped strides.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

/// `C[..m, ..n] (+)= alpha · A[..m, ..kk] · B[..kk, ..n]`.
///
/// - `a`: any strides; `b`: row-major with leading dimension `ldb`, and `n`
///   a multiple of [`NR`] (pad B with zero columns); `c`: row-major with
///   leading dimension `ldc`, at least `m` rows of `n` columns.
/// - `accumulate`: add to C (true) or overwrite it (false).
#[allow(clippy::too_many_arguments)]
pub fn tile_matmul(
    m: usize,
    n: usize,
    kk: usize,
    alpha: f32,
    a: View<'_>,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    assert!(n.is_multiple_of(NR) && n <= ldc);
    if m == 0 || n == 0 {
        return;
    }
    // Bounds, checked once so the kernels can use raw pointers.
    if kk > 0 {
        assert!(
            (m - 1) * a.rs + (kk - 1) * a.cs < a.data.len(),
            "A out of bounds"
        );
        assert!((kk - 1) * ldb + n <= b.len(), "B out of bounds");
    }
    assert!((m - 1) * ldc + n <= c.len(), "C out of bounds");
    #[cfg(target_arch = "x86_64")]
    if avx2() {
        // SAFETY: the CPU has AVX2 and FMA (checked above) and every index
        // the kernel touches is within the bounds asserted above.
        unsafe {
            x86::tile_matmul(
                m,
                n,
                kk,
                alpha,
                a,
                b.as_ptr(),
                ldb,
                c.as_mut_ptr(),
                ldc,
                accumulate,
            )
        };
        return;
    }
    for r in 0..m {
        let row = &mut c[r * ldc..r * ldc + n];
        if !accumulate {
            row.fill(0.0);
        }
        for p in 0..kk {
            let x = alpha * a.data[r * a.rs + p * a.cs];
            for (cv, bv) in row.iter_mut().zip(&b[p * ldb..p * ldb + n]) {
                *cv += x * bv;
            }
        }
    }
}

/// `row[i] = exp(row[i] - sub)` for every i; returns the sum of the new values.
pub fn exp_sub_sum(row: &mut [f32], sub: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if avx2() {
        // SAFETY: AVX2 and FMA are present.
        return unsafe { x86::exp_sub_sum(row, sub) };
    }
    let mut sum = 0.0;
    for x in row.iter_mut() {
        *x = (*x - sub).exp();
        sum += *x;
    }
    sum
}

/// `row[i] = exp(row[i] - sub[i])` for every i.
pub fn exp_sub_each(row: &mut [f32], sub: &[f32]) {
    assert!(sub.len() >= row.len());
    #[cfg(target_arch = "x86_64")]
    if avx2() {
        // SAFETY: AVX2 and FMA are present; `sub` is at least as long as `row`.
        return unsafe { x86::exp_sub_each(row, sub) };
    }
    for (x, s) in row.iter_mut().zip(sub) {
        *x = (*x - s).exp();
    }
}

/// Column maxima of a tile: `out[c] = max(out[c], max_r tile[r·ld + c])`
/// for c < n (a multiple of 8) over `rows` rows.
pub fn col_max(tile: &[f32], rows: usize, ld: usize, n: usize, out: &mut [f32]) {
    assert!(n.is_multiple_of(8) && n <= ld && out.len() >= n);
    assert!(rows == 0 || (rows - 1) * ld + n <= tile.len());
    #[cfg(target_arch = "x86_64")]
    if avx2() {
        // SAFETY: AVX2 is present; the bounds are asserted above.
        return unsafe { x86::col_max(tile, rows, ld, n, out) };
    }
    for r in 0..rows {
        for (o, &x) in out[..n].iter_mut().zip(&tile[r * ld..r * ld + n]) {
            *o = if x > *o { x } else { *o };
        }
    }
}

/// `tile[r·ld + c] = exp(tile[r·ld + c] − sub[c])` for r < rows, c < n (a
/// multiple of 8), and `sum[c] += Σ_r` of the new values.
pub fn exp_sub_cols(
    tile: &mut [f32],
    rows: usize,
    ld: usize,
    n: usize,
    sub: &[f32],
    sum: &mut [f32],
) {
    assert!(n.is_multiple_of(8) && n <= ld && sub.len() >= n && sum.len() >= n);
    assert!(rows == 0 || (rows - 1) * ld + n <= tile.len());
    #[cfg(target_arch = "x86_64")]
    if avx2() {
        // SAFETY: AVX2 and FMA are present; the bounds are asserted above.
        return unsafe { x86::exp_sub_cols(tile, rows, ld, n, sub, sum) };
    }
    for r in 0..rows {
        for c in 0..n {
            let x = &mut tile[r * ld + c];
            *x = (*x - sub[c]).exp();
            sum[c] += *x;
        }
    }
}

/// `row *= x`.
pub fn scale_row(row: &mut [f32], x: f32) {
    #[cfg(target_arch = "x86_64")]
    if avx2() {
        // SAFETY: AVX2 is present.
        return unsafe { x86::scale_row(row, x) };
    }
    scale_row_plain(row, x)
}

#[inline(always)]
fn scale_row_plain(row: &mut [f32], x: f32) {
    for v in row {
        *v *= x;
    }
}

/// `dst += x · src`.
pub fn axpy(dst: &mut [f32], x: f32, src: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if avx2() {
        // SAFETY: AVX2 and FMA are present.
        return unsafe { x86::axpy(dst, x, src) };
    }
    axpy_plain(dst, x, src)
}

#[inline(always)]
fn axpy_plain(dst: &mut [f32], x: f32, src: &[f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d += x * s;
    }
}

/// The dot product of two rows, accumulated in f64 (for D = rowsum(dO ∘ O)).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| x as f64 * y as f64)
        .sum::<f64>() as f32
}

/// Cuts `buf` into consecutive pieces of the given sizes.
pub fn split_sizes(mut buf: &mut [f32], sizes: impl IntoIterator<Item = usize>) -> Vec<&mut [f32]> {
    let mut parts = Vec::new();
    for n in sizes {
        let (head, tail) = std::mem::take(&mut buf).split_at_mut(n);
        parts.push(head);
        buf = tail;
    }
    parts
}

/// Runs `work` on every item, on up to [`crate::num_threads`] scoped threads that
/// take the next item from a shared queue. Each thread makes its own
/// workspace with `make`. Items own disjoint `&mut` slices of the outputs,
/// so no two threads can write the same element: the compiler checks it.
pub fn run_parallel<T: Send, W>(
    items: Vec<T>,
    make: impl Fn() -> W + Sync,
    work: impl Fn(&mut W, T) + Sync,
) {
    let threads = crate::num_threads().min(items.len());
    if threads <= 1 {
        let mut w = make();
        for item in items {
            work(&mut w, item);
        }
        return;
    }
    let queue = Mutex::new(items.into_iter());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut w = make();
                loop {
                    let next = queue.lock().unwrap().next();
                    match next {
                        Some(item) => work(&mut w, item),
                        None => break,
                    }
                }
            });
        }
    });
}

/// Copies `rows` rows of `width` from `src` (row-major) into `dst` with
/// leading dimension `ld`.
pub fn pack_rows(dst: &mut [f32], ld: usize, src: &[f32], rows: usize, width: usize) {
    for r in 0..rows {
        dst[r * ld..r * ld + width].copy_from_slice(&src[r * width..(r + 1) * width]);
    }
}

/// Transposes `rows` rows of `width` from `src` into `dst`: dst[x·ld + r] = src[r·width + x].
pub fn pack_t(dst: &mut [f32], ld: usize, src: &[f32], rows: usize, width: usize) {
    for r in 0..rows {
        for (x, &val) in src[r * width..(r + 1) * width].iter().enumerate() {
            dst[x * ld + r] = val;
        }
    }
}

/// A row-major B operand of `rows` rows of `width` starting at row `row0`
/// of `src`: used in place when `width` is a multiple of NR, else copied
/// into `buf` with zero-padded columns.
pub fn rows_operand<'a>(
    src: &'a [f32],
    row0: usize,
    rows: usize,
    width: usize,
    buf: &'a mut [f32],
) -> (&'a [f32], usize) {
    if width.is_multiple_of(NR) {
        (&src[row0 * width..], width)
    } else {
        let ld = pad(width);
        pack_rows(buf, ld, &src[row0 * width..], rows, width);
        (buf, ld)
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{View, MR, NR};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn tile_matmul(
        m: usize,
        n: usize,
        kk: usize,
        alpha: f32,
        a: View<'_>,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        accumulate: bool,
    ) {
        let ap = a.data.as_ptr();
        let mut col = 0;
        while col < n {
            let bc = b.add(col);
            let mut row = 0;
            while row + MR <= m {
                micro::<MR>(
                    kk,
                    alpha,
                    ap.add(row * a.rs),
                    a.rs,
                    a.cs,
                    bc,
                    ldb,
                    c.add(row * ldc + col),
                    ldc,
                    accumulate,
                );
                row += MR;
            }
            // Past the last full group these may point beyond the data;
            // they are only read when rows remain.
            let a_rest = ap.wrapping_add(row * a.rs);
            let c_rest = c.wrapping_add(row * ldc + col);
            match m - row {
                1 => micro::<1>(
                    kk, alpha, a_rest, a.rs, a.cs, bc, ldb, c_rest, ldc, accumulate,
                ),
                2 => micro::<2>(
                    kk, alpha, a_rest, a.rs, a.cs, bc, ldb, c_rest, ldc, accumulate,
                ),
                3 => micro::<3>(
                    kk, alpha, a_rest, a.rs, a.cs, bc, ldb, c_rest, ldc, accumulate,
                ),
                4 => micro::<4>(
                    kk, alpha, a_rest, a.rs, a.cs, bc, ldb, c_rest, ldc, accumulate,
                ),
                5 => micro::<5>(
                    kk, alpha, a_rest, a.rs, a.cs, bc, ldb, c_rest, ldc, accumulate,
                ),
                _ => {}
            }
            col += NR;
        }
    }

    /// R rows × 16 columns of C, kept in 2·R AVX registers over the whole
    /// reduction: per step, two loads of B, R broadcasts of A, 2·R FMAs.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    unsafe fn micro<const R: usize>(
        kk: usize,
        alpha: f32,
        a: *const f32,
        a_rs: usize,
        a_cs: usize,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
        accumulate: bool,
    ) {
        let mut acc = [[_mm256_setzero_ps(); 2]; R];
        let mut ak = a;
        let mut bk = b;
        for _ in 0..kk {
            let b0 = _mm256_loadu_ps(bk);
            let b1 = _mm256_loadu_ps(bk.add(8));
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let x = _mm256_broadcast_ss(&*ak.add(r * a_rs));
                acc_r[0] = _mm256_fmadd_ps(x, b0, acc_r[0]);
                acc_r[1] = _mm256_fmadd_ps(x, b1, acc_r[1]);
            }
            ak = ak.wrapping_add(a_cs);
            bk = bk.wrapping_add(ldb);
        }
        let va = _mm256_set1_ps(alpha);
        for (r, acc_r) in acc.iter().enumerate() {
            for (h, &v) in acc_r.iter().enumerate() {
                let dst = c.add(r * ldc + 8 * h);
                let v = if accumulate {
                    _mm256_fmadd_ps(v, va, _mm256_loadu_ps(dst))
                } else {
                    _mm256_mul_ps(v, va)
                };
                _mm256_storeu_ps(dst, v);
            }
        }
    }

    /// exp of 8 lanes (Cephes' expf: exp(x) = 2^n · exp(r), |r| ≤ ln2/2, a
    /// degree-6 polynomial; about 1 ulp). Inputs below -88.37 (and -inf)
    /// give 0.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub unsafe fn exp8(x: __m256) -> __m256 {
        let hi = _mm256_set1_ps(88.376_26);
        let lo = _mm256_set1_ps(-88.376_26);
        let x = _mm256_max_ps(_mm256_min_ps(x, hi), lo);
        let fx = _mm256_floor_ps(_mm256_fmadd_ps(
            x,
            _mm256_set1_ps(std::f32::consts::LOG2_E),
            _mm256_set1_ps(0.5),
        ));
        let x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693_359_4), x);
        let x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.121_944_4e-4), x);
        let z = _mm256_mul_ps(x, x);
        let mut y = _mm256_set1_ps(1.987_569_1e-4);
        y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.398_2e-3));
        y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.333_452e-3));
        y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.166_579_6e-2));
        y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.666_666_5e-1));
        y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5e-1));
        y = _mm256_fmadd_ps(y, z, x);
        y = _mm256_add_ps(y, _mm256_set1_ps(1.0));
        let n = _mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127));
        let pow2n = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(n));
        _mm256_mul_ps(y, pow2n)
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn exp_sub_each(row: &mut [f32], sub: &[f32]) {
        let n = row.len();
        let mut i = 0;
        while i + 8 <= n {
            let x = _mm256_sub_ps(
                _mm256_loadu_ps(row.as_ptr().add(i)),
                _mm256_loadu_ps(sub.as_ptr().add(i)),
            );
            _mm256_storeu_ps(row.as_mut_ptr().add(i), exp8(x));
            i += 8;
        }
        if i < n {
            let mut buf = [0f32; 8];
            for (b, (x, s)) in buf.iter_mut().zip(row[i..].iter().zip(&sub[i..n])) {
                *b = x - s;
            }
            let mut out = [0f32; 8];
            _mm256_storeu_ps(out.as_mut_ptr(), exp8(_mm256_loadu_ps(buf.as_ptr())));
            row[i..].copy_from_slice(&out[..n - i]);
        }
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn col_max(tile: &[f32], rows: usize, ld: usize, n: usize, out: &mut [f32]) {
        let base = tile.as_ptr();
        for c in (0..n).step_by(8) {
            let mut mx = _mm256_loadu_ps(out.as_ptr().add(c));
            for r in 0..rows {
                mx = _mm256_max_ps(mx, _mm256_loadu_ps(base.add(r * ld + c)));
            }
            _mm256_storeu_ps(out.as_mut_ptr().add(c), mx);
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn exp_sub_cols(
        tile: &mut [f32],
        rows: usize,
        ld: usize,
        n: usize,
        sub: &[f32],
        sum: &mut [f32],
    ) {
        let base = tile.as_mut_ptr();
        for c in (0..n).step_by(8) {
            let s = _mm256_loadu_ps(sub.as_ptr().add(c));
            let mut acc = _mm256_loadu_ps(sum.as_ptr().add(c));
            for r in 0..rows {
                let ptr = base.add(r * ld + c);
                let e = exp8(_mm256_sub_ps(_mm256_loadu_ps(ptr), s));
                _mm256_storeu_ps(ptr, e);
                acc = _mm256_add_ps(acc, e);
            }
            _mm256_storeu_ps(sum.as_mut_ptr().add(c), acc);
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn exp_sub_sum(row: &mut [f32], sub: f32) -> f32 {
        let vs = _mm256_set1_ps(sub);
        let mut acc = _mm256_setzero_ps();
        let mut chunks = row.chunks_exact_mut(8);
        for ch in &mut chunks {
            let e = exp8(_mm256_sub_ps(_mm256_loadu_ps(ch.as_ptr()), vs));
            _mm256_storeu_ps(ch.as_mut_ptr(), e);
            acc = _mm256_add_ps(acc, e);
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let mut buf = [f32::NEG_INFINITY; 8];
            buf[..rest.len()].copy_from_slice(rest);
            let e = exp8(_mm256_sub_ps(_mm256_loadu_ps(buf.as_ptr()), vs));
            _mm256_storeu_ps(buf.as_mut_ptr(), e);
            rest.copy_from_slice(&buf[..rest.len()]);
            acc = _mm256_add_ps(acc, e);
        }
        hsum(acc)
    }

    #[target_feature(enable = "avx2")]
    unsafe fn hsum(v: __m256) -> f32 {
        let mut lanes = [0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), v);
        lanes.iter().sum()
    }

    // The simple loops: LLVM vectorizes them with AVX2 inside these wrappers.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn scale_row(row: &mut [f32], x: f32) {
        super::scale_row_plain(row, x)
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn axpy(dst: &mut [f32], x: f32, src: &[f32]) {
        super::axpy_plain(dst, x, src)
    }
}
