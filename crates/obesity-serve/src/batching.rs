//! Dynamic batching, as Triton calls it: the rows of concurrent requests to one version are
//! merged into one kernel call on the version's executor thread.
//!
//! Why: the forest's kernels cost much less per row on big batches (on the UCI forest, one
//! thread: about 1.8 µs a row in 100-row calls, 0.75 µs in 1,024-row calls and 0.45 µs from
//! 2,048 rows, where the bitset kernel takes over; docs/forest-kernels.md). Under load, many
//! 100-row requests are in flight at once; predicting them one by one pays the small-batch
//! price for every one of them.
//!
//! How: a request's rows are featurized on the request's own task, then queued to its
//! version's executor, a thread of its own. The executor takes whatever is queued when it
//! becomes free (up to [`DynamicBatching::max_rows`], optionally waiting
//! [`DynamicBatching::max_queue_delay`] for more), predicts the rows in one call and hands
//! each request its own rows back. An idle service therefore adds no wait: a lone request
//! runs at once. A row's probabilities are bit-identical whatever else it was batched with
//! (every kernel adds a row's trees in tree order, whatever the block or batch).
//!
//! A request whose client went away is skipped before the call; a classifier that panics
//! fails the requests of that call (500) and the executor goes on. The thread ends when its
//! version is unloaded (the last request holding it done).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::{Duration, Instant};

use ndarray::{Array2, ArrayView2, Axis};
use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::oneshot;

use crate::error::ServeError;

/// How the rows of concurrent requests are merged into one kernel call (Triton's
/// `dynamic_batching`). Applies to the multi-row endpoints (`/predict/batch`,
/// `/invocations`, `/v2/models/{name}/infer`); a single-row `/predict` runs the
/// allocation-free row kernel on the request's own task.
///
/// ```
/// use std::time::Duration;
/// use obesity_serve::{DynamicBatching, ServeConfig};
///
/// let config = ServeConfig {
///     // Wait up to 0.5 ms for more rows once some are queued, up to 2,048 per call.
///     batching: DynamicBatching { max_rows: 2_048, max_queue_delay: Duration::from_micros(500) },
///     ..ServeConfig::new("./mlruns")
/// };
/// assert!(config.batching.enabled());
/// assert!(!DynamicBatching::off().enabled());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DynamicBatching {
    /// Most rows merged into one call (a request is never split, so a call may exceed this
    /// by less than one request's rows). A request with this many rows or more runs alone,
    /// on the request's task, with every core. 0 turns merging off: every request predicts
    /// its own rows on its own task. By default, this is 4,096.
    pub max_rows: usize,
    /// How long the executor waits for more rows once a call has fewer than `max_rows`.
    /// Zero (Triton's default) waits for nothing: a call takes what queued while the
    /// previous one ran, so an idle service adds no delay and a busy one still merges. By
    /// default, this is zero.
    pub max_queue_delay: Duration,
}

impl Default for DynamicBatching {
    fn default() -> Self {
        DynamicBatching {
            max_rows: 4_096,
            max_queue_delay: Duration::ZERO,
        }
    }
}

impl DynamicBatching {
    /// No merging: every request predicts its own rows on its own task.
    pub fn off() -> Self {
        DynamicBatching {
            max_rows: 0,
            max_queue_delay: Duration::ZERO,
        }
    }

    /// Whether requests are merged at all.
    pub fn enabled(&self) -> bool {
        self.max_rows > 0
    }
}

/// The call the executor makes on a merged batch: probabilities, or the error's text.
pub(crate) type PredictFn =
    Arc<dyn Fn(ArrayView2<'_, f32>) -> Result<Array2<f32>, String> + Send + Sync>;

/// One request's rows and where its probabilities go.
struct Job {
    x: Array2<f32>,
    reply: oneshot::Sender<Result<Array2<f32>, String>>,
}

/// A version's executor: the queue to its thread.
pub(crate) struct Executor {
    jobs: Sender<Job>,
    max_rows: usize,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("max_rows", &self.max_rows)
            .finish_non_exhaustive()
    }
}

