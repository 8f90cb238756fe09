//! Small statistics the A/B analysis needs beyond obesity-eval's tests.

/// Sample standard deviation (`n − 1`), `None` below two values.
pub(crate) fn sample_std(v: &[f64]) -> Option<f64> {
    if v.len() < 2 {
        return None;
    }
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    Some((v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)).sqrt())
}
