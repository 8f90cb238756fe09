//! Saving and loading a fitted pipeline: bit-identical matrices, and every way a saved file
//! can be wrong.

use ndarray::Array2;
use obesity_features::{
    BinaryEncoding, FeatureConfig, FeatureError, FeaturePipeline, FittedPipeline,
    FrequencyEncoding, Scaling, UnseenCategory,
};
use serde_json::Value;

use crate::common::{person, sample};

fn bits(x: &Array2<f32>) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

fn all_configs() -> Vec<FeatureConfig> {
    let mut out = Vec::new();
    for bmi in [true, false] {
        for frequency in [FrequencyEncoding::Ordinal, FrequencyEncoding::OneHot] {
            for binary in [BinaryEncoding::Single, BinaryEncoding::OneHot] {
                for scaling in [Scaling::None, Scaling::Standard] {
                    for unseen in [
                        UnseenCategory::SchemaLevels,
                        UnseenCategory::IgnoreUnseen,
                        UnseenCategory::Error,
                    ] {
                        out.push(FeatureConfig {
                            bmi,
                            frequency,
                            binary,
                            scaling,
                            unseen,
                        });
                    }
                }
            }
        }
    }
    out
}

#[test]
fn saved_and_loaded_pipeline_gives_a_bit_identical_matrix_for_every_config() {
    let train = sample(150);
    let test = sample(230); // includes rows the training part did not
    for config in all_configs() {
        let fitted = FeaturePipeline::new(config).fit(&train).unwrap();
        let json = fitted.to_json().unwrap();
        let loaded = FittedPipeline::from_json(&json).unwrap();
        assert_eq!(loaded, fitted, "{config:?}");
        assert_eq!(loaded.feature_names(), fitted.feature_names());
        let (a, b) = (
            fitted.transform(&test).unwrap(),
            loaded.transform(&test).unwrap(),
        );
        assert_eq!(bits(&a), bits(&b), "{config:?}");
        // Writing it again gives the same document.
        assert_eq!(loaded.to_json().unwrap(), json);
    }
}

#[test]
fn save_and_load_through_a_file_and_through_serde() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("features.json");
    let config = FeatureConfig {
        scaling: Scaling::Standard,
        ..FeatureConfig::standard()
    };
    let fitted = FeaturePipeline::new(config).fit(&sample(99)).unwrap();
    fitted.save(&path).unwrap();
    let loaded = FittedPipeline::load(&path).unwrap();
    let records = sample(300);
    assert_eq!(
        bits(&fitted.transform(&records).unwrap()),
        bits(&loaded.transform(&records).unwrap())
    );

    // Embedded in another serde document (a model bundle), it round-trips the same way.
    let bundle = serde_json::json!({ "model": "forest", "features": fitted });
    let back: FittedPipeline = serde_json::from_value(bundle["features"].clone()).unwrap();
    assert_eq!(back, fitted);
}

fn tampered(edit: impl FnOnce(&mut Value)) -> FeatureError {
    let fitted = FeaturePipeline::new(FeatureConfig {
        scaling: Scaling::Standard,
        ..FeatureConfig::standard()
    })
    .fit(&sample(40))
    .unwrap();
    let mut doc: Value = serde_json::from_str(&fitted.to_json().unwrap()).unwrap();
    edit(&mut doc);
    FittedPipeline::from_json(&doc.to_string()).unwrap_err()
}

