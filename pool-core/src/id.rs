//! Message ids: UUID-shaped strings that carry a slot, a generation and a per-pool nonce.
//!
//! hololinked echoes the request's `messageID` verbatim and correlates by nothing else. We send
//! version-4 UUID text (what hololinked's own clients send, and what its tests assert) whose 122
//! free bits are laid out as `nonce (58) | slot (32) | generation (32)`:
//!
//! * the **slot** makes lookup O(1): no hash map, no search;
//! * the **generation** changes every time a slot is reused, so a late reply for an old request
//!   can never reach the request that now owns the slot (the ABA guard of h2's stream store);
//! * the **nonce** is chosen at random per pool by the caller (the core has no RNG), so ids do not
//!   repeat across pool restarts and a reply meant for another pool is recognised as foreign.

use core::fmt;

/// Length of a message id in bytes (`8-4-4-4-12` hex digits and hyphens).
pub const MESSAGE_ID_LEN: usize = 36;

/// Number of nonce bits that fit beside slot and generation.
const NONCE_BITS: u32 = 58;
const NONCE_MASK: u64 = (1 << NONCE_BITS) - 1;

/// Slot number reserved for HANDSHAKE messages, which own no request slot.
pub(crate) const HANDSHAKE_SLOT: u32 = u32::MAX;

/// The text of a message id, exactly as it goes on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageIdText([u8; MESSAGE_ID_LEN]);

impl MessageIdText {
    /// The id as bytes (ASCII).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; MESSAGE_ID_LEN] {
        &self.0
    }

    /// The id as a string slice.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only lowercase hex digits and hyphens are ever written, which is valid UTF-8; the
        // fallback is unreachable but keeps this function panic-free.
        core::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl fmt::Debug for MessageIdText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for MessageIdText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Encodes and decodes message ids for one pool (one nonce).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdCodec {
    nonce: u64,
}

/// What a decoded message id refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DecodedId {
    pub slot: u32,
    pub generation: u32,
}

impl IdCodec {
    /// A codec for the pool whose random nonce is `nonce` (only the low 58 bits are used).
    #[must_use]
    pub const fn new(nonce: u64) -> Self {
        IdCodec {
            nonce: nonce & NONCE_MASK,
        }
    }

    /// The id text for `(slot, generation)`.
    #[must_use]
    pub fn encode(&self, slot: u32, generation: u32) -> MessageIdText {
        let bits: u128 =
            (u128::from(self.nonce) << 64) | (u128::from(slot) << 32) | u128::from(generation);
        // Spread the 122 bits around the version nibble (4) and the variant bits (0b10).
        let uuid: u128 = ((bits >> 74) << 80)
            | (0x4 << 76)
            | (((bits >> 62) & 0xFFF) << 64)
            | (0b10 << 62)
            | (bits & ((1u128 << 62) - 1));
        let mut out = [b'-'; MESSAGE_ID_LEN];
        // Two hex digits per byte, straight from a table (no 128-bit shift per digit): this runs
        // for every request and every reply.
        let bytes = uuid.to_be_bytes();
        for &(at, from, to) in &GROUPS {
            for (pair, &byte) in out[at..].chunks_exact_mut(2).zip(&bytes[from..to]) {
                pair.copy_from_slice(&HEX_PAIRS[usize::from(byte)]);
            }
        }
        MessageIdText(out)
    }

    /// Reads `(slot, generation)` back from id text, if the text is an id of this pool.
    ///
    /// Anything else (another client's ids, another pool's nonce, not a version-4 UUID, uppercase
    /// or odd length) is `None`.
    #[must_use]
    pub(crate) fn decode(&self, text: &[u8]) -> Option<DecodedId> {
        let text: &[u8; MESSAGE_ID_LEN] = text.try_into().ok()?;
        if GROUPS[1..].iter().any(|&(at, _, _)| text[at - 1] != b'-') {
            return None;
        }
        let mut bytes = [0u8; 16];
        for &(at, from, to) in &GROUPS {
            for (byte, pair) in bytes[from..to].iter_mut().zip(text[at..].chunks_exact(2)) {
                let (high, low) = (
                    HEX_VALUES[usize::from(pair[0])],
                    HEX_VALUES[usize::from(pair[1])],
                );
                if (high | low) > 0xF {
                    return None;
                }
                *byte = (high << 4) | low;
            }
        }
        let uuid = u128::from_be_bytes(bytes);
        if (uuid >> 76) & 0xF != 0x4 || (uuid >> 62) & 0b11 != 0b10 {
            return None;
        }
        let bits: u128 =
            ((uuid >> 80) << 74) | (((uuid >> 64) & 0xFFF) << 62) | (uuid & ((1u128 << 62) - 1));
        if (bits >> 64) as u64 != self.nonce {
            return None;
        }
        Some(DecodedId {
            slot: (bits >> 32) as u32,
            generation: bits as u32,
        })
    }
}

