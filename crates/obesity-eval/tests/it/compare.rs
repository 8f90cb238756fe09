//! Model-comparison tests against scipy reference values (scripts/sklearn_metrics_vectors.py).

use obesity_eval::{
    EvalError, McNemarMethod, chi_square_2x2, chi_square_contingency, compare_models,
    corrected_resampled_t_test, mcnemar, mcnemar_from_counts, two_proportion_z_test,
    two_proportion_z_test_with_level,
};

use crate::common::{assert_close, load_json, nums};

const TOL: f64 = 1e-9;

#[test]
fn mcnemar_matches_scipy() {
    let data = load_json("compare_reference.json");
    for case in data["mcnemar"].as_array().unwrap() {
        let b = case["b"].as_u64().unwrap();
        let c = case["c"].as_u64().unwrap();
        let exact = case["exact"].as_bool().unwrap();
        let method = if exact {
            McNemarMethod::Exact
        } else {
            McNemarMethod::ChiSquareCorrected
        };
        let r = mcnemar_from_counts(b, c, method);
        let what = format!("mcnemar b={b} c={c} exact={exact}");
        assert_close(r.statistic, case["statistic"].as_f64().unwrap(), TOL, &what);
        assert_close(r.p_value, case["p_value"].as_f64().unwrap(), TOL, &what);
        // The automatic rule picks exact exactly when b + c < 25.
        let auto = mcnemar_from_counts(b, c, McNemarMethod::Auto);
        let want = if b + c < 25 {
            McNemarMethod::Exact
        } else {
            McNemarMethod::ChiSquareCorrected
        };
        assert_eq!(auto.method, want, "{what}");
    }
}

#[test]
fn mcnemar_counts_discordant_pairs_from_predictions() {
    let y = [0, 1, 2, 0, 1, 2, 0, 1];
    let a = [0, 1, 2, 0, 1, 0, 1, 1]; // wrong at 5, 6
    let b = [0, 0, 0, 0, 1, 2, 0, 1]; // wrong at 1, 2
    let r = mcnemar(&y, &a, &b).unwrap();
    assert_eq!((r.a_right_b_wrong, r.a_wrong_b_right), (2, 2));
    assert_eq!(r.method, McNemarMethod::Exact);
    assert_close(r.p_value, 1.0, TOL, "symmetric disagreement");
    let cmp = compare_models(&y, &a, &b).unwrap();
    assert_close(cmp.accuracy_a, 0.75, TOL, "accuracy a");
    assert_close(cmp.accuracy_b, 0.75, TOL, "accuracy b");
    // No discordant pair at all.
    let same = mcnemar(&y, &a, &a).unwrap();
    assert_eq!((same.statistic, same.p_value), (0.0, 1.0));
}

#[test]
fn mcnemar_rejects_bad_input() {
    assert!(matches!(
        mcnemar(&[0, 1], &[0], &[0, 1]),
        Err(EvalError::LengthMismatch {
            right: "pred_a",
            ..
        })
    ));
    assert!(matches!(
        mcnemar(&[], &[], &[]),
        Err(EvalError::EmptyInput { .. })
    ));
}

#[test]
fn nadeau_bengio_matches_scipy() {
    let data = load_json("compare_reference.json");
    for case in data["nadeau_bengio"].as_array().unwrap() {
        let a = nums(&case["a"]);
        let b = nums(&case["b"]);
        let n_train = case["n_train"].as_u64().unwrap() as usize;
        let n_test = case["n_test"].as_u64().unwrap() as usize;
        let r = corrected_resampled_t_test(&a, &b, n_train, n_test).unwrap();
        assert_close(r.statistic, case["statistic"].as_f64().unwrap(), TOL, "t");
        assert_close(r.p_value, case["p_value"].as_f64().unwrap(), TOL, "p");
        assert_close(r.df, case["df"].as_f64().unwrap(), 0.0, "df");
        assert_close(
            r.mean_difference,
            case["mean_difference"].as_f64().unwrap(),
            TOL,
            "mean",
        );
    }
}

#[test]
fn nadeau_bengio_is_more_conservative_than_the_plain_t_test() {
    // Same differences; the correction can only shrink |t|.
    let a = [0.81, 0.79, 0.84, 0.80, 0.83];
    let b = [0.78, 0.77, 0.80, 0.79, 0.80];
    let corrected = corrected_resampled_t_test(&a, &b, 1688, 423).unwrap();
    // n_test/n_train -> 0 is the plain paired t-test.
    let plain = corrected_resampled_t_test(&a, &b, usize::MAX, 1).unwrap();
    assert!(corrected.statistic.abs() < plain.statistic.abs());
    assert!(corrected.p_value > plain.p_value);
}

#[test]
fn nadeau_bengio_degenerate_and_bad_input() {
    let r = corrected_resampled_t_test(&[0.8, 0.8], &[0.8, 0.8], 10, 2).unwrap();
    assert_eq!((r.statistic, r.p_value), (0.0, 1.0));
    let r = corrected_resampled_t_test(&[0.9, 0.9], &[0.8, 0.8], 10, 2).unwrap();
    assert!(r.statistic.is_infinite() && r.p_value == 0.0);
    assert!(matches!(
        corrected_resampled_t_test(&[0.9], &[0.8], 10, 2),
        Err(EvalError::InvalidValue { .. })
    ));
    assert!(matches!(
        corrected_resampled_t_test(&[0.9, 0.8], &[0.8], 10, 2),
        Err(EvalError::LengthMismatch { .. })
    ));
    assert!(matches!(
        corrected_resampled_t_test(&[0.9, 0.8], &[0.8, 0.7], 0, 2),
        Err(EvalError::InvalidValue { .. })
    ));
    assert!(matches!(
        corrected_resampled_t_test(&[0.9, f64::NAN], &[0.8, 0.7], 10, 2),
        Err(EvalError::InvalidValue { .. })
    ));
}

