//! The hostile replies' randomness: a splitmix64 stream seeded from [`crate::HostileConfig`]'s
//! `seed`.
//!
//! Invariants:
//! * draws are a pure function of (seed, number of draws), so a given request sequence gives the
//!   same bad messages every run;
//! * the API is exactly the part of `pool_core::SplitMix64` (`new`, `next_u64`, `next_f64`,
//!   `coin`) the testkit uses, so that this file can give way to a `use pool_core::SplitMix64`
//!   (in `hostile.rs`) once the core makes its generator public; `next_u64` is the reference
//!   splitmix64, and the switch keeps every seed's bad messages only if the core's `next_f64`
//!   takes the top 53 bits of one draw and its `coin` the top bit, as these do.

/// splitmix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014).
pub(super) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A stream seeded with `seed`.
    pub(super) fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub(super) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`: the top 53 bits of one draw.
    pub(super) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A fair coin: the top bit of one draw is clear.
    pub(super) fn coin(&mut self) -> bool {
        self.next_u64() >> 63 == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The splitmix64 outputs for seed 1234567 that Rosetta Code's splitmix64 task lists (as
    /// pool-core's generator is tested).
    #[test]
    fn matches_the_reference_sequence() {
        let mut rng = SplitMix64::new(1_234_567);
        let first: [u64; 3] = std::array::from_fn(|_| rng.next_u64());
        assert_eq!(
            first,
            [
                6_457_827_717_110_365_317,
                3_203_168_211_198_807_973,
                9_817_491_932_198_370_423
            ]
        );
    }
}