/// The five groups of `8-4-4-4-12`: where each starts in the text, and which bytes of the
/// 16-byte UUID it spells (two digits a byte). A hyphen stands before every group but the first.
const GROUPS: [(usize, usize, usize); 5] =
    [(0, 0, 4), (9, 4, 6), (14, 6, 8), (19, 8, 10), (24, 10, 16)];

/// The two lowercase hex digits of every byte.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut table = [[0u8; 2]; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = [DIGITS[byte >> 4], DIGITS[byte & 0xF]];
        byte += 1;
    }
    table
};

/// The value of every lowercase hex digit; `0xFF` for any other byte (uppercase included: it
/// is not what we write).
const HEX_VALUES: [u8; 256] = {
    let mut table = [0xFFu8; 256];
    let mut digit = 0;
    while digit < 10 {
        table[b'0' as usize + digit] = digit as u8;
        digit += 1;
    }
    let mut letter = 0;
    while letter < 6 {
        table[b'a' as usize + letter] = 10 + letter as u8;
        letter += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_uuid4_shaped() {
        let codec = IdCodec::new(0x0123_4567_89ab_cdef);
        for &(slot, generation) in &[(0, 0), (1, 2), (u32::MAX, u32::MAX), (77, 0xdead_beef)] {
            let text = codec.encode(slot, generation);
            let s = text.as_str();
            assert_eq!(s.len(), 36);
            assert_eq!(&s[14..15], "4", "version nibble in {s}");
            assert!(
                matches!(&s[19..20], "8" | "9" | "a" | "b"),
                "variant in {s}"
            );
            assert_eq!(
                codec.decode(text.as_bytes()),
                Some(DecodedId { slot, generation })
            );
        }
    }

    #[test]
    fn other_pools_and_garbage_are_not_ours() {
        let ours = IdCodec::new(1);
        let theirs = IdCodec::new(2);
        let text = theirs.encode(3, 4);
        assert_eq!(ours.decode(text.as_bytes()), None);
        assert_eq!(ours.decode(b"11111111-2222-4333-8444-555555555555"), None);
        assert_eq!(ours.decode(b"my-id-1"), None);
        assert_eq!(ours.decode(&[0xff; 36]), None);
        // Uppercase hex is not what we write, so it is not ours (variant digit is a-b or 8-9,
        // and the version nibble region always holds letters for this nonce).
        let mut upper = *ours.encode(0xabcd, 0xef01).as_bytes();
        upper.make_ascii_uppercase();
        assert_ne!(&upper, ours.encode(0xabcd, 0xef01).as_bytes());
        assert_eq!(ours.decode(&upper), None);
    }

    #[test]
    fn nonce_is_truncated_to_58_bits() {
        let a = IdCodec::new(u64::MAX);
        let text = a.encode(9, 9);
        assert_eq!(
            a.decode(text.as_bytes()),
            Some(DecodedId {
                slot: 9,
                generation: 9
            })
        );
    }

    /// The table-driven text is exactly the UUID's `{:032x}` digits with hyphens at 8-4-4-4-12,
    /// and decoding refuses any text with one byte changed to a non-digit.
    #[test]
    fn text_matches_plain_hex_formatting() {
        use std::string::String;
        let mut rng = crate::SplitMix64::new(0x2545_f491_4f6c_dd1d);
        for _ in 0..2000 {
            let codec = IdCodec::new(rng.next_u64());
            let (slot, generation) = (rng.next_u64() as u32, rng.next_u64() as u32);
            let text = codec.encode(slot, generation);
            let digits: String = text.as_str().chars().filter(|&c| c != '-').collect();
            let uuid = u128::from_str_radix(&digits, 16).unwrap();
            let plain = std::format!("{uuid:032x}");
            let expected = std::format!(
                "{}-{}-{}-{}-{}",
                &plain[..8],
                &plain[8..12],
                &plain[12..16],
                &plain[16..20],
                &plain[20..]
            );
            assert_eq!(text.as_str(), expected);
            assert_eq!(
                codec.decode(text.as_bytes()),
                Some(DecodedId { slot, generation })
            );
            let pos = rng.below(36) as usize;
            let mut bad = *text.as_bytes();
            bad[pos] = if bad[pos] == b'-' { b'0' } else { b'g' };
            assert_eq!(codec.decode(&bad), None, "{:?}", core::str::from_utf8(&bad));
        }
    }
}
