//! The versioned, checksummed envelope every model file of this crate is wrapped in, public
//! so that a custom [`Classifier`](crate::Classifier) does not have to invent a file format:
//! give it an 8-byte magic of its own, [`seal`] its payload in `to_bytes`, and [`open`] it in
//! the loader it registers with the registry.
//!
//! Layout (all integers little-endian):
//!
//! | offset | bytes | content |
//! |---|---|---|
//! | 0 | 8 | magic: the format's name, e.g. `OBFOREST` (random forest), `OBLINFDT` (linfa tree) |
//! | 8 | 4 | envelope version (`u32`, currently [`VERSION`]) |
//! | 12 | 8 | payload length `n` (`u64`) |
//! | 20 | n | payload |
//! | 20 + n | 4 | CRC32 (IEEE, `crc32fast`) of bytes `0 .. 20 + n` |
//!
//! The checksum only catches accidents (a truncated download, a flipped bit): a file edited
//! and resealed passes it. [`open`] checks the structure — magic, version, the announced
//! length against the bytes present, nothing after the checksum — and the checksum; the
//! payload's own fields are still the caller's to check before it trusts them.
//!
//! ```
//! use obesity_forest::envelope;
//!
//! let bytes = envelope::seal(b"MYCENTRD", b"payload of my model");
//! assert_eq!(envelope::open(&bytes, b"MYCENTRD", "my_centroids")?, b"payload of my model");
//! // Another format's magic, a cut file or a flipped bit are errors, never a panic.
//! assert!(envelope::open(&bytes, b"OBFOREST", "random_forest").is_err());
//! assert!(envelope::open(&bytes[..bytes.len() - 1], b"MYCENTRD", "my_centroids").is_err());
//! # Ok::<(), obesity_forest::ModelError>(())
//! ```

use crate::error::{ModelError, Result};

/// The envelope version this build writes and reads.
pub const VERSION: u32 = 1;
const HEADER: usize = 20;

/// Wraps `payload` in the envelope under `magic`.
pub fn seal(magic: &[u8; 8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len() + 4);
    out.extend_from_slice(magic);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Escapes the first bytes for an error message.
pub(crate) fn describe_header(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(8)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect()
}

/// Checks the envelope of `bytes` (magic, version, length, nothing trailing, checksum) and
/// returns the payload. `format` names the format in error messages.
///
/// # Errors
/// [`ModelError::UnknownFormat`] for another magic, [`ModelError::UnsupportedVersion`],
/// [`ModelError::Truncated`] when the announced payload or checksum is missing,
/// [`ModelError::Corrupt`] for bytes after the checksum, [`ModelError::ChecksumMismatch`].
pub fn open<'a>(bytes: &'a [u8], magic: &[u8; 8], format: &'static str) -> Result<&'a [u8]> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let m = r.take(8, "magic")?;
    if m != magic {
        return Err(ModelError::UnknownFormat {
            found: describe_header(m),
            known: describe_header(magic),
        });
    }
    let version = r.u32("format version")?;
    if version != VERSION {
        return Err(ModelError::UnsupportedVersion {
            format,
            found: version,
            supported: VERSION,
        });
    }
    let len = r.u64("payload length")?;
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    let payload = r.take(len, "payload")?;
    let stored = r.u32("checksum")?;
    if r.pos != bytes.len() {
        return Err(ModelError::Corrupt {
            reason: format!(
                "{} unexpected bytes after the checksum",
                bytes.len() - r.pos
            ),
        });
    }
    let computed = crc32fast::hash(&bytes[..HEADER + len]);
    if stored != computed {
        return Err(ModelError::ChecksumMismatch { stored, computed });
    }
    Ok(payload)
}

/// A bounds-checked little-endian cursor.
pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let available = self.buf.len() - self.pos;
        if n > available {
            return Err(ModelError::Truncated {
                what,
                needed: n,
                offset: self.pos,
                available,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32> {
        self.array(what).map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// `n` fixed-size items, with the length checked before anything is allocated.
    pub(crate) fn items<T, const N: usize>(
        &mut self,
        n: usize,
        what: &'static str,
        conv: fn([u8; N]) -> T,
    ) -> Result<Vec<T>> {
        let bytes = n.checked_mul(N).ok_or(ModelError::Corrupt {
            reason: format!("{what}: length overflows"),
        })?;
        let s = self.take(bytes, what)?;
        Ok(s.chunks_exact(N)
            .map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                conv(a)
            })
            .collect())
    }
}
