//! ForestParams: defaults, validation of every field, serde re-validation, the params map.

use obesity_forest::{
    ClassWeight, Criterion, ForestParams, MaxFeatures, MaxSamples, ModelError, ModelStrategy,
};

fn invalid_name(r: Result<ForestParams, ModelError>) -> &'static str {
    match r {
        Err(ModelError::InvalidParam { name, .. }) => name,
        other => panic!("expected InvalidParam, got {other:?}"),
    }
}

#[test]
fn defaults_are_scikit_learns() {
    let p = ForestParams::default();
    assert_eq!(p, ForestParams::builder().build().unwrap());
    assert_eq!(p.n_estimators(), 100);
    assert_eq!(p.max_depth(), None);
    assert_eq!(p.min_samples_split(), 2);
    assert_eq!(p.min_samples_leaf(), 1);
    assert_eq!(p.max_features(), MaxFeatures::Sqrt);
    assert_eq!(p.criterion(), Criterion::Gini);
    assert!(p.bootstrap());
    assert!(!p.oob_score());
    assert_eq!(p.max_samples(), None);
    assert_eq!(p.class_weight(), ClassWeight::None);
    assert_eq!(p.max_bins(), 256);
    assert_eq!(p.seed(), 0);
    assert_eq!(p.n_threads(), None);
}

#[test]
fn every_bad_value_is_named() {
    let b = ForestParams::builder;
    assert_eq!(invalid_name(b().n_estimators(0).build()), "n_estimators");
    assert_eq!(invalid_name(b().max_depth(Some(0)).build()), "max_depth");
    assert_eq!(
        invalid_name(b().min_samples_split(1).build()),
        "min_samples_split"
    );
    assert_eq!(
        invalid_name(b().min_samples_leaf(0).build()),
        "min_samples_leaf"
    );
    assert_eq!(
        invalid_name(b().max_features(MaxFeatures::Fraction(0.0)).build()),
        "max_features"
    );
    assert_eq!(
        invalid_name(b().max_features(MaxFeatures::Fraction(1.5)).build()),
        "max_features"
    );
    assert_eq!(
        invalid_name(b().max_features(MaxFeatures::Fraction(f64::NAN)).build()),
        "max_features"
    );
    assert_eq!(
        invalid_name(b().max_features(MaxFeatures::Count(0)).build()),
        "max_features"
    );
    assert_eq!(
        invalid_name(
            b().bootstrap(false)
                .max_samples(Some(MaxSamples::Count(5)))
                .build()
        ),
        "max_samples"
    );
    assert_eq!(
        invalid_name(b().max_samples(Some(MaxSamples::Fraction(0.0))).build()),
        "max_samples"
    );
    assert_eq!(
        invalid_name(b().max_samples(Some(MaxSamples::Count(0))).build()),
        "max_samples"
    );
    assert_eq!(
        invalid_name(b().bootstrap(false).oob_score(true).build()),
        "oob_score"
    );
    assert_eq!(invalid_name(b().max_bins(1).build()), "max_bins");
    assert_eq!(invalid_name(b().max_bins(70_000).build()), "max_bins");
    assert_eq!(invalid_name(b().n_threads(Some(0)).build()), "n_threads");
}

#[test]
fn data_dependent_counts_fail_at_fit_not_with_a_panic() {
    let (x, y) = crate::common::synthetic(50, 4, 2, 1);
    let p = ForestParams::builder()
        .max_features(MaxFeatures::Count(5))
        .build()
        .unwrap();
    let e = obesity_forest::RandomForest::fit(&p, x.view(), y.view(), 2).unwrap_err();
    assert!(
        matches!(
            e,
            ModelError::InvalidParam {
                name: "max_features",
                ..
            }
        ),
        "{e}"
    );
    let p = ForestParams::builder()
        .max_samples(Some(MaxSamples::Count(51)))
        .build()
        .unwrap();
    let e = obesity_forest::RandomForest::fit(&p, x.view(), y.view(), 2).unwrap_err();
    assert!(
        matches!(
            e,
            ModelError::InvalidParam {
                name: "max_samples",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn serde_round_trips_and_revalidates() {
    let p = ForestParams::builder()
        .n_estimators(7)
        .max_depth(Some(4))
        .max_features(MaxFeatures::Fraction(0.5))
        .criterion(Criterion::Entropy)
        .class_weight(ClassWeight::Balanced)
        .max_samples(Some(MaxSamples::Count(10)))
        .seed(99)
        .n_threads(Some(2))
        .build()
        .unwrap();
    let json = serde_json::to_string(&p).unwrap();
    let back: ForestParams = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
    let bad = json.replace("\"n_estimators\":7", "\"n_estimators\":0");
    let err = serde_json::from_str::<ForestParams>(&bad).unwrap_err();
    assert!(err.to_string().contains("n_estimators"), "{err}");
    let partial: ForestParams = serde_json::from_str(r#"{"n_estimators": 3}"#).unwrap();
    assert_eq!(partial.n_estimators(), 3);
    assert_eq!(partial.max_bins(), 256);
    assert!(serde_json::from_str::<ForestParams>(r#"{"n_trees": 3}"#).is_err());
}

#[test]
fn params_map_has_every_hyper_parameter() {
    let p = ForestParams::builder().max_depth(Some(6)).build().unwrap();
    let m = p.params();
    assert_eq!(p.name(), "random_forest");
    for key in [
        "n_estimators",
        "max_depth",
        "min_samples_split",
        "min_samples_leaf",
        "max_features",
        "criterion",
        "bootstrap",
        "oob_score",
        "max_samples",
        "class_weight",
        "max_bins",
        "seed",
        "n_threads",
    ] {
        assert!(m.contains_key(key), "missing {key}");
    }
    assert_eq!(m["max_depth"], "6");
    assert_eq!(m["max_features"], "sqrt");
    assert_eq!(m["criterion"], "gini");
    assert_eq!(m["max_samples"], "None");
    assert_eq!(m["oob_score"], "false");
    assert_eq!(m.len(), 13);
}
