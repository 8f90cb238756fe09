//! File primitives of the local store: atomic writes staged where MLflow never looks, the
//! cross-process lock, tolerant reads.
//!
//! Every write happens through a [`Writer`], which holds the store lock. Its bytes first go to
//! a fresh file in the store's staging folder (`<root>/.mlruns-tmp.trash`), are fsynced, then
//! renamed onto the target and the target's folder is fsynced: a reader sees the old or the
//! new content, never half of it. New entity folders (experiment, run, registered model,
//! version) are built complete inside the staging folder and renamed into place last.
//!
//! MLflow's `FileStore` lists the store root's folders as experiments except those whose name
//! ends with `.trash` (`_get_active_experiments`), and `mlflow migrate-filestore` takes only
//! numeric folder names, so nothing in the staging folder is ever read by MLflow. A process
//! killed mid-write leaves at worst a file or folder in there, which the next
//! [`LocalStore::open`](super::LocalStore::open) removes under the lock (every staged entry
//! belongs to a writer holding the lock, so when the lock is free they are all stale).
//!
//! Only when a target cannot be reached by a rename from the staging folder (an artifact
//! location on another file system) is the file staged next to its target, under the
//! [`TMP_PREFIX`] name that readers skip.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::validate::{LEGACY_TMP_PREFIX, TMP_PREFIX};

/// Creates `dir` and its parents.
pub(crate) fn create_dir_all(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

fn fresh_name() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Creates `path` (which must not exist), writes `bytes` and fsyncs it. On failure the file
/// is removed.
fn write_new_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        file.write_all(bytes).map_err(|e| Error::io(path, e))?;
        file.sync_all().map_err(|e| Error::io(path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(path);
    }
    result
}

/// The first existing path component of `path` below `base` (excluded) that is a symbolic
/// link, if any. Components that do not exist yet end the check: nothing below them exists
/// either. Paths outside `base` are not checked.
pub(crate) fn first_symlink(base: &Path, path: &Path) -> Result<Option<PathBuf>> {
    let Ok(rel) = path.strip_prefix(base) else {
        return Ok(None);
    };
    let mut p = base.to_path_buf();
    for c in rel.components() {
        p.push(c);
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => return Ok(Some(p)),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&p, e)),
        }
    }
    Ok(None)
}

/// Refuses a path inside the store that goes through a symbolic link.
fn refuse_symlinks(root: &Path, path: &Path) -> Result<()> {
    match first_symlink(root, path)? {
        None => Ok(()),
        Some(link) => Err(Error::Corrupt {
            path: link,
            reason: format!(
                "is a symbolic link; the store never follows links inside its folder (writing {})",
                path.display()
            ),
        }),
    }
}

/// The right to write to a store: holds the store lock for as long as it lives, and stages
/// every write in the store's staging folder.
pub(crate) struct Writer {
    _lock: StoreLock,
    root: PathBuf,
    staging: PathBuf,
}

impl Writer {
    /// Takes the store lock (blocking) for writing below `root`, staging in `staging`.
    pub(crate) fn acquire(lock_path: &Path, root: &Path, staging: &Path) -> Result<Self> {
        let lock = StoreLock::acquire(lock_path)?;
        Ok(Writer {
            _lock: lock,
            root: root.to_path_buf(),
            staging: staging.to_path_buf(),
        })
    }

    /// A fresh path inside the staging folder (created if it went missing).
    fn staged_path(&self) -> Result<PathBuf> {
        if !self.staging.is_dir() {
            create_dir_all(&self.staging)?;
        }
        Ok(self.staging.join(fresh_name()))
    }

    /// Writes `bytes` to a fresh fsynced file in the staging folder.
    fn stage(&self, bytes: &[u8]) -> Result<PathBuf> {
        let tmp = self.staged_path()?;
        write_new_file(&tmp, bytes)?;
        Ok(tmp)
    }

