//! An append-only JSON-lines file that survives crashes and newer versions: each event is
//! one line written with a single `write` and an `fsync`, so a crash can tear at most the
//! line being written, and a torn line never has its newline.
//!
//! On reopen, line by line:
//! * a last line **without** its trailing newline that is not valid JSON is a torn write: it
//!   is reported ([`TornTail`]) and cut off — the only bytes this module ever removes;
//!   a last line without its newline that *is* valid JSON is a complete record whose newline
//!   was lost: the newline is added and the line read like any other;
//! * a complete line holding a record of a kind or format version this build does not know
//!   (written by a newer version) is kept on disk, skipped, logged as a warning and reported
//!   ([`SkippedLine`]), wherever it is in the file;
//! * a complete line that is not valid JSON (disk damage, or a torn write that someone else's
//!   appends were glued to), or valid JSON that is no record at all, is likewise kept,
//!   skipped, warned about and reported: it may still be recoverable by hand, so it is never
//!   deleted;
//! * a line that claims to be a record this build knows but does not read as one is damage
//!   to data the monitor depends on: opening fails with [`MonitorError::CorruptLog`] naming
//!   the file and the line, and the file is left untouched.
//!
//! Skipped lines survive [`JsonlLog::rewrite`] (compaction), at the head of the new file.
//! The file is locked (an advisory exclusive lock) while open, so two writers never
//! interleave.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{MonitorError, Result};

/// A torn last line found (and removed) when a JSON-lines log was reopened: the trace of a
/// write interrupted by a crash. It had no trailing newline and was not valid JSON;
/// everything before it was kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TornTail {
    /// The log file.
    pub path: PathBuf,
    /// 1-based line number of the torn line.
    pub line: usize,
    /// How many bytes were cut off.
    pub bytes_removed: u64,
    /// Why the line could not be read (the JSON parser's message).
    pub reason: String,
}

/// Why a complete line of a log was kept on disk but not replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// Valid JSON holding a record kind or format version this build does not know: the line
    /// was written by a newer version.
    NewerFormat {
        /// What was not understood (the event kind, or the version).
        detail: String,
    },
    /// Valid JSON that is not a record at all (not an object, or without the field that
    /// names its kind).
    NotARecord {
        /// What is missing.
        detail: String,
    },
    /// Not valid JSON.
    MalformedJson {
        /// The JSON parser's message.
        error: String,
    },
}

/// A complete line of a JSON-lines log that was kept on disk but skipped when the log was
/// read back (see [`SkipReason`]). A warning is logged for each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedLine {
    /// The log file.
    pub path: PathBuf,
    /// 1-based line number when the log was opened.
    pub line: usize,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// A record type stored in a [`JsonlLog`].
pub(crate) trait LogRecord: DeserializeOwned {
    /// Why `value` — one parsed line, a JSON object — is not a record this build can read:
    /// a kind or format version from a newer build ([`SkipReason::NewerFormat`]) or no
    /// record at all ([`SkipReason::NotARecord`]). `None` means the line claims to be a
    /// record this build knows, so failing to read it is damage.
    fn unreadable(value: &serde_json::Value) -> Option<SkipReason>;
}

/// [`SkipReason::NewerFormat`] when the line's `v` field is a number above `current`.
pub(crate) fn newer_version(value: &serde_json::Value, current: u32) -> Option<SkipReason> {
    let v = value.get("v")?.as_u64()?;
    (v > u64::from(current)).then(|| SkipReason::NewerFormat {
        detail: format!("format version {v} (this build reads up to {current})"),
    })
}

/// The open log. Appends only; readers stream it at open time.
#[derive(Debug)]
pub(crate) struct JsonlLog {
    path: PathBuf,
    file: File,
    len: u64,
    /// The skipped lines' bytes (without newline), kept through rewrites.
    kept: Vec<Vec<u8>>,
}

/// What [`JsonlLog::open_with`] found on disk (the records went to its callback).
pub(crate) struct Streamed {
    pub(crate) log: JsonlLog,
    pub(crate) torn: Option<TornTail>,
    pub(crate) skipped: Vec<SkippedLine>,
}

