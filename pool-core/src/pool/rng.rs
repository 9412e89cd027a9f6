//! The pool's one source of randomness: a splitmix64 stream seeded from the pool's nonce, used
//! to jitter reconnect delays. The core never reads a clock or an OS RNG; the adapter supplies
//! the nonce (a fresh random value per pool), and everything else follows from it.
//!
//! Invariants:
//! * each draw moves the state forward by one fixed odd constant, so every seed (zero included)
//!   gives a sequence of period 2^64 and no seed is degenerate;
//! * the output is a bijection of the state, so pools with different seeds start from different
//!   values;
//! * draws are a pure function of (seed, number of draws): a run replays exactly, and nothing
//!   else (no time, no address, no global) goes in.

/// splitmix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Rng {
    state: u64,
}

/// Weyl-sequence increment: 2^64 divided by the golden ratio, made odd.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

impl Rng {
    /// A stream seeded with `seed`.
    pub const fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `low..=high` (`low` if `high < low`), uniform up to a bias below
    /// `(high - low + 1) / 2^64` (Lemire's multiply-shift, no division, no rejection loop).
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        let bits = self.next_u64();
        let Some(span) = high.checked_sub(low) else {
            return low;
        };
        match span.checked_add(1) {
            Some(count) => low + ((u128::from(bits) * u128::from(count)) >> 64) as u64,
            None => bits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The splitmix64 outputs for seed 1234567 that Rosetta Code's splitmix64 task lists.
    #[test]
    fn matches_the_reference_sequence() {
        let mut rng = Rng::new(1_234_567);
        let first: [u64; 3] = core::array::from_fn(|_| rng.next_u64());
        assert_eq!(
            first,
            [
                6_457_827_717_110_365_317,
                3_203_168_211_198_807_973,
                9_817_491_932_198_370_423
            ]
        );
    }

    #[test]
    fn between_stays_in_range_and_reaches_both_ends() {
        let mut rng = Rng::new(0);
        let (mut saw_low, mut saw_high) = (false, false);
        for _ in 0..10_000 {
            let x = rng.between(10, 13);
            assert!((10..=13).contains(&x), "{x}");
            saw_low |= x == 10;
            saw_high |= x == 13;
        }
        assert!(saw_low && saw_high);
        assert_eq!(rng.between(7, 7), 7);
        assert_eq!(rng.between(9, 3), 9, "an empty range gives its low end");
        let _any = rng.between(0, u64::MAX);
    }

    #[test]
    fn different_seeds_give_different_streams() {
        let (mut a, mut b) = (Rng::new(1), Rng::new(2));
        assert!((0..8).any(|_| a.next_u64() != b.next_u64()));
        assert_eq!(Rng::new(5).next_u64(), Rng::new(5).next_u64());
    }
}
