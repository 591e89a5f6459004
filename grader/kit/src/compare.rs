//! The one comparison every check uses: torch.isclose's rule, element by
//! element, with the worst element and NaN/Inf counts kept for the report.

use candle_core::{DType, Tensor};

use crate::failure::{CheckResult, Failure};
use crate::manifest::Tolerance;
use crate::protocol::{Mismatch, Rows};

/// torch.isclose(got, expected, atol, rtol, equal_nan=True) for one element:
/// |got − expected| ≤ atol + rtol·|expected|; NaN matches NaN; an infinity
/// matches only the same infinity.
pub fn is_close(got: f64, expected: f64, tol: Tolerance) -> bool {
    if got.is_nan() || expected.is_nan() {
        return got.is_nan() && expected.is_nan();
    }
    if got == expected {
        return true; // also covers equal infinities
    }
    if got.is_infinite() || expected.is_infinite() {
        return false;
    }
    approx::abs_diff_eq!(
        got,
        expected,
        epsilon = tol.atol + tol.rtol * expected.abs()
    )
}

/// Compares a student's tensor with the expected one. `name` says which
/// output it is ("out", "weights").
pub fn compare(name: &str, got: &Tensor, expected: &Tensor, tol: Tolerance) -> CheckResult {
    let got_shape = got.dims().to_vec();
    let expected_shape = expected.dims().to_vec();
    if got_shape != expected_shape {
        return Err(Failure {
            mismatch: Some(Box::new(Mismatch {
                tensor: name.to_string(),
                expected_shape: expected_shape.clone(),
                got_shape: got_shape.clone(),
                mismatched: expected.elem_count(),
                total: expected.elem_count(),
                max_abs_error: f64::NAN,
                max_rel_error: f64::NAN,
                worst_index: vec![],
                expected_at_worst: f64::NAN,
                got_at_worst: f64::NAN,
                got_nan: 0,
                got_inf: 0,
                atol: tol.atol,
                rtol: tol.rtol,
                diagnosis: None,
                rows: None,
            })),
            ..Failure::new(format!(
                "`{name}` has shape {got_shape:?}, expected {expected_shape:?}"
            ))
        });
    }
    let got_values = values(got).map_err(|e| Failure::new(format!("`{name}`: {e}")))?;
    let expected_values = values(expected).map_err(|e| Failure::fixture(e.to_string()))?;
    let stats = Stats::of(&got_values, &expected_values, tol);
    if stats.mismatched == 0 {
        return Ok(());
    }
    let worst = stats.worst;
    let mismatch = Mismatch {
        tensor: name.to_string(),
        expected_shape: expected_shape.clone(),
        got_shape,
        mismatched: stats.mismatched,
        total: expected_values.len(),
        max_abs_error: stats.max_abs,
        max_rel_error: stats.max_rel,
        worst_index: unravel(worst, &expected_shape),
        expected_at_worst: expected_values[worst],
        got_at_worst: got_values[worst],
        got_nan: stats.nan,
        got_inf: stats.inf,
        atol: tol.atol,
        rtol: tol.rtol,
        diagnosis: None,
        rows: name
            .contains("weights")
            .then(|| window(&got_values, &expected_values, &expected_shape, worst))
            .flatten(),
    };
    Err(Failure {
        mismatch: Some(Box::new(mismatch)),
        ..Failure::new(format!(
            "`{name}`: {} of {} values differ beyond atol {:e} + rtol {:e}·|expected|",
            stats.mismatched,
            expected_values.len(),
            tol.atol,
            tol.rtol
        ))
    })
}