impl Executor {
    /// Starts the thread `name`. It runs in a one-thread rayon pool of its own, so a merged
    /// batch is one kernel block (the pool's width is what the kernels split by) and the
    /// kernels' parallel loops never wait on the pool the rest of the process shares.
    /// `rows_per_call` observes the rows of every call.
    pub(crate) fn start(
        name: String,
        settings: DynamicBatching,
        predict: PredictFn,
        rows_per_call: Histogram,
    ) -> Result<Self, ServeError> {
        let (jobs, queue) = mpsc::channel();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(move |_| name.clone())
            .build()
            .map_err(|e| ServeError::Task(format!("cannot start a batching thread: {e}")))?;
        pool.spawn(move || run(&queue, settings, &predict, &rows_per_call));
        // Dropping the handle lets the thread end once `run` returns.
        drop(pool);
        Ok(Executor {
            jobs,
            max_rows: settings.max_rows,
        })
    }

    /// Whether `rows` rows go through the executor (fewer than `max_rows`) rather than
    /// running alone on the request's task.
    pub(crate) fn takes(&self, rows: usize) -> bool {
        rows < self.max_rows
    }

    /// Queues `x` and waits for its probabilities (rows in `x`'s order).
    pub(crate) async fn predict(&self, x: Array2<f32>) -> Result<Array2<f32>, String> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { x, reply })
            .map_err(|_| "the version's batching thread has stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the version's batching thread stopped before answering".to_owned())?
    }
}

/// The executor's loop: until every sender is gone, take a call's worth of jobs, predict,
/// answer.
fn run(
    queue: &Receiver<Job>,
    settings: DynamicBatching,
    predict: &PredictFn,
    rows_per_call: &Histogram,
) {
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        gather(queue, settings, &mut jobs);
        // Requests whose client went away (or timed out) need no prediction.
        jobs.retain(|j| !j.reply.is_closed());
        if jobs.is_empty() {
            continue;
        }
        let rows: usize = jobs.iter().map(|j| j.x.nrows()).sum();
        rows_per_call.observe(rows as f64);
        answer(jobs, predict);
    }
}

/// Adds queued jobs to `jobs` until they hold `max_rows` rows, the queue is empty and the
/// delay (from now) has passed, or the queue is closed.
fn gather(queue: &Receiver<Job>, settings: DynamicBatching, jobs: &mut Vec<Job>) {
    let deadline = Instant::now() + settings.max_queue_delay;
    let mut rows: usize = jobs.iter().map(|j| j.x.nrows()).sum();
    while rows < settings.max_rows {
        let next = match queue.try_recv() {
            Ok(job) => job,
            Err(TryRecvError::Disconnected) => return,
            Err(TryRecvError::Empty) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return;
                }
                match queue.recv_timeout(left) {
                    Ok(job) => job,
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return,
                }
            }
        };
        rows += next.x.nrows();
        jobs.push(next);
    }
}

/// Predicts the jobs' rows in one call and sends each job its own rows.
fn answer(mut jobs: Vec<Job>, predict: &PredictFn) {
    let rows: usize = jobs.iter().map(|j| j.x.nrows()).sum();
    let result = match jobs.as_slice() {
        [job] => guarded(predict, job.x.view()),
        _ => {
            let views: Vec<ArrayView2<'_, f32>> = jobs.iter().map(|j| j.x.view()).collect();
            // Rows of one version all have its width: a failure here is a bug, not a
            // client's error.
            ndarray::concatenate(Axis(0), &views)
                .map_err(|e| format!("cannot merge the batch's rows: {e}"))
                .and_then(|merged| guarded(predict, merged.view()))
        }
    }
    .and_then(|p| {
        if p.nrows() == rows {
            Ok(p)
        } else {
            Err(format!(
                "the classifier answered {} rows for {rows} rows",
                p.nrows()
            ))
        }
    });
    let p = match result {
        Ok(p) => p,
        Err(e) => {
            for job in jobs {
                let _ = job.reply.send(Err(e.clone()));
            }
            return;
        }
    };
    if jobs.len() == 1 {
        let _ = jobs.remove(0).reply.send(Ok(p));
        return;
    }
    let mut start = 0;
    for job in jobs {
        let n = job.x.nrows();
        let _ = job.reply.send(Ok(p
            .slice_axis(Axis(0), (start..start + n).into())
            .to_owned()));
        start += n;
    }
}