#[test]
fn future_or_missing_format_version_is_an_error_that_says_so() {
    let err = tampered(|d| d["format_version"] = 2.into());
    assert!(
        matches!(
            err,
            FeatureError::UnsupportedFormatVersion {
                found: 2,
                supported: 1
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("unsupported feature-pipeline format version 2"),
        "{err}"
    );

    // A future format may have another shape: the version is still what is reported.
    let err = FittedPipeline::from_json(r#"{"format_version": 7, "layers": []}"#).unwrap_err();
    assert!(
        matches!(err, FeatureError::UnsupportedFormatVersion { found: 7, .. }),
        "{err:?}"
    );

    let err = tampered(|d| {
        d.as_object_mut().unwrap().remove("format_version");
    });
    assert!(
        matches!(&err, FeatureError::InvalidPipeline { field, value, .. } if field == "format_version" && value == "missing"),
        "{err:?}"
    );
    let err = tampered(|d| d["format_version"] = "one".into());
    assert!(
        matches!(&err, FeatureError::InvalidPipeline { field, .. } if field == "format_version"),
        "{err:?}"
    );
}

#[test]
fn malformed_json_is_an_error_with_its_position() {
    let err = FittedPipeline::from_json("{\"format_version\": 1,\n  \"config\": ").unwrap_err();
    assert!(matches!(err, FeatureError::Json { .. }), "{err:?}");
    assert!(err.to_string().contains("line 2"), "{err}");
    let err = tampered(|d| d["config"]["scaling"] = "minmax".into());
    assert!(matches!(err, FeatureError::Json { .. }), "{err:?}");
    assert!(err.to_string().contains("minmax"), "{err}");
}

#[test]
fn inconsistent_documents_are_rejected_naming_the_field() {
    let field_of = |err: FeatureError| match err {
        FeatureError::InvalidPipeline { field, .. } => field,
        other => panic!("expected InvalidPipeline, got {other:?}"),
    };
    assert_eq!(
        field_of(tampered(|d| d["columns"][2]["scale"] = 0.0.into())),
        "columns[2].scale"
    );
    assert_eq!(
        field_of(tampered(|d| d["columns"][3]["scale"] = (-1.5).into())),
        "columns[3].scale"
    );
    // JSON has no NaN: a null statistic is a shape error from the parser.
    assert!(matches!(
        tampered(|d| d["columns"][0]["center"] = Value::Null),
        FeatureError::Json { .. }
    ));
    assert_eq!(
        field_of(tampered(|d| d["columns"][12]["level"] = "maybe".into())),
        "columns[12]"
    );
    assert_eq!(
        field_of(tampered(|d| d["columns"][9]["name"] = "Sex=F".into())),
        "columns[9]"
    );
    assert_eq!(
        field_of(tampered(|d| {
            d["columns"].as_array_mut().unwrap().pop();
        })),
        "columns"
    );
    // Settings that say "no scaling" with scaling statistics in the columns.
    assert_eq!(
        field_of(tampered(|d| d["config"]["scaling"] = "none".into())),
        "columns[0]"
    );
    assert_eq!(
        field_of(tampered(
            |d| d["seen_levels"][6]["levels"][0] = "Never".into()
        )),
        "seen_levels[6].levels"
    );
    assert_eq!(
        field_of(tampered(
            |d| d["seen_levels"][1]["levels"] = Value::Array(vec![])
        )),
        "seen_levels[1].levels"
    );
    assert_eq!(
        field_of(tampered(|d| {
            d["seen_levels"].as_array_mut().unwrap().swap(0, 1);
        })),
        "seen_levels[0].column"
    );
    assert_eq!(
        field_of(tampered(|d| d["class_names"][0] = "Thin".into())),
        "class_names"
    );
}

#[test]
fn load_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let err = FittedPipeline::load(&missing).unwrap_err();
    assert!(
        matches!(&err, FeatureError::Io { action: "read", path, .. } if *path == missing),
        "{err:?}"
    );
    assert!(err.to_string().contains("nope.json"), "{err}");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"format_version": 99}"#).unwrap();
    let err = FittedPipeline::load(&bad).unwrap_err();
    match &err {
        FeatureError::File { path, source } => {
            assert_eq!(path, &bad);
            assert!(matches!(
                **source,
                FeatureError::UnsupportedFormatVersion { found: 99, .. }
            ));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string().contains("bad.json") && err.to_string().contains("version 99"),
        "{err}"
    );

    let fitted = FeaturePipeline::default().fit(&[person()]).unwrap();
    let err = fitted
        .save(dir.path().join("no_such_dir").join("f.json"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            FeatureError::Io {
                action: "write",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_reader_never_sees_a_half_written_pipeline_while_it_is_replaced() {
    // `save` used to truncate the file and then write it (`fs::write`), so a concurrent
    // reader (or a crash) could find an empty or truncated document.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("features.json");
    let fitted = FeaturePipeline::new(FeatureConfig {
        scaling: Scaling::Standard,
        ..FeatureConfig::standard()
    })
    .fit(&sample(99))
    .unwrap();
    fitted.save(&path).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..300 {
                fitted.save(&path).unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut reads = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) || reads == 0 {
            let loaded =
                FittedPipeline::load(&path).unwrap_or_else(|e| panic!("read {reads}: {e}"));
            assert_eq!(loaded, fitted);
            reads += 1;
        }
    });
    // Nothing but the pipeline is left in the folder (no temporary files).
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["features.json"]);
}