/// The rows around element `worst` of a tensor of `shape` (rank 2 or more),
/// in the 2-D slice of its last two dimensions that holds it.
fn window(got: &[f64], expected: &[f64], shape: &[usize], worst: usize) -> Option<Rows> {
    let rank = shape.len();
    if rank < 2 {
        return None;
    }
    let (rows, cols) = (shape[rank - 2], shape[rank - 1]);
    let index = unravel(worst, shape);
    let (row, col) = (index[rank - 2], index[rank - 1]);
    let start =
        |at: usize, len: usize, max: usize| at.saturating_sub(max / 2).min(len.saturating_sub(max));
    let (first_row, first_col) = (
        start(row, rows, Rows::MAX_ROWS),
        start(col, cols, Rows::MAX_COLS),
    );
    let slice_start = worst - row * cols - col;
    let take = |values: &[f64]| {
        (first_row..rows.min(first_row + Rows::MAX_ROWS))
            .map(|r| {
                (first_col..cols.min(first_col + Rows::MAX_COLS))
                    .map(|c| Some(values[slice_start + r * cols + c]).filter(|v| v.is_finite()))
                    .collect()
            })
            .collect()
    };
    Some(Rows {
        slice: index[..rank - 2].to_vec(),
        first_row,
        first_col,
        expected: take(expected),
        got: take(got),
        worst: (row - first_row, col - first_col),
    })
}

/// The values of any tensor as f64, in row-major order.
pub fn values(tensor: &Tensor) -> candle_core::Result<Vec<f64>> {
    tensor.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()
}

struct Stats {
    mismatched: usize,
    max_abs: f64,
    max_rel: f64,
    worst: usize,
    nan: usize,
    inf: usize,
}

impl Stats {
    fn of(got: &[f64], expected: &[f64], tol: Tolerance) -> Stats {
        let mut stats = Stats {
            mismatched: 0,
            max_abs: 0.0,
            max_rel: 0.0,
            worst: 0,
            nan: got.iter().filter(|g| g.is_nan()).count(),
            inf: got.iter().filter(|g| g.is_infinite()).count(),
        };
        let mut worst_excess = f64::NEG_INFINITY;
        for (i, (&g, &e)) in got.iter().zip(expected).enumerate() {
            if is_close(g, e, tol) {
                continue;
            }
            stats.mismatched += 1;
            let abs = (g - e).abs();
            let abs = if abs.is_nan() { f64::INFINITY } else { abs };
            stats.max_abs = stats.max_abs.max(abs);
            if e != 0.0 {
                stats.max_rel = stats.max_rel.max(abs / e.abs());
            }
            let excess = abs - (tol.atol + tol.rtol * e.abs());
            if excess > worst_excess || worst_excess == f64::NEG_INFINITY {
                worst_excess = excess;
                stats.worst = i;
            }
        }
        stats
    }
}