/// Calls `predict`, turning a panic into an error so the executor outlives it.
fn guarded(predict: &PredictFn, x: ArrayView2<'_, f32>) -> Result<Array2<f32>, String> {
    catch_unwind(AssertUnwindSafe(|| predict(x)))
        .unwrap_or_else(|_| Err("the classifier panicked".to_owned()))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use ndarray::Array2;
    use prometheus_client::metrics::histogram::Histogram;

    use super::*;

    /// A "classifier" whose answer identifies each input row (its sum and its square sum),
    /// recording the rows of every call.
    fn recording(calls: Arc<std::sync::Mutex<Vec<usize>>>) -> PredictFn {
        Arc::new(move |x: ArrayView2<'_, f32>| {
            calls.lock().unwrap().push(x.nrows());
            let mut out = Array2::zeros((x.nrows(), 2));
            for (r, row) in x.rows().into_iter().enumerate() {
                out[[r, 0]] = row.sum();
                out[[r, 1]] = row.iter().map(|v| v * v).sum();
            }
            Ok(out)
        })
    }

    fn rows(first: usize, n: usize) -> Array2<f32> {
        Array2::from_shape_fn((n, 3), |(r, c)| (first + r) as f32 * 10.0 + c as f32)
    }

    fn histogram() -> Histogram {
        Histogram::new([1.0, 10.0, 100.0])
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    /// Sends every input to `exec` at once, each from its own task; the answers in input
    /// order.
    fn predict_concurrently(
        exec: &Arc<Executor>,
        inputs: Vec<Array2<f32>>,
    ) -> Vec<Result<Array2<f32>, String>> {
        runtime().block_on(async {
            let tasks: Vec<_> = inputs
                .into_iter()
                .map(|x| {
                    let exec = exec.clone();
                    tokio::spawn(async move { exec.predict(x).await })
                })
                .collect();
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap());
            }
            out
        })
    }

    #[test]
    fn concurrent_requests_are_merged_and_each_gets_its_own_rows() {
        let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
        // A delay long enough that all 16 requests queue before the first call.
        let settings = DynamicBatching {
            max_rows: 1_000,
            max_queue_delay: Duration::from_millis(300),
        };
        let exec = Arc::new(
            Executor::start("t".into(), settings, recording(calls.clone()), histogram()).unwrap(),
        );
        let answers =
            predict_concurrently(&exec, (0..16).map(|i| rows(i * 7, 1 + i % 5)).collect());
        for (i, got) in answers.into_iter().enumerate() {
            let got = got.unwrap();
            let x = rows(i * 7, 1 + i % 5);
            assert_eq!(got.nrows(), x.nrows(), "request {i}");
            for (g, r) in got.rows().into_iter().zip(x.rows()) {
                assert_eq!(g[0], r.sum(), "request {i}");
                assert_eq!(g[1], r.iter().map(|v| v * v).sum::<f32>(), "request {i}");
            }
        }
        let calls = calls.lock().unwrap();
        let total: usize = (0..16).map(|i| 1 + i % 5).sum();
        assert_eq!(calls.iter().sum::<usize>(), total);
        assert!(calls.len() < 16, "no request was merged: {calls:?}");
    }

    #[test]
    fn a_call_stops_at_max_rows_and_a_big_request_is_not_taken() {
        let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
        let settings = DynamicBatching {
            max_rows: 10,
            max_queue_delay: Duration::from_millis(300),
        };
        let exec = Arc::new(
            Executor::start("t".into(), settings, recording(calls.clone()), histogram()).unwrap(),
        );
        assert!(exec.takes(9));
        assert!(!exec.takes(10));
        for answer in predict_concurrently(&exec, (0..6).map(|i| rows(i, 4)).collect()) {
            assert_eq!(answer.unwrap().nrows(), 4);
        }
        let calls = calls.lock().unwrap();
        assert_eq!(calls.iter().sum::<usize>(), 24);
        // 4-row jobs: a call closes at the first job that reaches 10 rows (12).
        assert!(calls.iter().all(|&n| n <= 12), "{calls:?}");
    }

    #[test]
    fn a_panic_or_error_fails_that_call_only_and_the_executor_goes_on() {
        let n = Arc::new(AtomicUsize::new(0));
        let counter = n.clone();
        let predict: PredictFn =
            Arc::new(
                move |x: ArrayView2<'_, f32>| match counter.fetch_add(1, Ordering::SeqCst) {
                    0 => panic!("boom"),
                    1 => Err("bad input".to_owned()),
                    _ => Ok(Array2::zeros((x.nrows(), 1))),
                },
            );
        let exec =
            Executor::start("t".into(), DynamicBatching::default(), predict, histogram()).unwrap();
        let rt = runtime();
        rt.block_on(async {
            assert_eq!(
                exec.predict(rows(0, 2)).await.unwrap_err(),
                "the classifier panicked"
            );
            assert_eq!(exec.predict(rows(0, 2)).await.unwrap_err(), "bad input");
            assert_eq!(exec.predict(rows(0, 3)).await.unwrap().nrows(), 3);
        });
    }

    #[test]
    fn a_wrong_row_count_from_the_classifier_is_an_error_not_a_panic() {
        let predict: PredictFn = Arc::new(|_x: ArrayView2<'_, f32>| Ok(Array2::zeros((1, 1))));
        let settings = DynamicBatching {
            max_rows: 100,
            max_queue_delay: Duration::from_millis(200),
        };
        let exec = Arc::new(Executor::start("t".into(), settings, predict, histogram()).unwrap());
        let results = predict_concurrently(&exec, (0..3).map(|i| rows(i, 2)).collect());
        // Merged or alone, a short answer fails every request of the call.
        assert!(
            results
                .iter()
                .all(|r| r.as_ref().is_err_and(|e| e.contains("answered 1 rows"))),
            "{results:?}"
        );
    }

    #[test]
    fn a_cancelled_request_is_skipped_and_the_thread_ends_with_its_executor() {
        let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
        let predict = recording(calls.clone());
        let settings = DynamicBatching {
            max_rows: 1_000,
            max_queue_delay: Duration::from_millis(200),
        };
        let exec = Executor::start("t".into(), settings, predict.clone(), histogram()).unwrap();
        let rt = runtime();
        rt.block_on(async {
            // Queued, then dropped before the delay ends: its rows are never predicted.
            let cancelled = exec.predict(rows(0, 5));
            let _ = tokio::time::timeout(Duration::from_millis(1), cancelled).await;
            assert_eq!(exec.predict(rows(1, 2)).await.unwrap().nrows(), 2);
        });
        assert_eq!(*calls.lock().unwrap(), vec![2]);
        // The executor holds the only sender: dropping it ends the thread, which drops its
        // clone of the classifier.
        drop(exec);
        let mut polls = 0;
        while Arc::strong_count(&predict) > 1 && polls < 500 {
            std::thread::sleep(Duration::from_millis(10));
            polls += 1;
        }
        assert_eq!(
            Arc::strong_count(&predict),
            1,
            "the thread still holds the model"
        );
    }
}
