//! Splits: errors, scikit-learn agreement, determinism.

use obesity_data::{
    DataError, LoadOptions, StratifiedKFold, load_csv, stratified_split, synth, target_indices,
};

use crate::common::synthetic;

#[test]
fn split_errors() {
    assert!(matches!(
        stratified_split(&[], 0.2, 1),
        Err(DataError::EmptyLabels)
    ));
    for f in [0.0, 1.0, -0.1, 1.5, f64::NAN] {
        assert!(
            matches!(
                stratified_split(&[0, 0, 1, 1], f, 1),
                Err(DataError::InvalidFraction { .. })
            ),
            "{f}"
        );
    }
    assert!(matches!(
        stratified_split(&[0, 0, 0, 1], 0.5, 1),
        Err(DataError::ClassTooSmall {
            class: 1,
            class_name: None,
            count: 1,
            needed: 2
        })
    ));
    assert!(matches!(
        stratified_split(&[0, 0, 1, 1], 0.01, 1),
        Err(DataError::EmptySplitPart {
            test_rows: 1,
            classes: 2,
            ..
        })
    ));

    assert!(matches!(
        StratifiedKFold::new(1).split(&[0, 1]),
        Err(DataError::InvalidFolds { k: 1 })
    ));
    assert!(matches!(
        StratifiedKFold::new(0).split(&[0, 1]),
        Err(DataError::InvalidFolds { k: 0 })
    ));
    assert!(matches!(
        StratifiedKFold::new(2).split(&[]),
        Err(DataError::EmptyLabels)
    ));
    let e = StratifiedKFold::new(3).split(&[0, 0, 0, 1, 1]).unwrap_err();
    assert!(matches!(
        e,
        DataError::ClassTooSmall {
            class: 1,
            class_name: None,
            count: 2,
            needed: 3
        }
    ));
    assert!(e.to_string().contains("class index 1 has 2 row(s)"), "{e}");
    // Issue 16: the caller that knows the class names puts the name in the message.
    let named = e.with_class_names(&["Normal_Weight", "Obesity_Type_I"]);
    assert!(
        named
            .to_string()
            .contains("class \"Obesity_Type_I\" (index 1) has 2 row(s)"),
        "{named}"
    );
}

#[test]
fn target_indices_maps_levels_and_rejects_unlabelled() {
    let mut records = synth::generate(10, 1);
    let labels = target_indices(&records).unwrap();
    assert_eq!(
        labels,
        records
            .iter()
            .map(|r| r.target.unwrap().index())
            .collect::<Vec<_>>()
    );
    records[4].target = None;
    assert!(matches!(
        target_indices(&records),
        Err(DataError::Unlabelled { index: 4 })
    ));
}

#[test]
fn kfold_without_shuffle_equals_scikit_learn() {
    let loaded = load_csv(synthetic(), &LoadOptions::strict()).unwrap();
    let labels = target_indices(&loaded.records).unwrap();
    let folds = StratifiedKFold::new(5).split(&labels).unwrap();
    let reference = crate::report::reference();
    let expected = reference["synthetic"]["kfold5_test_folds"]
        .as_array()
        .unwrap();
    assert_eq!(folds.len(), expected.len());
    for ((_, test), want) in folds.iter().zip(expected) {
        let want: Vec<usize> = want
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(test, &want);
    }
}

#[test]
fn seeds_change_shuffled_splits_and_only_seeds_do() {
    let labels = target_indices(&synth::generate(500, 2)).unwrap();
    let a = stratified_split(&labels, 0.25, 1).unwrap();
    assert_eq!(a, stratified_split(&labels, 0.25, 1).unwrap());
    assert_ne!(a, stratified_split(&labels, 0.25, 2).unwrap());
    assert_eq!(a.1.len(), 125);
    let k = |seed| {
        StratifiedKFold::new(4)
            .shuffle(true)
            .seed(seed)
            .split(&labels)
            .unwrap()
    };
    assert_eq!(k(9), k(9));
    assert_ne!(k(9), k(10));
    assert_ne!(k(9), StratifiedKFold::new(4).split(&labels).unwrap());
}
