//! Grid and random search: ranking, refit, determinism, the forest factory, bad input.

use obesity_eval::{
    Distribution, EvalError, GridSearch, ParamGrid, ParamSet, ParamSpace, ParamValue, RandomSearch,
    Scorer, SearchResults, forest_factory, stratified_folds,
};
use obesity_forest::ForestParams;

use crate::support::{centroid_factory, synthetic};

fn grid() -> ParamGrid {
    ParamGrid::new()
        .add("offset", [0, 1, 2])
        .add("n_used", [1, 2])
}

#[test]
fn grid_order_is_sklearns() {
    let c = grid().candidates().unwrap();
    assert_eq!(c.len(), 6);
    assert_eq!(grid().len(), 6);
    // Names sorted (n_used < offset), last name fastest.
    let shown: Vec<String> = c.iter().map(ToString::to_string).collect();
    assert_eq!(shown[0], "n_used=1, offset=0");
    assert_eq!(shown[1], "n_used=1, offset=1");
    assert_eq!(shown[3], "n_used=2, offset=0");
}

#[test]
fn grid_search_ranks_the_informative_feature_first_and_refits() {
    let data = synthetic(150, 4, 11);
    let folds = stratified_folds(&data, 5, 1).unwrap();
    let out = GridSearch::new(centroid_factory, grid())
        .progress(false)
        .fit(&data, &folds)
        .unwrap();
    let r = &out.results;
    assert_eq!(r.scoring, Scorer::default());
    assert_eq!(r.scoring.name(), "f1_macro");
    assert_eq!(r.n_folds, 5);
    assert_eq!(r.candidates.len(), 6);
    // Only offset 0 sees the informative feature.
    assert_eq!(r.best_params().get("offset"), Some(&ParamValue::Int(0)));
    assert!(r.best_score() > 0.8, "best {}", r.best_score());
    let ranked = r.ranked();
    assert_eq!(ranked[0].rank, 1);
    for c in &r.candidates {
        let offset = c.params.get_usize("offset").unwrap().unwrap();
        if offset != 0 {
            assert!(
                c.score.mean < 0.6,
                "noise-only candidate scored {}",
                c.score.mean
            );
            assert!(c.rank >= 3);
        }
        // rank = 1 + number of strictly better candidates
        let better = r
            .candidates
            .iter()
            .filter(|o| o.score.mean > c.score.mean)
            .count();
        assert_eq!(c.rank, better + 1);
    }
    // Refit: the best strategy trained on all rows predicts like a fresh fit.
    let best = out.best_estimator.as_ref().unwrap();
    let fresh = centroid_factory(r.best_params())
        .unwrap()
        .fit(data.x.view(), data.y.view(), 3)
        .unwrap();
    assert_eq!(
        best.predict_proba(data.x.view()).unwrap(),
        fresh.predict_proba(data.x.view()).unwrap()
    );
    // Table and JSON.
    let table = r.to_string();
    assert!(
        table.contains("6 candidates x 5 folds, scored by f1_macro"),
        "{table}"
    );
    assert!(table.contains("n_used=1, offset=0") || table.contains("n_used=2, offset=0"));
    let json = serde_json::to_string(r).unwrap();
    let back: SearchResults = serde_json::from_str(&json).unwrap();
    assert_eq!(back.candidates.len(), 6);
    assert_eq!(back.best_params(), r.best_params());
    // A hand-edited file cannot point best_index past the candidates.
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["best_index"] = serde_json::json!(99);
    assert!(serde_json::from_value::<SearchResults>(v).is_err());
}

#[test]
fn search_with_another_scorer_and_no_refit() {
    let data = synthetic(90, 4, 2);
    let folds = stratified_folds(&data, 3, 1).unwrap();
    let out = GridSearch::new(centroid_factory, grid())
        .scoring(Scorer::from_name("neg_log_loss").unwrap())
        .refit(false)
        .progress(false)
        .fit(&data, &folds)
        .unwrap();
    assert!(out.best_estimator.is_none());
    assert!(out.results.best_score() < 0.0);
    assert_eq!(
        out.results.best_params().get_usize("offset").unwrap(),
        Some(0)
    );
}