/// What [`JsonlLog::open`] found on disk.
pub(crate) struct Opened<T> {
    pub(crate) log: JsonlLog,
    /// The records, each with its 1-based line number.
    pub(crate) events: Vec<(usize, T)>,
    pub(crate) torn: Option<TornTail>,
    pub(crate) skipped: Vec<SkippedLine>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MonitorError + '_ {
    move |source| MonitorError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl JsonlLog {
    /// Opens (creating it and its directory if needed) the log at `path` and reads every
    /// record back, as the module documentation describes, collecting them.
    pub(crate) fn open<T: LogRecord>(path: &Path) -> Result<Opened<T>> {
        let mut events = Vec::new();
        let streamed = Self::open_with(path, |line, ev| {
            events.push((line, ev));
            Ok(())
        })?;
        Ok(Opened {
            log: streamed.log,
            events,
            torn: streamed.torn,
            skipped: streamed.skipped,
        })
    }

    /// Like [`JsonlLog::open`], but hands each record to `on_record` (with its 1-based line
    /// number) as it is read, holding one line in memory at a time. An error from
    /// `on_record` stops the open and is returned; the file is then left untouched.
    pub(crate) fn open_with<T: LogRecord>(
        path: &Path,
        mut on_record: impl FnMut(usize, T) -> Result<()>,
    ) -> Result<Streamed> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io(dir))?;
        }
        // One writer per log: take an exclusive lock before reading, so no other process can
        // append between our read and our first write, or cut a line we are writing.
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io(path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(MonitorError::Locked {
                    path: path.to_path_buf(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(path)(e)),
        }

        let mut skipped = Vec::new();
        let mut kept = Vec::new();
        let mut torn = None;
        let mut pos = 0u64;
        let mut good_end = None;
        let mut needs_newline = false;
        let mut line_no = 0usize;
        let mut buf = Vec::new();
        {
            let mut reader = BufReader::with_capacity(1 << 16, &file);
            loop {
                buf.clear();
                let n = reader.read_until(b'\n', &mut buf).map_err(io(path))?;
                if n == 0 {
                    break;
                }
                line_no += 1;
                let start = pos;
                pos += n as u64;
                let terminated = buf.last() == Some(&b'\n');
                let line = if terminated { &buf[..n - 1] } else { &buf[..] };
                if is_blank(line) {
                    continue;
                }
                let value = match serde_json::from_slice::<serde_json::Value>(line) {
                    Ok(value) => value,
                    // No newline and no complete JSON value: a write cut short by a crash.
                    Err(err) if !terminated => {
                        torn = Some(TornTail {
                            path: path.to_path_buf(),
                            line: line_no,
                            bytes_removed: pos - start,
                            reason: err.to_string(),
                        });
                        good_end = Some(start);
                        break;
                    }
                    Err(err) => {
                        let reason = SkipReason::MalformedJson {
                            error: err.to_string(),
                        };
                        skip(path, line_no, reason, line, &mut skipped, &mut kept);
                        continue;
                    }
                };
                // A complete value: if the newline after it was lost, restore it.
                needs_newline = !terminated;
                let unreadable = if value.is_object() {
                    T::unreadable(&value)
                } else {
                    Some(SkipReason::NotARecord {
                        detail: "not a JSON object".into(),
                    })
                };
                if let Some(reason) = unreadable {
                    skip(path, line_no, reason, line, &mut skipped, &mut kept);
                    continue;
                }
                match serde_json::from_value::<T>(value) {
                    Ok(ev) => on_record(line_no, ev)?,
                    Err(err) => {
                        return Err(MonitorError::CorruptLog {
                            path: path.to_path_buf(),
                            line: line_no,
                            reason: err.to_string(),
                        });
                    }
                }
            }
        }

        let mut len = good_end.unwrap_or(pos);
        if let Some(t) = &torn {
            tracing::warn!(
                path = %t.path.display(),
                line = t.line,
                bytes = t.bytes_removed,
                reason = %t.reason,
                "torn last line in log (interrupted write, no newline); removed it, earlier lines kept"
            );
            file.set_len(len).map_err(io(path))?;
            file.sync_all().map_err(io(path))?;
        }
        if needs_newline {
            // The last line is complete but its newline never reached the disk.
            file.write_all(b"\n").map_err(io(path))?;
            file.sync_data().map_err(io(path))?;
            len += 1;
        }
        Ok(Streamed {
            log: JsonlLog {
                path: path.to_path_buf(),
                file,
                len,
                kept,
            },
            torn,
            skipped,
        })
    }

    /// Appends one event as one line: a single `write` of the whole line, then `fsync`.
    /// If the write fails half-way the file is cut back to its previous length, so a failed
    /// append never leaves a fragment for the next one to be glued to.
    pub(crate) fn append<T: Serialize>(&mut self, event: &T) -> Result<()> {
        let mut buf = serde_json::to_vec(event).map_err(|source| MonitorError::Json {
            path: self.path.clone(),
            source,
        })?;
        buf.push(b'\n');
        let written = self
            .file
            .write_all(&buf)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Best effort: remove whatever part of the line made it to disk.
            let _ = self.file.set_len(self.len);
            return Err(io(&self.path)(e));
        }
        self.len += buf.len() as u64;
        Ok(())
    }

    /// Rewrites the log keeping only the record lines `keep` accepts, atomically: the lines
    /// are streamed (one in memory at a time) to a locked temporary file next to it, which
    /// is fsynced and renamed over the log, so a crash leaves either the old log or the new
    /// one. The log stays locked throughout. Lines skipped at open (newer formats, malformed
    /// JSON) are written first, unchanged, and `keep` must reject them where they stand: a
    /// rewrite never drops data this build could not read.
    pub(crate) fn rewrite_filtered(&mut self, mut keep: impl FnMut(&[u8]) -> bool) -> Result<()> {
        let mut written = 0u64;
        let kept = &self.kept;
        let log = &self.path;
        let file = obesity_data::write_atomic_with(&self.path, |file| {
            file.try_lock().map_err(std::io::Error::from)?;
            let mut out = BufWriter::with_capacity(1 << 16, &*file);
            for line in kept {
                out.write_all(line)?;
                out.write_all(b"\n")?;
                written += line.len() as u64 + 1;
            }
            let mut reader = BufReader::with_capacity(1 << 16, File::open(log)?);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                let n = reader.read_until(b'\n', &mut buf)?;
                if n == 0 {
                    break;
                }
                let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
                if is_blank(line) || !keep(line) {
                    continue;
                }
                out.write_all(line)?;
                out.write_all(b"\n")?;
                written += line.len() as u64 + 1;
            }
            out.flush()
        })
        .map_err(io(&self.path))?;
        // `file` now is the log (and holds its lock); the old handle's lock goes with it.
        self.file = file;
        self.len = written;
        Ok(())
    }

    /// The file this log writes to.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// Records a skipped line: a warning, a report, and its bytes kept for rewrites.
fn skip(
    path: &Path,
    line: usize,
    reason: SkipReason,
    bytes: &[u8],
    skipped: &mut Vec<SkippedLine>,
    kept: &mut Vec<Vec<u8>>,
) {
    match &reason {
        SkipReason::NewerFormat { detail } => tracing::warn!(
            path = %path.display(),
            line,
            detail = %detail,
            "log line written by a newer version (unknown kind or format): kept and skipped"
        ),
        SkipReason::NotARecord { detail } => tracing::warn!(
            path = %path.display(),
            line,
            detail = %detail,
            "log line is not a record: kept on disk and skipped"
        ),
        SkipReason::MalformedJson { error } => tracing::warn!(
            path = %path.display(),
            line,
            error = %error,
            "log line is not valid JSON: kept on disk and skipped"
        ),
    }
    skipped.push(SkippedLine {
        path: path.to_path_buf(),
        line,
        reason,
    });
    kept.push(bytes.to_vec());
}
