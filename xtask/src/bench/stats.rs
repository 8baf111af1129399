//! Summary statistics of a variant's samples: median, min, max and sample standard
//! deviation. Pure.

/// The summary of a non-empty list of values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Sample standard deviation (divisor n - 1); `None` with fewer than two values.
    pub sd: Option<f64>,
}

/// Summarizes `xs`; `None` when it is empty. NaN never comes out of the bench's
/// measurements; if one did, `total_cmp` sorts it last instead of panicking.
pub fn summarize(xs: &[f64]) -> Option<Summary> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    let mean = v.iter().sum::<f64>() / n as f64;
    let sd = (n >= 2).then(|| {
        let ss: f64 = v.iter().map(|x| (x - mean) * (x - mean)).sum();
        (ss / (n - 1) as f64).sqrt()
    });
    Some(Summary {
        n,
        median,
        min: v[0],
        max: v[n - 1],
        sd,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_and_even_counts() {
        let s = summarize(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.n, s.median, s.min, s.max), (3, 2.0, 1.0, 3.0));
        assert!((s.sd.unwrap() - 1.0).abs() < 1e-12);
        let s = summarize(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(s.median, 2.5);
        // Sample variance of 1..4 is 5/3.
        assert!((s.sd.unwrap() - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn one_value_has_no_spread_and_none_has_no_summary() {
        let s = summarize(&[7.5]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.sd), (7.5, 7.5, 7.5, None));
        assert_eq!(summarize(&[]), None);
    }
}
