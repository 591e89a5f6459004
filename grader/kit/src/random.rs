//! Seeded random tensors for property checks. candle's own CPU RNG cannot be
//! seeded, so every draw goes through a seeded `rand` RNG.

use candle_core::{Device, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

use crate::harness::{CheckResult, Worker};

/// The RNG of one named check: the same seed and name give the same draws,
/// and different checks get independent streams.
pub fn rng_for(seed: u64, name: &str) -> StdRng {
    // FNV-1a: stable across platforms and Rust versions, unlike `Hash`.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= byte as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    StdRng::seed_from_u64(seed ^ hash)
}

impl Worker {
    /// Runs a property check of group "properties" with its own RNG, drawn
    /// from the run's seed and the check's name.
    pub fn property(&mut self, name: &str, check: impl FnOnce(&mut StdRng) -> CheckResult) {
        let mut rng = rng_for(self.seed(), name);
        self.check("properties", name, || check(&mut rng));
    }
}

/// Standard normal f32 values.
pub fn randn(rng: &mut impl Rng, shape: &[usize]) -> Tensor {
    let count = shape.iter().product();
    let data: Vec<f32> = (0..count).map(|_| rng.sample(StandardNormal)).collect();
    Tensor::from_vec(data, shape, &Device::Cpu).expect("shape matches the data")
}

/// Uniform f32 values in [low, high).
pub fn uniform(rng: &mut impl Rng, shape: &[usize], low: f32, high: f32) -> Tensor {
    let count = shape.iter().product();
    let data: Vec<f32> = (0..count).map(|_| rng.random_range(low..high)).collect();
    Tensor::from_vec(data, shape, &Device::Cpu).expect("shape matches the data")
}

/// A u8 mask with each entry 1 with probability `p`.
pub fn bernoulli_mask(rng: &mut impl Rng, shape: &[usize], p: f64) -> Tensor {
    let count = shape.iter().product();
    let data: Vec<u8> = (0..count).map(|_| rng.random_bool(p) as u8).collect();
    Tensor::from_vec(data, shape, &Device::Cpu).expect("shape matches the data")
}

/// A random permutation of 0..n.
pub fn permutation(rng: &mut impl Rng, n: usize) -> Vec<u32> {
    use rand::seq::SliceRandom;
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.shuffle(rng);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_and_name_repeat_and_names_differ() {
        let a = randn(&mut rng_for(3, "x"), &[4]).to_vec1::<f32>().unwrap();
        let b = randn(&mut rng_for(3, "x"), &[4]).to_vec1::<f32>().unwrap();
        let c = randn(&mut rng_for(3, "y"), &[4]).to_vec1::<f32>().unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn a_permutation_holds_every_index_once() {
        let mut order = permutation(&mut rng_for(1, "p"), 10);
        order.sort();
        assert_eq!(order, (0..10).collect::<Vec<u32>>());
    }
}
