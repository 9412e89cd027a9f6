//! [`SplitMix64`], the crate's one seeded pseudorandom stream. The core draws its reconnect
//! jitter from it (seeded from the pool's nonce); tests and simulations draw their inputs from
//! it, so a failing seed replays exactly everywhere. The core never reads a clock or an OS RNG:
//! the adapter supplies the nonce (a fresh random value per pool), and everything else follows
//! from it.
//!
//! Invariants:
//! * each draw moves the state forward by one fixed odd constant, so every seed (zero included)
//!   gives a sequence of period 2^64 and no seed is degenerate;
//! * the output is a bijection of the state, so streams with different seeds start from
//!   different values;
//! * every method except [`SplitMix64::new`] takes exactly one 64-bit draw, whatever its
//!   arguments (an empty range included), so how far a stream has moved is the number of calls;
//! * draws are a pure function of (seed, number of draws): a run replays exactly, and nothing
//!   else (no time, no address, no global) goes in;
//! * `no_std`, no allocation: the whole state is one `u64`.

/// splitmix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014),
/// a small seeded pseudorandom stream: fast, reproducible, **not** cryptographic.
///
/// Integer draws in a range ([`below`](Self::below), [`range`](Self::range)) use Lemire's
/// multiply-shift (no division, no rejection loop): uniform up to a bias below `n / 2^64` for
/// `n` possible values, the same bound as `next_u64() % n`, negligible for any `n` a test or a
/// backoff needs.
///
/// `Clone` but not `Copy`, so a stream is never duplicated by accident; [`Default`] is seed 0.
///
/// ```
/// use pool_core::SplitMix64;
///
/// let mut rng = SplitMix64::new(7);
/// let delay_ms = rng.range(50, 100);
/// assert!((50..=100).contains(&delay_ms));
/// assert!(rng.below(4) < 4);
/// let _lossy: bool = rng.chance(0.05);
/// // The same seed replays the same stream.
/// assert_eq!(SplitMix64::new(7).range(50, 100), delay_ms);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

/// Weyl-sequence increment: 2^64 divided by the golden ratio, made odd.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

impl SplitMix64 {
    /// A stream seeded with `seed` (any value, zero included).
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits. Every other draw is made from exactly one of these.
    #[must_use = "a draw advances the stream; use the value (or `let _ =` to skip one)"]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`0` if `n == 0`), by multiply-shift: uniform up to a bias below
    /// `n / 2^64` (see the type's documentation).
    #[must_use = "a draw advances the stream; use the value (or `let _ =` to skip one)"]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A value in `lo..=hi`, both ends included (`lo` if `hi < lo`): `lo + below(hi - lo + 1)`,
    /// and the full 64 bits for `range(0, u64::MAX)`.
    #[must_use = "a draw advances the stream; use the value (or `let _ =` to skip one)"]
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        match hi.checked_sub(lo) {
            None => {
                let _ = self.next_u64();
                lo
            }
            Some(u64::MAX) => self.next_u64(),
            Some(span) => lo + self.below(span + 1),
        }
    }

    /// A value in `[0, 1)`: the top 53 bits as a multiple of 2^-53 (every value exact).
    #[must_use = "a draw advances the stream; use the value (or `let _ =` to skip one)"]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `true` with probability `p` (`next_f64() < p`): never for `p <= 0`, always for `p >= 1`.
    #[must_use = "a draw advances the stream; use the value (or `let _ =` to skip one)"]
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// A fair coin: `true` iff the draw's top bit is clear.
    #[must_use = "a draw advances the stream; use the value (or `let _ =` to skip one)"]
    pub fn coin(&mut self) -> bool {
        self.next_u64() >> 63 == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The splitmix64 outputs for seed 1234567 that Rosetta Code's splitmix64 task lists.
    #[test]
    fn matches_the_reference_sequence() {
        let mut rng = SplitMix64::new(1_234_567);
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

    /// The reconnect jitter's draws (`range` over a backoff in µs) as the core made them before
    /// the stream became public: a pool's jitter for a given nonce never changes.
    #[test]
    fn range_keeps_the_jitter_sequence() {
        let mut rng = SplitMix64::new(42);
        let draws: [u64; 4] = core::array::from_fn(|_| rng.range(500_000, 1_000_000));
        assert_eq!(draws, [870_783, 579_955, 639_300, 672_095]);
    }

    #[test]
    fn range_stays_in_range_and_reaches_both_ends() {
        let mut rng = SplitMix64::new(0);
        let (mut saw_low, mut saw_high) = (false, false);
        for _ in 0..10_000 {
            let x = rng.range(10, 13);
            assert!((10..=13).contains(&x), "{x}");
            saw_low |= x == 10;
            saw_high |= x == 13;
        }
        assert!(saw_low && saw_high);
        assert_eq!(rng.range(7, 7), 7);
        assert_eq!(rng.range(9, 3), 9, "an empty range gives its low end");
        let _any = rng.range(0, u64::MAX);
    }

    #[test]
    fn below_stays_below_and_reaches_every_value() {
        let mut rng = SplitMix64::new(3);
        let mut seen = [false; 5];
        for _ in 0..10_000 {
            let x = rng.below(5);
            assert!(x < 5, "{x}");
            seen[x as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(rng.below(0), 0);
        assert_eq!(rng.below(1), 0);
    }

    #[test]
    fn every_draw_takes_exactly_one_step() {
        let mut a = SplitMix64::new(9);
        let mut b = SplitMix64::new(9);
        let _ = a.below(0);
        let _ = a.range(5, 1);
        let _ = a.range(0, u64::MAX);
        let _ = a.next_f64();
        let _ = a.chance(0.5);
        let _ = a.coin();
        for _ in 0..6 {
            let _ = b.next_u64();
        }
        assert_eq!(a, b);
    }

    #[test]
    fn floats_and_coins() {
        let mut rng = SplitMix64::new(11);
        let (mut heads, mut hits) = (0, 0);
        for _ in 0..10_000 {
            let x = rng.next_f64();
            assert!((0.0..1.0).contains(&x), "{x}");
            heads += usize::from(rng.coin());
            hits += usize::from(rng.chance(0.25));
        }
        assert!((4_500..5_500).contains(&heads), "{heads} heads");
        assert!((2_000..3_000).contains(&hits), "{hits} hits");
        assert!(!rng.chance(0.0));
        assert!(rng.chance(1.0));
    }

    #[test]
    fn different_seeds_give_different_streams() {
        let (mut a, mut b) = (SplitMix64::new(1), SplitMix64::new(2));
        assert!((0..8).any(|_| a.next_u64() != b.next_u64()));
        assert_eq!(SplitMix64::new(5).next_u64(), SplitMix64::new(5).next_u64());
    }
}