    /// Renames a staged file onto `dest` (creating its folder). Falls back to staging next to
    /// `dest` when the rename would cross file systems. Does not fsync `dest`'s folder.
    fn publish_file(&self, tmp: &Path, dest: &Path, bytes: &[u8]) -> Result<()> {
        let parent = dest.parent().ok_or_else(|| Error::Corrupt {
            path: dest.to_path_buf(),
            reason: "path has no parent folder".into(),
        })?;
        let result = (|| {
            refuse_symlinks(&self.root, dest)?;
            create_dir_all(parent)?;
            match fs::rename(tmp, dest) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == ErrorKind::CrossesDevices => {
                    let _ = fs::remove_file(tmp);
                    let side = parent.join(format!("{TMP_PREFIX}-{}", fresh_name()));
                    write_new_file(&side, bytes)?;
                    fs::rename(&side, dest).map_err(|e| {
                        let _ = fs::remove_file(&side);
                        Error::io(dest, e)
                    })
                }
                Err(e) => Err(Error::io(dest, e)),
            }
        })();
        if result.is_err() {
            let _ = fs::remove_file(tmp);
        }
        result
    }

    /// Writes `bytes` to `dest` atomically. Creates missing parent folders.
    pub(crate) fn write(&self, dest: &Path, bytes: &[u8]) -> Result<()> {
        let tmp = self.stage(bytes)?;
        self.publish_file(&tmp, dest, bytes)?;
        match dest.parent() {
            Some(dir) => sync_dir(dir),
            None => Ok(()),
        }
    }

    /// Writes several files, each atomically, with one fsync per file and one per distinct
    /// folder (instead of one per file): all files are staged and fsynced, then renamed, then
    /// their folders fsynced. Used by `log_batch`, where a batch touches many small files.
    pub(crate) fn write_many(&self, files: &[(PathBuf, Vec<u8>)]) -> Result<()> {
        // Stage every file (write + fsync). The fsyncs run on scoped threads: the file system
        // commits concurrent fsyncs together, so a batch of ten small files costs about one
        // fsync instead of ten.
        let staged: Vec<Result<PathBuf>> = if files.len() <= 1 {
            files.iter().map(|(_, b)| self.stage(b)).collect()
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = files
                    .iter()
                    .map(|(_, b)| s.spawn(move || self.stage(b)))
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
        for (i, (tmp, (path, bytes))) in staged.iter().zip(files).enumerate() {
            if let Err(e) = self.publish_file(tmp, path, bytes) {
                for t in staged.get(i + 1..).unwrap_or(&[]) {
                    let _ = fs::remove_file(t);
                }
                return Err(e);
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

    /// A fresh empty folder in the staging folder, to build a new entity in; fill it with
    /// [`Writer::put`] and move it into place with [`Writer::publish_dir`].
    pub(crate) fn new_dir(&self) -> Result<PathBuf> {
        let dir = self.staged_path()?;
        create_dir_all(&dir)?;
        Ok(dir)
    }

    /// Writes a new file inside a folder made by [`Writer::new_dir`] (creating sub-folders).
    pub(crate) fn put(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        if let Some(dir) = path.parent() {
            create_dir_all(dir)?;
        }
        write_new_file(path, bytes)
    }

    /// Moves a folder built with [`Writer::new_dir`] to `dest` (which must not exist, or be an
    /// empty folder), after fsyncing every folder inside it; fsyncs `dest`'s parent. On
    /// failure the built folder is removed.
    pub(crate) fn publish_dir(&self, built: &Path, dest: &Path) -> Result<()> {
        let result = (|| {
            sync_tree(built)?;
            let parent = dest.parent().ok_or_else(|| Error::Corrupt {
                path: dest.to_path_buf(),
                reason: "path has no parent folder".into(),
            })?;
            refuse_symlinks(&self.root, dest)?;
            create_dir_all(parent)?;
            fs::rename(built, dest).map_err(|e| Error::io(dest, e))?;
            sync_dir(parent)
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(built);
        }
        result
    }
}

/// Fsyncs `dir` and every folder below it (not following links).
fn sync_tree(dir: &Path) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let ft = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
        if ft.is_dir() {
            sync_tree(&entry.path())?;
        }
    }
    sync_dir(dir)
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

/// Removes everything inside the staging folder; returns how many entries were removed.
/// Call only while holding the store lock (then every entry is a dead writer's leftover).
pub(crate) fn clean_staging(staging: &Path) -> Result<usize> {
    let entries = match fs::read_dir(staging) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(staging, e)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(staging, e))?;
        remove_entry(&entry)?;
        removed += 1;
    }
    Ok(removed)
}

fn remove_entry(entry: &fs::DirEntry) -> Result<()> {
    let path = entry.path();
    let ft = entry.file_type().map_err(|e| Error::io(&path, e))?;
    let removed = if ft.is_dir() {
        fs::remove_dir_all(&path)
    } else {
        fs::remove_file(&path)
    };
    match removed {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Removes, anywhere below `dir` (not following links, skipping `skip`), the temp files and
/// folders that earlier versions of this crate left next to their targets (names starting
/// with [`LEGACY_TMP_PREFIX`] or [`TMP_PREFIX`]). Returns how many were removed. Call only
/// while holding the store lock.
pub(crate) fn sweep_temp_names(dir: &Path, skip: &Path) -> Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        if path == skip {
            continue;
        }
        if entry.file_name().to_str().is_some_and(is_temp) {
            remove_entry(&entry)?;
            removed += 1;
        } else if entry.file_type().map_err(|e| Error::io(&path, e))?.is_dir() {
            removed += sweep_temp_names(&path, skip)?;
        }
    }
    Ok(removed)
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

/// Whether a directory entry name is a temporary file of this crate (current or legacy).
pub(crate) fn is_temp(name: &str) -> bool {
    name.starts_with(TMP_PREFIX) || name.starts_with(LEGACY_TMP_PREFIX)
}

/// The names of the sub-folders of `dir` (empty when `dir` does not exist), sorted.
pub(crate) fn list_dirs(dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let ft = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
        if !ft.is_dir() {
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
/// `/`-joined relative path (MLflow keys may contain `/`). Temporary files and symbolic links
/// are skipped.
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
        } else if ft.is_file()
            && let Some(content) = read_string_opt(&path)?
        {
            out.push((key, content));
        }
    }
    Ok(())
}

/// An exclusive lock on the store, held until dropped.
///
/// Uses `File::lock` (an OS advisory lock, `flock` on Unix) on the store's lock file. Each
/// acquisition opens its own handle, so threads of one process exclude each other as well
/// as separate processes do; the OS releases the lock when a process dies.
pub(crate) struct StoreLock {
    _file: File,
}

impl StoreLock {
    fn open(lock_path: &Path) -> Result<File> {
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(lock_path)
            .map_err(|e| Error::io(lock_path, e))
    }

    /// Blocks until the lock on `lock_path` is held.
    pub(crate) fn acquire(lock_path: &Path) -> Result<Self> {
        let file = Self::open(lock_path)?;
        file.lock().map_err(|e| Error::io(lock_path, e))?;
        Ok(StoreLock { _file: file })
    }

    /// The lock if nobody holds it now, `None` if somebody does.
    pub(crate) fn try_acquire(lock_path: &Path) -> Result<Option<Self>> {
        let file = Self::open(lock_path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(StoreLock { _file: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(Error::io(lock_path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_symlink_finds_a_linked_folder_below_the_base_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = dir.path().join("base");
        fs::create_dir_all(base.join("a/b")).expect("dirs");
        assert_eq!(
            first_symlink(&base, &base.join("a/b/c/d")).expect("ok"),
            None
        );
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path(), base.join("a/link")).expect("symlink");
            assert_eq!(
                first_symlink(&base, &base.join("a/link/x")).expect("ok"),
                Some(base.join("a/link"))
            );
            // The base itself may be reached through a link: it is not checked.
            std::os::unix::fs::symlink(&base, dir.path().join("alias")).expect("symlink");
            let alias = dir.path().join("alias");
            assert_eq!(first_symlink(&alias, &alias.join("a/b")).expect("ok"), None);
        }
    }
}
