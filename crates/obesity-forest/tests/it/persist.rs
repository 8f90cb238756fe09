//! Model files: round trip, header dispatch, and that damaged bytes are errors that say
//! which (proptest: random flips and truncations never panic and never load silently).

use obesity_forest::{
    Classifier, ForestParams, LinfaTree, LinfaTreeParams, ModelError, RandomForest, load_classifier,
};
use proptest::prelude::*;
use std::sync::OnceLock;

fn forest() -> &'static (RandomForest, Vec<u8>) {
    static F: OnceLock<(RandomForest, Vec<u8>)> = OnceLock::new();
    F.get_or_init(|| {
        let (x, y) = crate::common::synthetic(200, 5, 3, 31);
        let p = ForestParams::builder()
            .n_estimators(6)
            .oob_score(true)
            .build()
            .unwrap();
        let m = RandomForest::fit(&p, x.view(), y.view(), 3).unwrap();
        let b = m.to_bytes().unwrap();
        (m, b)
    })
}

#[test]
fn round_trip_keeps_everything() {
    let (m, bytes) = forest();
    let back = RandomForest::from_bytes(bytes).unwrap();
    let (x, _) = crate::common::synthetic(100, 5, 3, 32);
    assert_eq!(
        back.predict_proba(x.view()).unwrap(),
        m.predict_proba(x.view()).unwrap()
    );
    assert_eq!(back.feature_importances(), m.feature_importances());
    assert!(m.oob_score().is_some());
    assert_eq!(back.oob_score(), m.oob_score());
    assert_eq!(back.tree_stats(), m.tree_stats());
    assert_eq!(back.params(), m.params());
    assert_eq!(&back.to_bytes().unwrap(), bytes);
    assert_eq!(&bytes[..8], b"OBFOREST");
    let dynamic = load_classifier(bytes).unwrap();
    assert_eq!(dynamic.name(), "random_forest");
    assert_eq!(
        dynamic.predict(x.view()).unwrap(),
        m.predict(x.view()).unwrap()
    );
}

#[test]
fn each_kind_of_damage_is_named() {
    let (_, bytes) = forest();
    let e = RandomForest::from_bytes(&bytes[..bytes.len() - 1]).unwrap_err();
    assert!(matches!(e, ModelError::Truncated { .. }), "{e}");
    let e = RandomForest::from_bytes(&bytes[..5]).unwrap_err();
    assert!(
        matches!(e, ModelError::Truncated { what: "magic", .. }),
        "{e}"
    );
    let mut flipped = bytes.clone();
    flipped[40] ^= 0x10;
    let e = RandomForest::from_bytes(&flipped).unwrap_err();
    assert!(matches!(e, ModelError::ChecksumMismatch { .. }), "{e}");
    let mut v2 = bytes.clone();
    v2[8] = 2;
    let e = RandomForest::from_bytes(&v2).unwrap_err();
    assert!(
        matches!(
            e,
            ModelError::UnsupportedVersion {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{e}"
    );
    let mut other = bytes.clone();
    other[..8].copy_from_slice(b"PK\x03\x04....");
    let Err(e) = load_classifier(&other) else {
        panic!("loaded a foreign header")
    };
    assert!(matches!(e, ModelError::UnknownFormat { .. }), "{e}");
    assert!(e.to_string().contains("PK"), "{e}");
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(
        RandomForest::from_bytes(&trailing),
        Err(ModelError::Corrupt { .. })
    ));
    assert!(matches!(
        load_classifier(&[]),
        Err(ModelError::Truncated { .. })
    ));
}

#[test]
fn structurally_bad_payload_with_a_valid_checksum_is_rejected() {
    // Re-seal a payload whose first child index points backwards (a cycle).
    let (m, bytes) = forest();
    let n_trees = m.n_trees();
    let json_len = u32::from_le_bytes(bytes[20..24].try_into().unwrap()) as usize;
    let arrays = 20 + 4 + json_len + 5 * 8 + 1 + 8;
    let n_nodes = u64::from_le_bytes(
        bytes[24 + json_len + 24..24 + json_len + 32]
            .try_into()
            .unwrap(),
    ) as usize;
    let left = arrays + n_trees * 4 * 2 + (n_trees + 1) * 4 * 2 + n_nodes * 4 * 2;
    let mut bad = bytes.clone();
    bad[left..left + 4].copy_from_slice(&0i32.to_le_bytes()); // node 0's left child = node 0
    let end = bad.len() - 4;
    let crc = crc32(&bad[..end]);
    bad[end..].copy_from_slice(&crc.to_le_bytes());
    let e = RandomForest::from_bytes(&bad).unwrap_err();
    assert!(
        matches!(&e, ModelError::InvalidModelField { field, .. } if field == "left child of node 0"),
        "{e}"
    );
    assert!(e.to_string().contains("after its parent"), "{e}");
}

/// CRC32 (IEEE), bitwise, so the test does not reuse the code under test's dependency path.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn linfa_tree_round_trips_behind_its_own_header() {
    let (x, y) = crate::common::synthetic(150, 4, 3, 33);
    let m = LinfaTree::fit(&LinfaTreeParams::default(), x.view(), y.view(), 3).unwrap();
    let bytes = m.to_bytes().unwrap();
    assert_eq!(&bytes[..8], b"OBLINFDT");
    let back = load_classifier(&bytes).unwrap();
    assert_eq!(back.name(), "linfa_decision_tree");
    assert_eq!(
        back.predict(x.view()).unwrap(),
        m.predict(x.view()).unwrap()
    );
    let mut bad = bytes.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    assert!(matches!(
        load_classifier(&bad),
        Err(ModelError::ChecksumMismatch { .. })
    ));
    // A forest file is not a linfa file.
    assert!(matches!(
        LinfaTree::from_bytes(&forest().1),
        Err(ModelError::UnknownFormat { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_flips_never_panic_nor_load_silently(
        flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 1..4),
    ) {
        let bytes = &forest().1;
        let mut b = bytes.clone();
        for (pos, x) in &flips {
            let i = pos % b.len();
            b[i] ^= x;
        }
        prop_assume!(&b != bytes);
        prop_assert!(load_classifier(&b).is_err());
        prop_assert!(RandomForest::from_bytes(&b).is_err());
    }

    #[test]
    fn truncation_never_panics_nor_loads(cut in 0usize..10_000) {
        let bytes = &forest().1;
        let cut = cut % bytes.len();
        prop_assert!(RandomForest::from_bytes(&bytes[..cut]).is_err());
    }
}
