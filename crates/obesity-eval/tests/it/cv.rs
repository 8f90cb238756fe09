//! Cross-validation: summaries, determinism, parallel folds, bad folds, scorer names.

use obesity_eval::{EvalError, ScoreSummary, Scorer, accuracy, cross_validate, stratified_folds};
use obesity_forest::ForestParams;

use crate::common::assert_close;
use crate::support::{NearestCentroid, synthetic};

#[test]
fn summary_matches_hand_computed_t_interval() {
    // scores 0.8, 0.9, 1.0: mean 0.9, population std sqrt(2/3)/10, sample std 0.1,
    // t_{0.975, 2} = 4.302652729911275 (scipy.stats.t.ppf(0.975, 2)).
    let s = ScoreSummary::from_scores(vec![0.8, 0.9, 1.0]);
    assert_close(s.mean, 0.9, 1e-12, "mean");
    assert_close(s.std, (2.0f64 / 3.0).sqrt() / 10.0, 1e-12, "std");
    let half = 4.302652729911275 * 0.1 / 3f64.sqrt();
    assert_close(s.ci95_low, 0.9 - half, 1e-9, "ci low");
    assert_close(s.ci95_high, 0.9 + half, 1e-9, "ci high");
}

#[test]
fn cross_validate_scores_each_fold_like_a_manual_loop() {
    let data = synthetic(150, 4, 7);
    let folds = stratified_folds(&data, 5, 42).unwrap();
    let strategy = NearestCentroid {
        offset: 0,
        n_used: 1,
    };
    let scorers = Scorer::parse_list(&["accuracy", "f1_macro", "neg_log_loss"]).unwrap();
    let cv = cross_validate(&strategy, &data, &folds, &scorers).unwrap();
    assert_eq!(cv.model, "nearest_centroid");
    assert_eq!(cv.fit_time.len(), 5);
    assert_eq!(cv.score_time.len(), 5);
    let acc = cv.get("accuracy").unwrap();
    for (f, (train, test)) in folds.iter().enumerate() {
        let tr = data.select(train);
        let te = data.select(test);
        let model =
            obesity_forest::ModelStrategy::fit(&strategy, tr.x.view(), tr.y.view(), 3).unwrap();
        let pred = model.predict(te.x.view()).unwrap().to_vec();
        let want = accuracy(&te.y.to_vec(), &pred).unwrap();
        assert_close(acc.per_fold[f], want, 1e-12, "fold accuracy");
    }
    assert!(
        acc.mean > 0.8,
        "feature 0 separates the classes: {}",
        acc.mean
    );
    assert!(cv.get("neg_log_loss").unwrap().mean < 0.0);
    assert!(acc.ci95_low <= acc.mean && acc.mean <= acc.ci95_high);
    assert_eq!(cv.train_sizes.iter().sum::<usize>(), 4 * 150);
    assert_eq!(cv.test_sizes.iter().sum::<usize>(), 150);

    // Against a model that only sees noise, on the same folds: clearly better.
    let noise = NearestCentroid {
        offset: 1,
        n_used: 3,
    };
    let cv_noise = cross_validate(&noise, &data, &folds, &scorers).unwrap();
    let t = cv.compare(&cv_noise, "accuracy").unwrap();
    assert!(t.statistic > 0.0 && t.p_value < 0.01, "{t:?}");
    let manual = obesity_eval::corrected_resampled_t_test(
        &acc.per_fold,
        &cv_noise.get("accuracy").unwrap().per_fold,
        120,
        30,
    )
    .unwrap();
    assert_eq!(t, manual);
    assert!(matches!(
        cv.compare(&cv_noise, "recall_macro"),
        Err(EvalError::InvalidValue { .. })
    ));
    let other_folds = stratified_folds(&data, 3, 42).unwrap();
    let cv3 = cross_validate(&strategy, &data, &other_folds, &scorers).unwrap();
    assert!(matches!(
        cv.compare(&cv3, "accuracy"),
        Err(EvalError::InvalidFolds { .. })
    ));
}

#[test]
fn cross_validation_is_deterministic_on_any_thread_count() {
    let data = synthetic(120, 5, 3);
    let folds = stratified_folds(&data, 4, 9).unwrap();
    let forest = ForestParams::builder()
        .n_estimators(15)
        .seed(5)
        .build()
        .unwrap();
    let scorers = [Scorer::default(), Scorer::from_name("roc_auc_ovr").unwrap()];
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| cross_validate(&forest, &data, &folds, &scorers).unwrap())
    };
    let one = run(1);
    let two = run(2);
    let again = run(2);
    assert_eq!(one.scores, two.scores);
    assert_eq!(two.scores, again.scores);
    // Same seed for the folds gives the same folds; another seed gives others.
    assert_eq!(folds, stratified_folds(&data, 4, 9).unwrap());
    assert_ne!(folds, stratified_folds(&data, 4, 10).unwrap());
}

#[test]
fn bad_folds_and_scorers_are_errors() {
    let data = synthetic(30, 2, 1);
    let s = NearestCentroid {
        offset: 0,
        n_used: 1,
    };
    let acc = [Scorer::Accuracy];
    let err = |folds: &[(Vec<usize>, Vec<usize>)]| cross_validate(&s, &data, folds, &acc);
    assert!(matches!(err(&[]), Err(EvalError::InvalidFolds { .. })));
    assert!(matches!(
        err(&[(vec![0, 1], vec![])]),
        Err(EvalError::InvalidFolds { .. })
    ));
    match err(&[(vec![0, 1, 2], vec![3, 99])]) {
        Err(EvalError::InvalidFolds { reason }) => assert!(reason.contains("99"), "{reason}"),
        other => panic!("expected InvalidFolds, got {other:?}"),
    }
    match err(&[(vec![0, 1, 2], vec![2, 3])]) {
        Err(EvalError::InvalidFolds { reason }) => assert!(reason.contains("both"), "{reason}"),
        other => panic!("expected InvalidFolds, got {other:?}"),
    }
    assert!(matches!(
        cross_validate(&s, &data, &[(vec![0, 1, 2], vec![3])], &[]),
        Err(EvalError::EmptyInput { what: "scorers" })
    ));
    assert!(matches!(
        stratified_folds(&data, 20, 0),
        Err(EvalError::Split(_))
    ));
    match Scorer::from_name("f1-macro") {
        Err(EvalError::UnknownScorer { name, valid }) => {
            assert_eq!(name, "f1-macro");
            assert!(valid.contains("f1_macro") && valid.contains("neg_log_loss"));
        }
        other => panic!("expected UnknownScorer, got {other:?}"),
    }
    // Every listed name round-trips.
    for name in Scorer::NAMES {
        assert_eq!(Scorer::from_name(name).unwrap().name(), *name);
    }
    // A model that rejects the width surfaces as a model error.
    let wide = NearestCentroid {
        offset: 5,
        n_used: 1,
    };
    assert!(cross_validate(&wide, &data, &[(vec![0, 1, 2], vec![3])], &acc).is_err());
}
