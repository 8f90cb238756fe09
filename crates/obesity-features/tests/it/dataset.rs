//! The labelled `Dataset`: targets, class indices, and checked construction.

use ndarray::{Array1, Array2, array};
use obesity_data::ObesityLevel;
use obesity_features::{Dataset, FeatureError, FeaturePipeline};

use crate::common::sample;

#[test]
fn y_is_the_obesity_level_index() {
    let records = sample(21);
    let fitted = FeaturePipeline::standard().fit(&records).unwrap();
    let data = fitted.dataset(&records).unwrap();
    assert_eq!(data.n_samples(), 21);
    assert_eq!(data.n_features(), 32);
    assert_eq!(data.n_classes(), 7);
    for (i, r) in records.iter().enumerate() {
        let level = r.target.unwrap();
        assert_eq!(data.y[i], level.index());
        assert_eq!(data.class_names[data.y[i]], level.as_str());
    }
    assert_eq!(data.x, fitted.transform(&records).unwrap());
    assert_eq!(data.feature_names, fitted.feature_names());
    assert_eq!(data.y[3], ObesityLevel::OverweightLevelII.index());
}

#[test]
fn a_record_without_a_target_is_an_error_naming_the_row() {
    let mut records = sample(8);
    records[5].target = None;
    let fitted = FeaturePipeline::standard().fit(&records).unwrap();
    let err = fitted.dataset(&records).unwrap_err();
    assert!(
        matches!(err, FeatureError::MissingTarget { row: 5, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("row 5: the target column NObeyesdad is empty"),
        "{err}"
    );
    // Unlabelled records are fine for transform (and for fit).
    assert_eq!(fitted.transform(&records).unwrap().nrows(), 8);
    let unlabelled: Vec<_> = records
        .into_iter()
        .map(|mut r| {
            r.target = None;
            r
        })
        .collect();
    assert!(FeaturePipeline::standard().fit(&unlabelled).is_ok());
}

#[test]
fn to_linfa_keeps_shape_targets_and_names() {
    let records = sample(12);
    let data = FeaturePipeline::default()
        .fit(&records)
        .unwrap()
        .dataset(&records)
        .unwrap();
    let linfa = data.to_linfa();
    assert_eq!(linfa.records().dim(), (12, 22));
    assert_eq!(linfa.targets().to_vec(), data.y.to_vec());
    assert_eq!(linfa.feature_names(), data.feature_names);
}

#[test]
fn dataset_new_checks_its_parts() {
    let names = || vec!["a".to_owned(), "b".to_owned()];
    let classes = || vec!["c0".to_owned(), "c1".to_owned()];
    let x = array![[1.0f32, 2.0], [3.0, 4.0]];
    let ok = Dataset::new(x.clone(), array![0, 1], names(), classes()).unwrap();
    assert_eq!((ok.n_samples(), ok.n_features(), ok.n_classes()), (2, 2, 2));

    let err = Dataset::new(x.clone(), Array1::zeros(3), names(), classes()).unwrap_err();
    assert!(
        matches!(&err, FeatureError::Shape { what, .. } if what == "y length"),
        "{err:?}"
    );
    let err = Dataset::new(x.clone(), array![0, 1], vec!["a".into()], classes()).unwrap_err();
    assert!(matches!(&err, FeatureError::Shape { what, .. } if what == "feature_names length"));
    let err = Dataset::new(x, array![0, 2], names(), classes()).unwrap_err();
    assert!(
        matches!(&err, FeatureError::Shape { what, found, .. } if what == "y[1]" && found == "2")
    );
    assert!(Dataset::new(Array2::zeros((0, 2)), Array1::zeros(0), names(), vec![]).is_ok());
}
