//! How `Debug` shows a payload: its length and its first bytes, never a whole (possibly huge)
//! buffer.

use std::fmt;

/// Bytes of a payload `Debug` shows before it cuts.
pub(crate) const PREVIEW_LEN: usize = 64;

/// A payload as `Debug` shows it: `64 bytes "{\"a\":1,…"`, cut at [`PREVIEW_LEN`] bytes.
pub(crate) struct Preview<'a>(pub(crate) &'a [u8]);

impl fmt::Debug for Preview<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = &self.0[..self.0.len().min(PREVIEW_LEN)];
        let cut = if shown.len() < self.0.len() {
            "…"
        } else {
            ""
        };
        write!(
            f,
            "{} bytes \"{}{cut}\"",
            self.0.len(),
            shown.escape_ascii()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{Preview, PREVIEW_LEN};

    #[test]
    fn a_short_payload_is_shown_whole_with_its_length() {
        assert_eq!(
            format!("{:?}", Preview(b"{\"a\":1}")),
            r#"7 bytes "{\"a\":1}""#
        );
    }

    #[test]
    fn a_long_payload_is_cut() {
        let big = vec![b'x'; 1 << 20];
        let shown = format!("{:?}", Preview(&big));
        assert!(shown.starts_with("1048576 bytes \"xxx"), "{shown}");
        assert!(shown.ends_with("…\""), "{shown}");
        assert!(shown.len() < PREVIEW_LEN + 32, "{shown}");
    }
}
