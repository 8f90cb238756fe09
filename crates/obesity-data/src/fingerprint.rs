//! Content fingerprints for lineage (what DVC calls the data's hash): one over the meaning of
//! the rows, one over the exact bytes.

use std::fmt;
use std::io::Write as _;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::record::ObesityRecord;
use crate::write::write_csv;

/// A SHA-256 digest. Displays and serializes as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The SHA-256 of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Digest(Sha256::digest(bytes).into())
    }

    /// Lowercase hex, the form stored in run metadata and registries.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

impl FromStr for Digest {
    type Err = hex::FromHexError;

    /// Parses 64 hex digits (either case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)?;
        Ok(Digest(out))
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The identity of a data set, for lineage: log it with a run, compare it before retraining.
///
/// * `canonical` hashes the rows' meaning: the records written back by
///   [`write_csv`](crate::write_csv) (UCI column order, LF, shortest round-trip numbers).
///   The same rows in the same order give the same hash whatever the file's column order,
///   line endings, byte-order mark, whitespace around fields or number spelling (`21` vs
///   `21.0`). Rows that a lenient load rejected are not part of it.
/// * `raw` hashes the file's bytes exactly, like `sha256sum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fingerprint {
    /// SHA-256 of the canonical form of the loaded records.
    pub canonical: Digest,
    /// SHA-256 of the raw input bytes.
    pub raw: Digest,
}

impl Fingerprint {
    /// The fingerprint of `records` read from `raw_bytes`.
    pub fn new(records: &[ObesityRecord], raw_bytes: &[u8]) -> Self {
        Fingerprint {
            canonical: canonical_digest(records),
            raw: Digest::of_bytes(raw_bytes),
        }
    }
}

/// SHA-256 of the canonical CSV form of `records`, streamed into the hasher.
pub fn canonical_digest(records: &[ObesityRecord]) -> Digest {
    let mut hasher = Sha256::new();
    // Writing into a hasher cannot fail; an error here would be a bug in the writer.
    if write_csv(records, &mut hasher).is_err() {
        // Unreachable in practice: hash the records' debug form rather than panic.
        let _ = write!(hasher, "{records:?}");
    }
    Digest(hasher.finalize().into())
}