/// The multi-index of a row-major flat index.
fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (axis, &size) in shape.iter().enumerate().rev() {
        if size > 0 {
            index[axis] = flat % size;
            flat /= size;
        }
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_weights_comparison_keeps_the_rows_around_its_worst_element() {
        use candle_core::Device;
        let expected = Tensor::zeros((2, 20, 30), DType::F32, &Device::Cpu).unwrap();
        let mut values = vec![0f32; 2 * 20 * 30];
        values[600 + 15 * 30 + 29] = 0.9; // slice 1, row 15, column 29
        let got = Tensor::from_vec(values, (2, 20, 30), &Device::Cpu).unwrap();
        let tol = Tolerance {
            atol: 1e-5,
            rtol: 1e-4,
        };
        let failure = compare("weights", &got, &expected, tol).unwrap_err();
        let rows = failure.mismatch.unwrap().rows.unwrap();
        assert_eq!(rows.slice, vec![1]);
        assert_eq!(
            (rows.expected.len(), rows.got[0].len()),
            (Rows::MAX_ROWS, Rows::MAX_COLS)
        );
        assert_eq!((rows.first_row, rows.first_col), (8, 6));
        let (r, c) = rows.worst;
        assert_eq!(rows.got[r][c], Some(0.9f32 as f64));
        assert_eq!(rows.expected[r][c], Some(0.0));
        // Other outputs get no picture.
        let failure = compare("out", &got, &expected, tol).unwrap_err();
        assert!(failure.mismatch.unwrap().rows.is_none());
    }
    use candle_core::Device;

    const TOL: Tolerance = Tolerance {
        atol: 1e-5,
        rtol: 1e-4,
    };

    fn t(values: &[f32], shape: &[usize]) -> Tensor {
        Tensor::from_slice(values, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn the_isclose_rule_at_its_edges() {
        assert!(is_close(1.0 + 1.1e-4 - 1e-9, 1.0, TOL)); // within atol + rtol·1
        assert!(!is_close(1.0 + 1.2e-4, 1.0, TOL));
        assert!(is_close(f64::NAN, f64::NAN, TOL));
        assert!(!is_close(f64::NAN, 0.0, TOL));
        assert!(!is_close(0.0, f64::NAN, TOL));
        assert!(is_close(f64::INFINITY, f64::INFINITY, TOL));
        assert!(!is_close(f64::NEG_INFINITY, f64::INFINITY, TOL));
        assert!(!is_close(f64::INFINITY, 1e30, TOL));
        assert!(!is_close(1e30, f64::INFINITY, TOL));
        // The rule is asymmetric, as torch's: the tolerance scales with |expected|.
        assert!(is_close(0.0, 5e-6, TOL));
    }

    #[test]
    fn equal_tensors_pass() {
        compare("out", &t(&[1.0, 2.0], &[2]), &t(&[1.0, 2.0], &[2]), TOL).unwrap();
    }

    #[test]
    fn a_shape_mismatch_names_both_shapes() {
        let failure =
            compare("out", &t(&[1.0; 6], &[3, 2]), &t(&[1.0; 6], &[2, 3]), TOL).unwrap_err();
        assert!(failure.message.contains("[3, 2]"), "{}", failure.message);
        assert!(failure.message.contains("[2, 3]"), "{}", failure.message);
        assert_eq!(failure.mismatch.unwrap().got_shape, vec![3, 2]);
    }

    #[test]
    fn the_worst_element_and_nan_counts_are_reported() {
        let expected = t(&[0.0, 1.0, 2.0, 3.0], &[2, 2]);
        let got = t(&[0.0, 1.5, f32::NAN, 3.0], &[2, 2]);
        let mismatch = compare("w", &got, &expected, TOL)
            .unwrap_err()
            .mismatch
            .unwrap();
        assert_eq!(mismatch.mismatched, 2);
        assert_eq!(mismatch.got_nan, 1);
        // The NaN is infinitely far off, so it is the worst element.
        assert_eq!(mismatch.worst_index, vec![1, 0]);
        assert_eq!(mismatch.expected_at_worst, 2.0);
        assert_eq!(mismatch.max_abs_error, f64::INFINITY);
    }

    #[test]
    fn infinities_count_and_must_match() {
        let expected = t(&[f32::NEG_INFINITY, 1.0], &[2]);
        compare("m", &t(&[f32::NEG_INFINITY, 1.0], &[2]), &expected, TOL).unwrap();
        let mismatch = compare("m", &t(&[f32::INFINITY, 1.0], &[2]), &expected, TOL)
            .unwrap_err()
            .mismatch
            .unwrap();
        assert_eq!(mismatch.got_inf, 1);
        assert_eq!(mismatch.worst_index, vec![0]);
    }

    #[test]
    fn scalars_and_integers_compare() {
        let expected = Tensor::new(&[1u8, 0, 1], &Device::Cpu).unwrap();
        compare(
            "mask",
            &Tensor::new(&[1u8, 0, 1], &Device::Cpu).unwrap(),
            &expected,
            TOL,
        )
        .unwrap();
        assert!(compare(
            "mask",
            &Tensor::new(&[1u8, 1, 1], &Device::Cpu).unwrap(),
            &expected,
            TOL
        )
        .is_err());
    }
}
