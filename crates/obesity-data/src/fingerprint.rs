//! Content fingerprints for lineage (what DVC calls the data's hash): one over the meaning of
//! the rows, one over the exact bytes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::record::ObesityRecord;

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
/// * `canonical` hashes the rows' meaning, not their spelling: each record's values in the
///   UCI column order as fixed-width binary (see [`canonical_digest`]). The same rows in the
///   same order give the same hash whatever the file's column order, line endings,
///   byte-order mark, whitespace around fields or number spelling (`21` vs `21.0`). Rows
///   that a lenient load rejected are not part of it.
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

/// Bytes of one record in the canonical encoding.
pub(crate) const RECORD_BYTES: usize = 8 * 8 + 9;

/// Domain separator and version of the canonical encoding: a change of encoding must
/// change every hash rather than collide with old ones.
const CANONICAL_PREFIX: &[u8] = b"obesity-data/canonical/v1\n";

/// One record in the canonical encoding: the 8 numbers as little-endian IEEE-754 bits in
/// file order (`-0.0` folded into `0.0`, as they compare equal), then one byte per
/// categorical column (the level's index in its enum's `ALL`; yes = 1, no = 0) in file
/// order, the target last (255 when unlabelled). Also the key of exact-duplicate detection.
pub(crate) fn record_bytes(r: &ObesityRecord) -> [u8; RECORD_BYTES] {
    let mut out = [0u8; RECORD_BYTES];
    let numbers = [
        r.age, r.height, r.weight, r.fcvc, r.ncp, r.ch2o, r.faf, r.tue,
    ];
    for (chunk, x) in out.chunks_exact_mut(8).zip(numbers) {
        let x = if x == 0.0 { 0.0 } else { x };
        chunk.copy_from_slice(&x.to_bits().to_le_bytes());
    }
    let codes = [
        r.gender.index() as u8,
        u8::from(r.family_history_with_overweight),
        u8::from(r.favc),
        r.caec.index() as u8,
        u8::from(r.smoke),
        u8::from(r.scc),
        r.calc.index() as u8,
        r.mtrans.index() as u8,
        r.target.map_or(u8::MAX, |t| t.index() as u8),
    ];
    out[64..].copy_from_slice(&codes);
    out
}

/// SHA-256 of the canonical encoding of `records`: a version prefix, then each record as
/// 73 fixed-width bytes (numbers as IEEE-754 bits, categories as level
/// indices). Binary rather than text, so no number formatting is involved: it is exact and
/// costs one pass of SHA-256 over 73 bytes per record.
pub fn canonical_digest(records: &[ObesityRecord]) -> Digest {
    let mut hasher = Sha256::new();
    hasher.update(CANONICAL_PREFIX);
    for r in records {
        hasher.update(record_bytes(r));
    }
    Digest(hasher.finalize().into())
}
