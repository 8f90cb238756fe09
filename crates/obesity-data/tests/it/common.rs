//! Paths and helpers shared by the test modules.

use std::path::PathBuf;

/// The repository's `fixtures/` folder.
pub(crate) fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// A file under `fixtures/bad/`.
pub(crate) fn bad(name: &str) -> PathBuf {
    fixtures().join("bad").join(name)
}

/// The committed synthetic fixture.
pub(crate) fn synthetic() -> PathBuf {
    fixtures().join("obesity_synthetic.csv")
}

/// The real UCI file from `OBESITY_UCI_CSV`, or `None` (with a note) when it is unset.
pub(crate) fn uci_csv() -> Option<PathBuf> {
    let path = obesity_data::uci_csv_from_env().unwrap();
    if path.is_none() {
        eprintln!("skipped: OBESITY_UCI_CSV is not set (point it at the UCI obesity CSV)");
    }
    path
}
