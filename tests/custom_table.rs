//! The `custom_table` example's outcomes: a table, a model and a drift test of the app's own
//! go through every layer by the public API alone.

// The example is compiled here as a module; its `main` is what this test does not call.
#[path = "../examples/custom_table.rs"]
#[allow(dead_code)]
mod custom_table;

use std::sync::Arc;

use custom_table::{
    CENTROID_MAGIC, HELLINGER, Hellinger, MODEL_NAME, NearestCentroid, PIPELINE_KIND, Summary,
};
use obesity_mlops::data::{ColumnValues, NamedColumn};
use obesity_mlops::forest::{Classifier, ForestParams, ModelError, ModelStrategy};
use obesity_mlops::monitor::{ColumnSample, DriftDetector, MonitorError};
use obesity_mlops::ndarray::{Array1, Array2, array};
use obesity_mlops::registry::{Error, LocalStore, NewVersion, Registry, Store, Tracker};

fn summary() -> Summary {
    let dir = tempfile::tempdir().expect("temp dir");
    custom_table::run(dir.path(), 42).expect("the example runs")
}

#[test]
fn the_example_reaches_every_outcome() {
    let s = summary();
    assert_eq!(s.rows, 900);
    for name in ["temperature", "load", "site=north", "site=east"] {
        assert!(
            s.features.iter().any(|f| f == name),
            "{name} in {:?}",
            s.features
        );
    }

    // Both models learn the separable synthetic table; the paired test ran on the same folds.
    let models: Vec<&str> = s.cv.iter().map(|c| c.model.as_str()).collect();
    assert_eq!(models, ["random_forest", "nearest_centroid"]);
    for cv in &s.cv {
        assert!(cv.accuracy > 0.85 && cv.accuracy < 1.0, "{cv:?}");
        assert!(cv.f1_macro > 0.85, "{cv:?}");
    }
    let difference = s.cv[1].accuracy - s.cv[0].accuracy;
    assert!((s.comparison_mean_difference - difference).abs() < 1e-9);
    assert!(s.comparison_p_value > 0.0 && s.comparison_p_value <= 1.0);

    // Two registered versions, promoted by the default policy from their cv accuracy.
    let references: Vec<&str> = s.versions.iter().map(|v| v.reference.as_str()).collect();
    assert_eq!(
        references,
        ["models:/custom-table/1", "models:/custom-table/2"]
    );
    for (v, cv) in s.versions.iter().zip(&s.cv) {
        assert_eq!(v.model, cv.model);
        assert_eq!(v.cv_accuracy, cv.accuracy);
    }
    let champions: Vec<_> = s
        .versions
        .iter()
        .filter(|v| v.aliases == ["champion"])
        .collect();
    assert_eq!(champions.len(), 1, "{:?}", s.versions);
    assert_eq!(champions[0].stage, "Production");
    assert!(s.loaded_predictions_identical);

    // Drift: both detectors on every column, side by side; only the shifted one drifts.
    let columns: Vec<&str> = s.drift.iter().map(|r| r.column.as_str()).collect();
    assert_eq!(
        columns,
        ["temperature", "vibration", "pressure", "current", "site"]
    );
    for row in &s.drift {
        assert_eq!(row.custom, HELLINGER);
        let expected = if row.column == "site" {
            "chisquare"
        } else {
            "ks"
        };
        assert_eq!(row.builtin, expected);
    }
    assert_eq!(s.drifted_builtin, ["temperature"]);
    assert_eq!(s.drifted_custom, ["temperature"]);

    // The A/B test ran on the two registered versions, the champion as control.
    assert_eq!(s.ab.control, champions[0].reference);
    assert!(references.contains(&s.ab.treatment.as_str()) && s.ab.treatment != s.ab.control);
    assert_eq!(s.ab.samples.iter().sum::<usize>(), 600);
    assert!(s.ab.samples.iter().all(|&n| n >= 100), "{:?}", s.ab.samples);
    for rate in [s.ab.control_rate, s.ab.treatment_rate] {
        assert!(rate.is_some_and(|r| r > 0.85), "{:?}", s.ab);
    }
    assert!(s.ab.p_value.is_some_and(|p| p > 0.0 && p <= 1.0));
    assert!(!s.ab.recommendation.is_empty());
}

#[test]
fn the_json_document_is_deterministic() {
    let a = serde_json::to_value(summary()).expect("json");
    let b = serde_json::to_value(summary()).expect("json");
    assert_eq!(a, b);
    for key in [
        "cv",
        "comparison_p_value",
        "versions",
        "drift",
        "drifted_custom",
        "ab",
    ] {
        assert!(a.get(key).is_some(), "{key} missing from {a}");
    }
}

