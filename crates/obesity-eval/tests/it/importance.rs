//! Permutation importance finds the one informative feature, deterministically.

use obesity_eval::{EvalError, Scorer, importance_table, permutation_importance};
use obesity_forest::ModelStrategy;

use crate::support::{NearestCentroid, synthetic};

#[test]
fn permutation_importance_finds_the_informative_feature() {
    let train = synthetic(300, 5, 1);
    let test = synthetic(150, 5, 2);
    let model = NearestCentroid {
        offset: 0,
        n_used: 5,
    }
    .fit(train.x.view(), train.y.view(), 3)
    .unwrap();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                permutation_importance(
                    model.as_ref(),
                    test.x.view(),
                    test.y.view(),
                    Scorer::Accuracy,
                    5,
                    42,
                )
                .unwrap()
            })
    };
    let pi = run(2);
    assert_eq!(pi, run(1), "same seed, any thread count");
    assert_eq!(pi.importances.len(), 5);
    assert!(pi.importances.iter().all(|r| r.len() == 5));
    assert!(pi.importances_mean[0] > 0.2, "{:?}", pi.importances_mean);
    for j in 1..5 {
        assert!(
            pi.importances_mean[j] < pi.importances_mean[0] / 3.0,
            "feature {j}: {:?}",
            pi.importances_mean
        );
    }
    // mean/std are those of the stored repeats
    let r0 = &pi.importances[0];
    let m = r0.iter().sum::<f64>() / 5.0;
    assert!((pi.importances_mean[0] - m).abs() < 1e-12);
    let table = importance_table(model.as_ref(), &pi, &train.feature_names).unwrap();
    assert_eq!(table[0].feature, "f0");
    assert_eq!(table[0].impurity, Some(1.0));
    assert!(matches!(
        importance_table(model.as_ref(), &pi, &train.feature_names[..2]),
        Err(EvalError::LengthMismatch { .. })
    ));
}

#[test]
fn permutation_importance_rejects_bad_input() {
    let d = synthetic(30, 3, 1);
    let model = NearestCentroid {
        offset: 0,
        n_used: 1,
    }
    .fit(d.x.view(), d.y.view(), 3)
    .unwrap();
    assert!(matches!(
        permutation_importance(
            model.as_ref(),
            d.x.view(),
            d.y.view(),
            Scorer::Accuracy,
            0,
            1
        ),
        Err(EvalError::InvalidValue {
            what: "n_repeats",
            ..
        })
    ));
    let short =
        d.y.slice_axis(ndarray::Axis(0), ndarray::Slice::from(0..10));
    assert!(matches!(
        permutation_importance(model.as_ref(), d.x.view(), short, Scorer::Accuracy, 2, 1),
        Err(EvalError::LengthMismatch { .. })
    ));
    let narrow = d.x.slice_axis(ndarray::Axis(1), ndarray::Slice::from(0..2));
    assert!(matches!(
        permutation_importance(model.as_ref(), narrow, d.y.view(), Scorer::Accuracy, 2, 1),
        Err(EvalError::Model(_))
    ));
}
