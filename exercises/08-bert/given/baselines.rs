//! The two baselines a trained classifier must beat, both measured on the
//! same split (all given: nothing to write here).
//!
//! - **Majority class**: always answer the class most frequent in training.
//! - **Bag of words**: logistic regression on which lower-cased words occur
//!   in the sentence, ignoring their order. It cannot see that "not" applies
//!   to "good" in "not good": that is what attention adds.
//!
//! Plain Rust, no candle: full-batch gradient descent with L2, a fixed
//! number of steps, deterministic.

use std::collections::BTreeMap;

use crate::Example;

/// The lower-cased words of a sentence: runs of letters, digits and `'`. (given)
pub fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Accuracy on `test` of always predicting the most frequent class of
/// `train` (ties: the smaller class). (given)
pub fn majority_accuracy(train: &[Example], test: &[Example]) -> f64 {
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    for e in train {
        *counts.entry(e.label).or_default() += 1;
    }
    let majority = counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map_or(0, |(&label, _)| label);
    let right = test.iter().filter(|e| e.label == majority).count();
    right as f64 / test.len().max(1) as f64
}

/// Accuracy on `test` of a binary bag-of-words logistic regression trained
/// on `train` (labels 0 and 1): features are the presence of each training
/// word, 300 full-batch gradient steps of size 1.0 with L2 1e-3. (given)
pub fn bag_of_words_accuracy(train: &[Example], test: &[Example]) -> f64 {
    let mut vocabulary: BTreeMap<String, usize> = BTreeMap::new();
    for e in train {
        for w in words(&e.text) {
            let next = vocabulary.len();
            vocabulary.entry(w).or_insert(next);
        }
    }
    let features = |text: &str| -> Vec<usize> {
        let mut f: Vec<usize> = words(text)
            .iter()
            .filter_map(|w| vocabulary.get(w).copied())
            .collect();
        f.sort_unstable();
        f.dedup();
        f
    };
    let train_x: Vec<Vec<usize>> = train.iter().map(|e| features(&e.text)).collect();
    let (mut weights, mut bias) = (vec![0.0f64; vocabulary.len()], 0.0f64);
    let (steps, rate, l2) = (300, 1.0, 1e-3);
    let n = train.len().max(1) as f64;
    for _ in 0..steps {
        let mut grad = vec![0.0f64; weights.len()];
        let mut grad_bias = 0.0;
        for (x, e) in train_x.iter().zip(train) {
            let z = bias + x.iter().map(|&i| weights[i]).sum::<f64>();
            let error = 1.0 / (1.0 + (-z).exp()) - (e.label == 1) as u8 as f64;
            for &i in x {
                grad[i] += error;
            }
            grad_bias += error;
        }
        for (w, g) in weights.iter_mut().zip(&grad) {
            *w -= rate * (g / n + l2 * *w);
        }
        bias -= rate * grad_bias / n;
    }
    let right = test
        .iter()
        .filter(|e| {
            let z = bias + features(&e.text).iter().map(|&i| weights[i]).sum::<f64>();
            (z > 0.0) as usize == e.label
        })
        .count();
    right as f64 / test.len().max(1) as f64
}