fn blobs() -> (Array2<f32>, Array1<usize>) {
    let x = array![
        [0.0f32, 10.0],
        [0.5, 11.0],
        [1.0, 9.0],
        [5.0, 20.0],
        [5.5, 21.0],
        [6.0, 19.0]
    ];
    (x, array![0, 0, 0, 1, 1, 1])
}

#[test]
fn the_centroid_model_round_trips_through_its_loader() {
    let (x, y) = blobs();
    let model = NearestCentroid::fit(x.view(), y.view(), 2).expect("fits");
    assert_eq!(model.predict(x.view()).expect("predicts"), y);
    let proba = model.predict_proba(x.view()).expect("predicts");
    assert!(
        proba
            .rows()
            .into_iter()
            .all(|r| (r.sum() - 1.0).abs() < 1e-5)
    );

    let bytes = model.to_bytes().expect("seals");
    assert!(bytes.starts_with(CENTROID_MAGIC));
    let back = custom_table::classifier_loader()(&bytes).expect("loads");
    assert_eq!(back.name(), "nearest_centroid");
    assert_eq!(back.predict_proba(x.view()).expect("predicts"), proba);

    // The loader still reads the forest's files, and refuses damaged ones.
    let forest = ForestParams::builder()
        .n_estimators(5)
        .seed(1)
        .build()
        .expect("params");
    let fitted = forest.fit(x.view(), y.view(), 2).expect("fits");
    let loaded = custom_table::classifier_loader()(&fitted.to_bytes().expect("bytes"));
    assert_eq!(loaded.expect("loads").name(), "random_forest");
    let cut = custom_table::classifier_loader()(&bytes[..bytes.len() - 1]);
    assert!(matches!(cut, Err(ModelError::Truncated { .. })), "{cut:?}");
    let mut flipped = bytes.clone();
    flipped[30] ^= 1;
    let flipped = custom_table::classifier_loader()(&flipped);
    assert!(matches!(flipped, Err(ModelError::ChecksumMismatch { .. })));

    // Input checks are the forest's: width and finiteness.
    let narrow = model.predict(array![[1.0f32], [2.0]].view());
    assert!(matches!(
        narrow,
        Err(ModelError::FeatureCountMismatch {
            expected: 2,
            got: 1
        })
    ));
    let absent = NearestCentroid::fit(x.view(), y.view(), 3);
    assert!(matches!(
        absent,
        Err(ModelError::InvalidParam { name: "y", .. })
    ));
}

#[test]
fn the_hellinger_detector_checks_its_inputs() {
    let numeric = |v: Vec<f64>| {
        ColumnSample::from_named(&NamedColumn {
            name: "t".into(),
            values: ColumnValues::Numeric(v),
        })
        .expect("sample")
    };
    let detector = Hellinger { threshold: 0.1 };
    let same = (0..100).map(f64::from).collect::<Vec<_>>();
    let r = detector
        .detect(&numeric(same.clone()), &numeric(same.clone()))
        .expect("runs");
    assert!(r.score.abs() < 1e-6 && !r.drifted, "{r:?}");
    let moved = same.iter().map(|v| v + 50.0).collect();
    assert!(
        detector
            .detect(&numeric(same.clone()), &numeric(moved))
            .expect("runs")
            .drifted
    );

    let categorical = ColumnSample::from_named(&NamedColumn {
        name: "t".into(),
        values: ColumnValues::Categorical(vec!["a".into(), "b".into()]),
    })
    .expect("sample");
    let mixed = detector.detect(&numeric(same), &categorical);
    assert!(
        matches!(mixed, Err(MonitorError::KindMismatch { .. })),
        "{mixed:?}"
    );
}

#[test]
fn a_registry_without_the_apps_loaders_says_how_to_register_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = Arc::new(LocalStore::open(dir.path()).expect("store"));
    let run = Tracker::new(store.clone())
        .start_run("e", None)
        .expect("run");
    let (x, y) = blobs();
    let model = NearestCentroid::fit(x.view(), y.view(), 2).expect("fits");
    let new = NewVersion::new(MODEL_NAME, run.id(), model.to_bytes().expect("bytes"))
        .custom_pipeline(PIPELINE_KIND, b"{}".to_vec());
    Registry::new(store.clone())
        .register(new)
        .expect("registers");
    run.finish().expect("finishes");

    let plain = Registry::new(store.clone()).load_str("custom-table/1");
    assert!(matches!(plain, Err(Error::UnknownModelFormat { .. })));
    let message = plain.expect_err("no loader").to_string();
    assert!(message.contains("Registry::with_loader"), "{message}");

    let models_only = Registry::new(store).with_loader(custom_table::classifier_loader());
    let err = models_only
        .load_str("custom-table/1")
        .expect_err("no pipeline loader");
    assert!(matches!(err, Error::NoPipelineLoader { .. }));
    assert!(
        err.to_string()
            .contains("with_pipeline_loader(\"custom_table."),
        "{err}"
    );
}
