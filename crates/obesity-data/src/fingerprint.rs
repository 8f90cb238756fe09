//! Content fingerprints for lineage (what DVC calls the data's hash): one over the meaning of
//! the rows, one over the exact bytes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::record::ObesityRecord;
use crate::table::{ColumnData, Table};

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
/// * `canonical` hashes the rows' meaning, not their spelling: each row's values in the
///   schema's column order as fixed-width binary (see [`Table::canonical_digest`]). The same
///   rows in the same order give the same hash whatever the file's column order, line
///   endings, byte-order mark, whitespace around fields or number spelling (`21` vs `21.0`).
///   Rows that a lenient load rejected are not part of it.
/// * `raw` hashes the file's bytes exactly, like `sha256sum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fingerprint {
    /// SHA-256 of the canonical form of the loaded rows.
    pub canonical: Digest,
    /// SHA-256 of the raw input bytes.
    pub raw: Digest,
}

impl Fingerprint {
    /// The fingerprint of obesity `records` read from `raw_bytes`.
    pub fn new(records: &[ObesityRecord], raw_bytes: &[u8]) -> Self {
        Fingerprint::of_table(&Table::from_records(records), raw_bytes)
    }

    /// The fingerprint of `table` (any schema) read from `raw_bytes`.
    pub fn of_table(table: &Table, raw_bytes: &[u8]) -> Self {
        Fingerprint {
            canonical: table.canonical_digest(),
            raw: Digest::of_bytes(raw_bytes),
        }
    }
}

/// Domain separator and version of the canonical encoding: a change of encoding must
/// change every hash rather than collide with old ones.
const CANONICAL_PREFIX: &[u8] = b"obesity-data/canonical/v1\n";

/// Writes rows of one table in the canonical encoding (see [`Table::canonical_digest`]).
pub(crate) struct RowEncoder<'a> {
    numeric: Vec<&'a [f64]>,
    /// Codes of each categorical or binary feature, with whether they take one byte.
    codes: Vec<(&'a [u32], bool)>,
    target: &'a [Option<u32>],
    target_byte: bool,
}

impl<'a> RowEncoder<'a> {
    pub(crate) fn new(table: &'a Table) -> Self {
        let mut numeric = Vec::new();
        let mut codes = Vec::new();
        for (spec, data) in table.columns() {
            match data {
                ColumnData::Numeric(v) => numeric.push(v.as_slice()),
                ColumnData::Codes(v) => codes.push((v.as_slice(), spec.n_levels() <= 256)),
            }
        }
        let target_byte = table.schema().target().is_none_or(|t| t.n_levels() <= 255);
        RowEncoder {
            numeric,
            codes,
            target: table.target(),
            target_byte,
        }
    }

    /// Replaces `out` with row `row` in the canonical encoding.
    pub(crate) fn encode(&self, row: usize, out: &mut Vec<u8>) {
        out.clear();
        for column in &self.numeric {
            let x = column.get(row).copied().unwrap_or(f64::NAN);
            let x = if x == 0.0 { 0.0 } else { x };
            out.extend_from_slice(&x.to_bits().to_le_bytes());
        }
        for (column, one_byte) in &self.codes {
            let code = column.get(row).copied().unwrap_or(u32::MAX);
            if *one_byte {
                out.push(code as u8);
            } else {
                out.extend_from_slice(&code.to_le_bytes());
            }
        }
        let target = self.target.get(row).copied().flatten();
        if self.target_byte {
            out.push(target.map_or(u8::MAX, |t| t as u8));
        } else {
            out.extend_from_slice(&target.unwrap_or(u32::MAX).to_le_bytes());
        }
    }
}

impl Table {
    /// SHA-256 of the canonical encoding of the rows: a version prefix
    /// (`obesity-data/canonical/v1` and a newline), then each row as fixed-width bytes:
    /// the numeric features as little-endian IEEE-754 bits in schema order (`-0.0` folded
    /// into `0.0`, as they compare equal), then the code of each categorical or binary
    /// feature in schema order (one byte when the column has at most 256 levels, else four,
    /// little-endian; `no` = 0, `yes` = 1), the target's code last (one byte when it has at
    /// most 255 levels, 255 meaning unlabelled; else four, `u32::MAX` meaning unlabelled).
    ///
    /// Binary rather than text, so no number formatting is involved: it is exact and costs
    /// one pass of SHA-256 over the rows. For the obesity schema a row is 73 bytes (8
    /// numbers, 8 codes, the target), the encoding [`canonical_digest`] has always used.
    /// The hash identifies rows under their schema: two tables of different schemas are
    /// compared by their schemas first.
    ///
    /// # Examples
    ///
    /// ```
    /// use obesity_data::{ColumnSpec, LoadOptions, Schema, load_table_bytes};
    ///
    /// let schema = Schema::new(vec![
    ///     ColumnSpec::numeric("x", "m", 0.0, 10.0),
    ///     ColumnSpec::categorical("class", ["a", "b"]).target(),
    /// ])?;
    /// let load = |csv: &str| load_table_bytes("t.csv", csv.as_bytes(), &schema, &LoadOptions::strict());
    /// let a = load("x,class\n1,a\n2.0,b\n")?;
    /// let b = load("\u{feff}class , x\r\na,1.0\r\nb, 2\r\n")?;
    /// assert_eq!(a.table.canonical_digest(), b.table.canonical_digest());
    /// assert_eq!(a.fingerprint.canonical, b.fingerprint.canonical);
    /// assert_ne!(a.fingerprint.raw, b.fingerprint.raw);
    /// # Ok::<(), obesity_data::DataError>(())
    /// ```
    pub fn canonical_digest(&self) -> Digest {
        let encoder = RowEncoder::new(self);
        let mut hasher = Sha256::new();
        hasher.update(CANONICAL_PREFIX);
        let mut row = Vec::new();
        for i in 0..self.n_rows() {
            encoder.encode(i, &mut row);
            hasher.update(&row);
        }
        Digest(hasher.finalize().into())
    }
}

/// SHA-256 of the canonical encoding of obesity `records` (see [`Table::canonical_digest`]):
/// each record is 73 bytes, the 8 numbers in file order, then the 7 categorical and binary
/// codes (the level's index in its enum's `ALL`; yes = 1, no = 0) in file order, the target
/// last (255 when unlabelled).
pub fn canonical_digest(records: &[ObesityRecord]) -> Digest {
    Table::from_records(records).canonical_digest()
}