#[test]
fn random_search_is_seeded() {
    let space = ParamSpace::new()
        .add("offset", Distribution::IntRange { low: 0, high: 2 })
        .choice("n_used", [1]);
    let make = |seed| {
        RandomSearch::new(centroid_factory, space.clone())
            .n_iter(8)
            .seed(seed)
            .progress(false)
    };
    let a = make(3).candidates().unwrap();
    assert_eq!(a, make(3).candidates().unwrap());
    assert_ne!(a, make(4).candidates().unwrap());
    assert_eq!(a.len(), 8);
    for p in &a {
        assert!(p.get_usize("offset").unwrap().unwrap() <= 2);
    }
    let data = synthetic(90, 3, 5);
    let folds = stratified_folds(&data, 3, 1).unwrap();
    let out = make(3).fit(&data, &folds).unwrap();
    let again = make(3).fit(&data, &folds).unwrap();
    let scores = |o: &obesity_eval::SearchOutcome| {
        o.results
            .candidates
            .iter()
            .map(|c| c.score.per_fold.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(scores(&out), scores(&again));
    let lu = ParamSpace::new()
        .add(
            "x",
            Distribution::LogUniform {
                low: 1e-3,
                high: 1.0,
            },
        )
        .sample(50, 1)
        .unwrap();
    for p in lu {
        let v = p.get_f64("x").unwrap().unwrap();
        assert!((1e-3..1.0).contains(&v));
    }
}

#[test]
fn forest_factory_maps_sklearn_names_and_rejects_bad_ones() {
    let f = forest_factory(ForestParams::builder().n_threads(Some(1)));
    let s = f(&ParamSet::new()
        .with("n_estimators", 7)
        .with("max_depth", None::<i64>)
        .with("max_features", "log2")
        .with("min_samples_leaf", 2))
    .unwrap();
    let p = s.params();
    assert_eq!(p["n_estimators"], "7");
    assert_eq!(p["max_depth"], "None");
    assert_eq!(p["max_features"], "log2");
    assert_eq!(p["min_samples_leaf"], "2");
    assert_eq!(p["n_threads"], "1");
    assert!(matches!(
        f(&ParamSet::new().with("max_deph", 3)),
        Err(EvalError::BadParam { name, .. }) if name == "max_deph"
    ));
    assert!(matches!(
        f(&ParamSet::new().with("max_features", "cube")),
        Err(EvalError::BadParam { name, .. }) if name == "max_features"
    ));
    assert!(matches!(
        f(&ParamSet::new().with("n_estimators", 0)),
        Err(EvalError::Model(_))
    ));
    assert!(matches!(
        f(&ParamSet::new().with("n_estimators", -3)),
        Err(EvalError::BadParam { .. })
    ));
}

#[test]
fn small_forest_grid_search_runs_end_to_end() {
    let data = synthetic(120, 4, 8);
    let folds = stratified_folds(&data, 3, 2).unwrap();
    let grid = ParamGrid::new()
        .add("n_estimators", [5, 10])
        .add("max_depth", [Some(2), None]);
    let out = GridSearch::new(
        forest_factory(ForestParams::builder().n_threads(Some(1))),
        grid,
    )
    .progress(false)
    .fit(&data, &folds)
    .unwrap();
    assert_eq!(out.results.candidates.len(), 4);
    let model = out.best_estimator.unwrap();
    assert_eq!(model.n_features(), 4);
    assert!(
        out.results.best_score() > 0.7,
        "{}",
        out.results.best_score()
    );
}

#[test]
fn empty_grids_and_failing_candidates_are_errors() {
    let data = synthetic(30, 2, 1);
    let folds = stratified_folds(&data, 3, 1).unwrap();
    assert!(matches!(
        GridSearch::new(centroid_factory, ParamGrid::new()).fit(&data, &folds),
        Err(EvalError::EmptyGrid { .. })
    ));
    let empty_axis = ParamGrid::new().add("offset", Vec::<i64>::new());
    match GridSearch::new(centroid_factory, empty_axis).fit(&data, &folds) {
        Err(EvalError::EmptyGrid { reason }) => assert!(reason.contains("offset"), "{reason}"),
        other => panic!("expected EmptyGrid, got {other:?}"),
    }
    assert!(matches!(
        RandomSearch::new(centroid_factory, ParamSpace::new().choice("offset", [0]))
            .n_iter(0)
            .fit(&data, &folds),
        Err(EvalError::EmptyGrid { .. })
    ));
    assert!(matches!(
        ParamSpace::new()
            .add("x", Distribution::IntRange { low: 3, high: 1 })
            .sample(2, 0),
        Err(EvalError::EmptyGrid { .. })
    ));
    // offset 5 does not exist in a 2-column matrix: the fit fails, the error names the candidate.
    let bad = ParamGrid::new().add("offset", [0, 5]);
    match GridSearch::new(centroid_factory, bad)
        .progress(false)
        .fit(&data, &folds)
    {
        Err(EvalError::Candidate { params, source }) => {
            assert_eq!(params, "offset=5");
            assert!(matches!(*source, EvalError::Model(_)));
        }
        other => panic!("expected Candidate error, got {other:?}"),
    }
    let typo = ParamGrid::new().add("ofset", [0]);
    assert!(matches!(
        GridSearch::new(centroid_factory, typo).fit(&data, &folds),
        Err(EvalError::Candidate { .. })
    ));
}
