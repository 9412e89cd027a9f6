//! Figures over repetitions, and how reported figures are rounded.

/// The median of `v` (the mean of the middle two for an even count); 0 when empty.
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The median of `f` over `v`.
pub fn med<T>(v: &[T], f: impl Fn(&T) -> f64) -> f64 {
    median(v.iter().map(f).collect())
}

/// `x` rounded to `decimals` places, so reports stay short.
pub fn round(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

/// Each of `v` rounded to `decimals` places.
pub fn rounded(v: impl IntoIterator<Item = f64>, decimals: i32) -> Vec<f64> {
    v.into_iter().map(|x| round(x, decimals)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_rounding() {
        assert_eq!(median(vec![]), 0.0);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(med(&[(1, 9.0), (2, 7.0), (3, 8.0)], |p| p.1), 8.0);
        assert_eq!(round(1.23456, 2), 1.23);
        assert_eq!(rounded([1.26, 2.0], 1), vec![1.3, 2.0]);
    }
}
