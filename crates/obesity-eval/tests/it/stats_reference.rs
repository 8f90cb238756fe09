//! McNemar, Welch, Fisher, Wilson and Newcombe against the reference implementations
//! themselves (statsmodels and scipy, through scripts/stats_reference.py, whose output is
//! tests/data/stats_reference.json), plus regression tests for the disagreements found by
//! the fuzzing campaign (issue 12, item 9).

use obesity_eval::{
    Alternative, EvalError, McNemarMethod, fisher_exact, mcnemar_from_counts, newcombe_interval,
    welch_t_test, wilson_interval,
};
use serde_json::Value;

use crate::common::{assert_close, load_json, num, nums};

/// Relative-or-absolute closeness: p-values span many orders of magnitude.
#[track_caller]
fn assert_rel(got: f64, want: f64, what: &str) {
    if want.is_nan() || want.is_infinite() {
        assert!(
            got.is_nan() && want.is_nan() || got == want,
            "{what}: got {got}, want {want}"
        );
        return;
    }
    let tol = 1e-12 + 1e-9 * want.abs();
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, want {want} (diff {:e})",
        (got - want).abs()
    );
}

fn cases(name: &str) -> Vec<Value> {
    let data = load_json("stats_reference.json");
    let list = data[name].as_array().cloned().unwrap_or_default();
    assert!(
        !list.is_empty(),
        "no `{name}` cases in stats_reference.json"
    );
    list
}

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("`{key}` is not a count in {v}"))
}

#[test]
fn mcnemar_matches_statsmodels() {
    let list = cases("mcnemar");
    for case in &list {
        let (b, c) = (u(case, "b"), u(case, "c"));
        let method = match (case["exact"].as_bool(), case["correction"].as_bool()) {
            (Some(true), _) => McNemarMethod::Exact,
            (_, Some(true)) => McNemarMethod::ChiSquareCorrected,
            _ => McNemarMethod::ChiSquare,
        };
        let r = mcnemar_from_counts(b, c, method);
        let what = format!("mcnemar b={b} c={c} {method:?}");
        assert_rel(r.statistic, num(&case["statistic"]), &what);
        assert_rel(r.p_value, num(&case["p_value"]), &what);
    }
    assert_eq!(list.len(), 16);
}

/// Issue 12 item 9: `|b − c| − 1` was clamped at 0, so b = c gave statistic 0 and p = 1,
/// where statsmodels' `mcnemar([[·, 5], [5, ·]], exact=False, correction=True)` gives 0.1 and
/// p = 0.7518.
#[test]
fn mcnemar_corrected_clamped_b_equals_c_to_zero() {
    let r = mcnemar_from_counts(5, 5, McNemarMethod::ChiSquareCorrected);
    assert_close(r.statistic, 0.1, 1e-15, "statistic");
    assert_close(r.p_value, 0.751_829_634_045_849_2, 1e-12, "p");
    // Large equal counts take the corrected form automatically.
    let r = mcnemar_from_counts(30, 30, McNemarMethod::Auto);
    assert_eq!(r.method, McNemarMethod::ChiSquareCorrected);
    assert_close(r.statistic, 1.0 / 60.0, 1e-15, "statistic 30/30");
    assert!(r.p_value < 1.0);
    // No discordant pair: nothing to test, in every form (statsmodels divides by zero).
    for m in [
        McNemarMethod::ChiSquareCorrected,
        McNemarMethod::ChiSquare,
        McNemarMethod::Exact,
    ] {
        let r = mcnemar_from_counts(0, 0, m);
        assert_eq!((r.statistic, r.p_value), (0.0, 1.0), "{m:?}");
    }
}

#[test]
fn welch_matches_scipy_including_constant_samples() {
    let list = cases("welch");
    for case in &list {
        let (a, b) = (nums(&case["a"]), nums(&case["b"]));
        let level = num(&case["level"]);
        let r = welch_t_test(&a, &b, level).unwrap_or_else(|e| panic!("{e}"));
        let what = format!("welch a={a:?} b={b:?} level={level}");
        assert_rel(r.statistic, num(&case["statistic"]), &what);
        assert_rel(r.p_value, num(&case["p_value"]), &what);
        assert_rel(r.df, num(&case["df"]), &what);
        assert_rel(r.ci_low, num(&case["ci_low"]), &what);
        assert_rel(r.ci_high, num(&case["ci_high"]), &what);
    }
    assert_eq!(list.len(), 14);
}

/// Issue 12 item 9: two constant, equal samples reported t = 0, p = 1 and df = 14 (n_a + n_b
/// − 2); scipy's `ttest_ind([1]*8, [1]*8, equal_var=False)` gives NaN for both and df 1 (its
/// placeholder for the 0/0 Welch–Satterthwaite formula).
#[test]
fn welch_constant_equal_samples_reported_df_14() {
    let r = welch_t_test(&[1.0; 8], &[1.0; 8], 0.95).unwrap_or_else(|e| panic!("{e}"));
    assert!(r.statistic.is_nan(), "{r:?}");
    assert!(r.p_value.is_nan(), "{r:?}");
    assert_eq!(r.df, 1.0, "{r:?}");
    assert_eq!((r.ci_low, r.ci_high, r.difference), (0.0, 0.0, 0.0));
    // NaN survives a JSON round trip (serde_json would write null and fail to read it).
    let text = serde_json::to_string(&r).unwrap_or_default();
    let back: obesity_eval::WelchResult =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert!(back.statistic.is_nan() && back.p_value.is_nan() && back.df == 1.0);
    // Constant and different: ±∞, p = 0, as scipy.
    let r = welch_t_test(&[1.0; 8], &[2.0; 8], 0.95).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (r.statistic, r.p_value, r.df),
        (f64::NEG_INFINITY, 0.0, 1.0)
    );
    let text = serde_json::to_string(&r).unwrap_or_default();
    let back: obesity_eval::WelchResult =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(back, r);
}

