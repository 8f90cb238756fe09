//! An append-only JSON-lines file that survives crashes: each event is one line written with
//! a single `write` and an `fsync`, so a crash can tear at most the line being written; on
//! reopen a torn last line is reported and cut off, and every earlier line is kept. The file
//! is locked (an advisory exclusive lock) while open, so two writers never interleave.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{MonitorError, Result};

/// A damaged last line found (and removed) when a JSON-lines log was reopened: the trace of
/// a write interrupted by a crash. Everything before it was kept.
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

/// The open log. Appends only; readers load everything at open time.
#[derive(Debug)]
pub(crate) struct JsonlLog {
    path: PathBuf,
    file: File,
    len: u64,
}

/// What [`JsonlLog::open`] found on disk.
pub(crate) struct Opened<T> {
    pub(crate) log: JsonlLog,
    pub(crate) events: Vec<T>,
    pub(crate) torn: Option<TornTail>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MonitorError + '_ {
    move |source| MonitorError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl JsonlLog {
    /// Opens (creating it and its directory if needed) the log at `path` and reads every
    /// event back. A last line that does not parse is a torn write: it is logged as a
    /// warning, cut off the file and reported in [`Opened::torn`]. A bad line anywhere else
    /// is not a crash artefact but damage, so it is an error naming the line, and the file
    /// is left untouched.
    pub(crate) fn open<T: DeserializeOwned>(path: &Path) -> Result<Opened<T>> {
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
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io(path))?;

        // Split into (start, end, terminated) segments, one per line.
        let mut segments = Vec::new();
        let mut start = 0usize;
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'\n' {
                segments.push((start, i, true));
                start = i + 1;
            }
        }
        if start < bytes.len() {
            segments.push((start, bytes.len(), false));
        }
        let last_content = segments
            .iter()
            .rposition(|&(s, e, _)| bytes.get(s..e).is_some_and(|l| !is_blank(l)));

        let mut events = Vec::with_capacity(segments.len());
        let mut good_end = 0usize;
        let mut torn = None;
        let mut needs_newline = false;
        for (idx, &(s, e, terminated)) in segments.iter().enumerate() {
            let line = bytes.get(s..e).unwrap_or_default();
            if is_blank(line) {
                good_end = if terminated { e + 1 } else { e };
                continue;
            }
            match serde_json::from_slice::<T>(line) {
                Ok(ev) => {
                    events.push(ev);
                    good_end = if terminated { e + 1 } else { e };
                    needs_newline = !terminated;
                }
                Err(err) if Some(idx) == last_content => {
                    torn = Some(TornTail {
                        path: path.to_path_buf(),
                        line: idx + 1,
                        bytes_removed: (bytes.len() - s) as u64,
                        reason: err.to_string(),
                    });
                    good_end = s;
                    needs_newline = false;
                    break;
                }
                Err(err) => {
                    return Err(MonitorError::CorruptLog {
                        path: path.to_path_buf(),
                        line: idx + 1,
                        reason: err.to_string(),
                    });
                }
            }
        }

        if let Some(t) = &torn {
            tracing::warn!(
                path = %t.path.display(),
                line = t.line,
                bytes = t.bytes_removed,
                reason = %t.reason,
                "torn last line in monitoring log (interrupted write); removed it, earlier lines kept"
            );
            file.set_len(good_end as u64).map_err(io(path))?;
            file.sync_all().map_err(io(path))?;
        }
        let mut len = good_end as u64;
        if needs_newline {
            // The last event is complete but its newline never reached the disk.
            file.write_all(b"\n").map_err(io(path))?;
            file.sync_data().map_err(io(path))?;
            len += 1;
        }
        Ok(Opened {
            log: JsonlLog {
                path: path.to_path_buf(),
                file,
                len,
            },
            events,
            torn,
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

    /// Replaces the whole log with `events`, atomically: they are written to a locked
    /// temporary file next to it, fsynced, and renamed over the log, so a crash leaves either
    /// the old log or the new one. The log stays locked throughout.
    pub(crate) fn rewrite<T: Serialize>(&mut self, events: &[T]) -> Result<()> {
        let tmp = self.path.with_extension("jsonl.rewrite-tmp");
        let mut buf = Vec::new();
        for e in events {
            serde_json::to_writer(&mut buf, e).map_err(|source| MonitorError::Json {
                path: tmp.clone(),
                source,
            })?;
            buf.push(b'\n');
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io(&tmp))?;
        let written = file
            .try_lock()
            .map_err(std::io::Error::from)
            .and_then(|()| (&file).write_all(&buf))
            .and_then(|()| file.sync_all())
            .and_then(|()| fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io(&self.path)(e));
        }
        if let Some(dir) = self.path.parent()
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        // `file` now is the log (and holds its lock); the old handle's lock goes with it.
        self.file = file;
        self.len = buf.len() as u64;
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
