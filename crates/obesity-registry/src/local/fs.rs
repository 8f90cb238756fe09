//! File primitives of the local store: atomic writes, the cross-process lock, tolerant reads.
//!
//! Every write goes to a temporary file in the target's own folder (so the rename never
//! crosses a file system), is fsynced, then renamed over the target, and the folder is
//! fsynced: a reader sees the old or the new content, never half of it, and a crash leaves at
//! worst a `.tmp-obesity*` file that readers skip.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::validate::TMP_PREFIX;

/// Creates `dir` and its parents.
pub(crate) fn create_dir_all(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

/// A fresh temporary name inside `dir`.
pub(crate) fn temp_path(dir: &Path) -> PathBuf {
    dir.join(format!("{TMP_PREFIX}-{}", uuid::Uuid::new_v4().simple()))
}

/// Writes `bytes` to a fresh temp file next to `path` and fsyncs it; the caller renames it
/// into place. On failure the temp file is removed. Returns the temp file's path.
fn stage(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let dir = path.parent().ok_or_else(|| Error::Corrupt {
        path: path.to_path_buf(),
        reason: "path has no parent folder".into(),
    })?;
    create_dir_all(dir)?;
    let tmp = temp_path(dir);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, e))?;
        file.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
        file.sync_all().map_err(|e| Error::io(&tmp, e))
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Writes `bytes` to `path` atomically (temp file in the same folder, fsync, rename, fsync of
/// the folder). Creates missing parent folders.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = stage(path, bytes)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// Writes several files, each atomically, with one fsync per file and one per distinct
/// folder (instead of one per file): all temp files are written and fsynced, then renamed,
/// then their folders fsynced. Used by `log_batch`, where a batch touches many small files.
pub(crate) fn write_atomic_many(files: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    // Stage every file (write + fsync). The fsyncs run on scoped threads: the file system
    // commits concurrent fsyncs together, so a batch of ten small files costs about one
    // fsync instead of ten.
    let staged: Vec<Result<PathBuf>> = if files.len() <= 1 {
        files.iter().map(|(p, b)| stage(p, b)).collect()
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = files
                .iter()
                .map(|(p, b)| s.spawn(move || stage(p, b)))
                .collect();
            handles
                .into_iter()
                .zip(files)
                .map(|(h, (p, _))| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::Corrupt {
                            path: p.clone(),
                            reason: "writer thread panicked".into(),
                        })
                    })
                })
                .collect()
        })
    };
    if let Some(pos) = staged.iter().position(Result::is_err) {
        for tmp in staged.iter().flatten() {
            let _ = fs::remove_file(tmp);
        }
        return match staged.into_iter().nth(pos) {
            Some(Err(e)) => Err(e),
            _ => Ok(()),
        };
    }
    let staged: Vec<PathBuf> = staged.into_iter().flatten().collect();
    let mut dirs: Vec<&Path> = Vec::new();
    for (i, (tmp, (path, _))) in staged.iter().zip(files).enumerate() {
        if let Err(e) = fs::rename(tmp, path) {
            for t in staged.get(i..).unwrap_or(&[]) {
                let _ = fs::remove_file(t);
            }
            return Err(Error::io(path, e));
        }
        if let Some(d) = path.parent()
            && !dirs.contains(&d)
        {
            dirs.push(d);
        }
    }
    for d in dirs {
        sync_dir(d)?;
    }
    Ok(())
}

/// Fsyncs a folder so that a rename inside it survives a power loss.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    // Opening a directory read-only and calling fsync works on Unix; on Windows directories
    // cannot be opened this way and renames are already durable enough, so failure to open
    // is ignored there.
    match File::open(dir) {
        Ok(f) => match f.sync_all() {
            Ok(()) => Ok(()),
            Err(e) if cfg!(windows) => {
                let _ = e;
                Ok(())
            }
            Err(e) => Err(Error::io(dir, e)),
        },
        Err(_) if cfg!(windows) => Ok(()),
        Err(e) => Err(Error::io(dir, e)),
    }
}

/// Reads a file as UTF-8; `Ok(None)` when it does not exist.
pub(crate) fn read_string_opt(path: &Path) -> Result<Option<String>> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Error::Corrupt {
                path: path.to_path_buf(),
                reason: "not valid UTF-8".into(),
            }),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Whether a directory entry name is one of our temporary files.
pub(crate) fn is_temp(name: &str) -> bool {
    name.starts_with(TMP_PREFIX)
}

/// The names of the sub-folders of `dir` (empty when `dir` does not exist), sorted.
pub(crate) fn list_dirs(dir: &Path) -> Result<Vec<String>> {
    list(dir, true)
}

fn list(dir: &Path, want_dirs: bool) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let ft = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
        if ft.is_dir() != want_dirs {
            continue;
        }
        if let Some(name) = entry.file_name().to_str()
            && !is_temp(name)
        {
            out.push(name.to_string());
        }
    }
    out.sort();
    Ok(out)
}

/// Reads every file below `dir` recursively as `key → content`, where the key is the
/// `/`-joined relative path (MLflow keys may contain `/`). Temporary files are skipped.
pub(crate) fn read_key_files(dir: &Path) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if is_temp(&name) {
            continue;
        }
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let path = entry.path();
        let ft = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if ft.is_dir() {
            walk(&path, &key, out)?;
        } else if let Some(content) = read_string_opt(&path)? {
            out.push((key, content));
        }
    }
    Ok(())
}

/// An exclusive lock on the store, held until dropped.
///
/// Uses `File::lock` (an OS advisory lock, `flock` on Unix) on `<root>/.obesity.lock`. Each
/// acquisition opens its own handle, so threads of one process exclude each other as well
/// as separate processes do; the OS releases the lock when a process dies.
pub(crate) struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Blocks until the lock on `lock_path` is held.
    pub(crate) fn acquire(lock_path: &Path) -> Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(lock_path)
            .map_err(|e| Error::io(lock_path, e))?;
        file.lock().map_err(|e| Error::io(lock_path, e))?;
        Ok(StoreLock { _file: file })
    }
}