#[test]
fn fisher_exact_matches_scipy_for_every_alternative() {
    let list = cases("fisher");
    let mut checked = 0;
    for case in &list {
        let t: Vec<Vec<u64>> = case["table"]
            .as_array()
            .and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        r.as_array()
                            .map(|c| c.iter().filter_map(Value::as_u64).collect())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let table = [[t[0][0], t[0][1]], [t[1][0], t[1][1]]];
        for (key, alt) in [
            ("two-sided", Alternative::TwoSided),
            ("less", Alternative::Less),
            ("greater", Alternative::Greater),
        ] {
            let r = fisher_exact(table, alt).unwrap_or_else(|e| panic!("{e}"));
            let what = format!("fisher {table:?} {key}");
            assert_rel(r.p_value, num(&case[key]), &what);
            assert_rel(r.odds_ratio, num(&case["odds_ratio"]), &what);
            assert_eq!(r.alternative, alt);
            checked += 1;
        }
    }
    assert_eq!(checked, 120);
}

#[test]
fn fisher_exact_properties_and_bad_input() {
    // One-sided p-values of the same table overlap in exactly the observed table.
    let less = fisher_exact([[3, 9], [7, 4]], Alternative::Less).map(|r| r.p_value);
    let greater = fisher_exact([[3, 9], [7, 4]], Alternative::Greater).map(|r| r.p_value);
    let two = fisher_exact([[3, 9], [7, 4]], Alternative::TwoSided).map(|r| r.p_value);
    let (less, greater, two) = (
        less.unwrap_or(f64::NAN),
        greater.unwrap_or(f64::NAN),
        two.unwrap_or(f64::NAN),
    );
    assert!(less + greater > 1.0 && two <= 1.0 && two >= less.min(greater));
    // A huge table neither hangs nor allocates its support.
    let big = fisher_exact(
        [
            [1_000_000_000, 1_000_000_000],
            [1_000_000_000, 1_000_100_000],
        ],
        Alternative::TwoSided,
    );
    assert!(big.is_ok_and(|r| (0.0..=1.0).contains(&r.p_value)));
    assert!(matches!(
        fisher_exact([[u64::MAX, 1], [0, 0]], Alternative::TwoSided),
        Err(EvalError::InvalidValue { what: "table", .. })
    ));
    // The odds ratio survives JSON even when infinite or NaN.
    for t in [[[5, 0], [0, 5]], [[0, 0], [1, 2]]] {
        let r = fisher_exact(t, Alternative::TwoSided).unwrap_or_else(|e| panic!("{e}"));
        let text = serde_json::to_string(&r).unwrap_or_default();
        let back: obesity_eval::FisherResult =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(back.table, t);
        assert!(
            back.odds_ratio == r.odds_ratio || back.odds_ratio.is_nan() && r.odds_ratio.is_nan(),
            "{text}"
        );
    }
}

#[test]
fn wilson_matches_statsmodels() {
    let list = cases("wilson");
    for case in &list {
        let (s, n, level) = (u(case, "successes"), u(case, "n"), num(&case["level"]));
        let ci = wilson_interval(s, n, level).unwrap_or_else(|e| panic!("{e}"));
        let what = format!("wilson {s}/{n} at {level}");
        assert_rel(ci.low, num(&case["low"]), &what);
        assert_rel(ci.high, num(&case["high"]), &what);
        assert!(ci.contains(s as f64 / n as f64), "{what}");
        assert_eq!(ci.level, level);
    }
    assert_eq!(list.len(), 30);
}

#[test]
fn newcombe_matches_statsmodels() {
    let list = cases("newcombe");
    for case in &list {
        let (sa, na, sb, nb) = (u(case, "sa"), u(case, "na"), u(case, "sb"), u(case, "nb"));
        let level = num(&case["level"]);
        let ci = newcombe_interval(sa, na, sb, nb, level).unwrap_or_else(|e| panic!("{e}"));
        let what = format!("newcombe {sa}/{na} - {sb}/{nb} at {level}");
        assert_rel(ci.low, num(&case["low"]), &what);
        assert_rel(ci.high, num(&case["high"]), &what);
        let d = sa as f64 / na as f64 - sb as f64 / nb as f64;
        assert!(ci.contains(d) && ci.low >= -1.0 && ci.high <= 1.0, "{what}");
    }
    assert_eq!(list.len(), 18);
}

#[test]
fn intervals_reject_bad_counts_and_levels() {
    assert!(matches!(
        wilson_interval(1, 0, 0.95),
        Err(EvalError::InvalidValue { what: "n", .. })
    ));
    assert!(matches!(
        wilson_interval(5, 4, 0.95),
        Err(EvalError::InvalidValue { what: "n", .. })
    ));
    for level in [0.0, 1.0, f64::NAN, -0.5] {
        assert!(matches!(
            wilson_interval(1, 2, level),
            Err(EvalError::InvalidValue { what: "level", .. })
        ));
    }
    assert!(matches!(
        newcombe_interval(1, 2, 3, 2, 0.95),
        Err(EvalError::InvalidValue { what: "n_b", .. })
    ));
    assert!(matches!(
        newcombe_interval(1, 0, 1, 2, 0.95),
        Err(EvalError::InvalidValue { what: "n_a", .. })
    ));
}