#[test]
fn two_proportion_matches_scipy() {
    let data = load_json("compare_reference.json");
    for case in data["two_proportion"].as_array().unwrap() {
        let g = |k: &str| case[k].as_u64().unwrap();
        let level = case["level"].as_f64().unwrap();
        let r =
            two_proportion_z_test_with_level(g("sa"), g("na"), g("sb"), g("nb"), level).unwrap();
        for (got, key) in [
            (r.statistic, "statistic"),
            (r.p_value, "p_value"),
            (r.difference, "difference"),
            (r.ci_low, "ci_low"),
            (r.ci_high, "ci_high"),
            (r.cohens_h, "cohens_h"),
        ] {
            assert_close(got, case[key].as_f64().unwrap(), TOL, key);
        }
    }
}

#[test]
fn two_proportion_edge_cases() {
    let r = two_proportion_z_test(0, 10, 0, 20).unwrap();
    assert_eq!((r.statistic, r.p_value, r.difference), (0.0, 1.0, 0.0));
    assert_close(r.confidence_level, 0.95, 0.0, "default level");
    assert!(matches!(
        two_proportion_z_test(5, 0, 1, 2),
        Err(EvalError::InvalidValue { what: "n_a", .. })
    ));
    assert!(matches!(
        two_proportion_z_test(1, 2, 5, 4),
        Err(EvalError::InvalidValue { what: "n_b", .. })
    ));
    assert!(matches!(
        two_proportion_z_test_with_level(1, 2, 1, 2, 1.0),
        Err(EvalError::InvalidValue { what: "level", .. })
    ));
}

#[test]
fn chi_square_matches_scipy() {
    let data = load_json("compare_reference.json");
    for case in data["chi_square"].as_array().unwrap() {
        let table: Vec<Vec<u64>> = case["table"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap())
                    .collect()
            })
            .collect();
        let correction = case["correction"].as_bool().unwrap();
        let r = chi_square_contingency(&table, correction).unwrap();
        assert_close(
            r.statistic,
            case["statistic"].as_f64().unwrap(),
            TOL,
            "chi2",
        );
        assert_close(r.p_value, case["p_value"].as_f64().unwrap(), TOL, "p");
        assert_eq!(r.dof as u64, case["dof"].as_u64().unwrap());
        let expected: Vec<f64> = case["expected"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(nums)
            .collect();
        let got: Vec<f64> = r.expected.iter().flatten().copied().collect();
        for (g, w) in got.iter().zip(&expected) {
            assert_close(*g, *w, TOL, "expected count");
        }
        if table.len() == 2 && table[0].len() == 2 && correction {
            let t = [[table[0][0], table[0][1]], [table[1][0], table[1][1]]];
            assert_eq!(chi_square_2x2(t).unwrap(), r);
        }
    }
}

#[test]
fn chi_square_rejects_degenerate_tables() {
    assert!(matches!(
        chi_square_contingency(&[], true),
        Err(EvalError::EmptyInput { .. })
    ));
    assert!(matches!(
        chi_square_contingency(&[vec![1, 2], vec![3]], true),
        Err(EvalError::InvalidValue { .. })
    ));
    assert!(matches!(
        chi_square_2x2([[0, 0], [3, 4]]),
        Err(EvalError::Undefined { .. })
    ));
}

/// Welch's t-test against scipy 1.17: `ttest_ind([1, 2, 3, 4], [2, 4, 6, 8],
/// equal_var=False)` and its `confidence_interval(0.95)`.
#[test]
fn welch_t_test_matches_scipy_and_rejects_bad_samples() {
    let w = obesity_eval::welch_t_test(&[1.0, 2.0, 3.0, 4.0], &[2.0, 4.0, 6.0, 8.0], 0.95)
        .expect("valid samples");
    assert!((w.statistic - -1.7320508075688774).abs() < 1e-12, "{w:?}");
    assert!((w.p_value - 0.15158050484530375).abs() < 1e-9, "{w:?}");
    assert!((w.df - 4.411764705882353).abs() < 1e-9, "{w:?}");
    assert!((w.ci_low - -6.364167215486197).abs() < 1e-9, "{w:?}");
    assert!((w.ci_high - 1.364167215486197).abs() < 1e-9, "{w:?}");
    assert!((w.difference - -2.5).abs() < 1e-12);

    for (a, b, level) in [
        (vec![1.0], vec![1.0, 2.0], 0.95),
        (vec![1.0, 2.0], vec![], 0.95),
        (vec![1.0, f64::NAN], vec![1.0, 2.0], 0.95),
        (vec![1.0, 2.0], vec![1.0, 2.0], 1.0),
    ] {
        let err = obesity_eval::welch_t_test(&a, &b, level).expect_err("bad input");
        assert!(
            matches!(err, obesity_eval::EvalError::InvalidValue { .. }),
            "{err}"
        );
    }
}
