//! Runs independent jobs (one model fit each) on a few plain worker threads.
//!
//! Why not `par_iter`: a model may run its own rayon work (the forest builds its trees in
//! parallel, or in a private one-thread pool). A rayon worker that waits on such work steals
//! other jobs meanwhile and runs them on top of its own stack; with hundreds of fits this
//! nesting overflowed the stack in the original Python project's grid search. Plain threads that block while a
//! fit runs cannot nest, and models that use rayon still get the global pool.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::error::Result;

/// Default number of workers: rayon's thread count (the `RAYON_NUM_THREADS` or core count,
/// or the size of the pool the caller installed).
pub(crate) fn default_workers() -> usize {
    rayon::current_num_threads().max(1)
}

/// Runs `f(0) .. f(n_jobs - 1)` on `workers` threads and returns the results in job order.
/// Stops handing out jobs after the first error and returns the error of the lowest job
/// index that failed. The result never depends on `workers` (each job is independent).
pub(crate) fn run_jobs<T: Send>(
    n_jobs: usize,
    workers: usize,
    f: impl Fn(usize) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let workers = workers.clamp(1, n_jobs.max(1));
    let mut slots: Vec<Option<Result<T>>> = (0..n_jobs).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    while !failed.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n_jobs {
                            break;
                        }
                        let r = f(i);
                        if r.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        done.push((i, r));
                    }
                    done
                })
            })
            .collect();
        for h in handles {
            match h.join() {
                Ok(done) => {
                    for (i, r) in done {
                        slots[i] = Some(r);
                    }
                }
                // A panic inside a job is a bug in the model, not bad input: pass it on.
                Err(payload) => std::panic::resume_unwind(payload),
            }
        }
    });
    let mut out = Vec::with_capacity(n_jobs);
    for slot in slots {
        match slot {
            Some(Ok(v)) => out.push(v),
            Some(Err(e)) => return Err(e),
            // Skipped after an earlier failure; the failure is returned when reached.
            None => {}
        }
    }
    Ok(out)
}
