//! Dynamic batching, as Triton calls it: the rows of concurrent requests to one version are
//! merged into one kernel call on the version's executor thread.
//!
//! Why: the forest's kernels cost much less per row on big batches (on the UCI forest, one
//! thread: about 1.8 µs a row in 100-row calls, 0.75 µs in 1,024-row calls and 0.45 µs from
//! 2,048 rows, where the bitset kernel takes over; docs/forest-kernels.md). Under load, many
//! 100-row requests are in flight at once; predicting them one by one pays the small-batch
//! price for every one of them.
//!
//! How: a request's rows are featurized on the request's own task. With no kernel call in
//! progress or queued for its version, the request predicts at once on its own task: there is
//! nothing to merge it with, so a lone client pays no thread switch. Otherwise its rows queue
//! to the version's executor, a thread of its own, which takes whatever is queued when it
//! becomes free (up to [`DynamicBatching::max_rows`], optionally waiting
//! [`DynamicBatching::max_queue_delay`], and, while the call is under
//! [`DynamicBatching::preferred_rows`], for requests announced as being parsed), predicts the
//! rows in one call and hands each request its own rows back. A row's probabilities are
//! bit-identical whatever else it was batched with (every kernel adds a row's trees in tree
//! order, whatever the block or batch).
//!
//! A request whose client went away is skipped before the call; a classifier that panics
//! fails the requests of that call (500) and the executor goes on. The thread ends when its
//! version is unloaded (the last request holding it done).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
///     batching: DynamicBatching {
///         max_rows: 2_048,
///         max_queue_delay: Duration::from_micros(500),
///         ..DynamicBatching::default()
///     },
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
    /// previous one ran, so an idle service adds no delay and a busy one still merges. A
    /// request that finds nothing in progress runs on its own task, without the hand-off to
    /// the executor thread, unless this is non-zero: then every request queues. By default,
    /// this is zero.
    pub max_queue_delay: Duration,
    /// Rows a call should reach before it runs while more requests are on their way (Triton's
    /// `preferred_batch_size`). Multi-row requests announce themselves before their body is
    /// parsed; once the queue is empty and the delay is over, a call with fewer rows waits for
    /// the announced ones (at most `max_fill_delay`). Nothing announced, nothing waited for:
    /// a lone request still runs at once. The forest's bitset kernel takes over from 512 rows
    /// and costs less per row up to about 2,048. By default, this is 1,024.
    pub preferred_rows: usize,
    /// Longest wait for announced requests (see `preferred_rows`). By default, 2 ms.
    pub max_fill_delay: Duration,
}

impl Default for DynamicBatching {
    fn default() -> Self {
        DynamicBatching {
            max_rows: 4_096,
            max_queue_delay: Duration::ZERO,
            preferred_rows: 1_024,
            max_fill_delay: Duration::from_millis(2),
        }
    }
}

impl DynamicBatching {
    /// No merging: every request predicts its own rows on its own task.
    pub fn off() -> Self {
        DynamicBatching {
            max_rows: 0,
            max_queue_delay: Duration::ZERO,
            preferred_rows: 0,
            max_fill_delay: Duration::ZERO,
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
    /// The request's announcement, ended when the executor takes the job.
    arrival: Option<Arrival>,
    /// Counts the job as a call in progress until it is answered or dropped.
    _active: Active,
}

/// One kernel call in progress or queued (on the caller's task or the executor's); ends on
/// drop. A request that finds none runs on its own task: nothing to merge it with, so the
/// hand-off to the executor thread would only add latency.
struct Active(Arc<AtomicUsize>);

impl Active {
    /// Counts a call; also says whether none was in progress or queued before it.
    fn enter(count: &Arc<AtomicUsize>) -> (Active, bool) {
        let before = count.fetch_add(1, Ordering::AcqRel);
        (Active(count.clone()), before == 0)
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A request on its way to an executor: announced before its body is parsed, ended when
/// the executor takes its rows or the request fails first (on drop). While any are on
/// their way, an executor whose call is under [`DynamicBatching::preferred_rows`] waits
/// for them (up to [`DynamicBatching::max_fill_delay`]) instead of running a small call.
#[derive(Debug)]
pub(crate) struct Arrival(Arc<AtomicUsize>);

impl Drop for Arrival {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A version's executor: the queue to its thread.
pub(crate) struct Executor {
    jobs: Sender<Job>,
    max_rows: usize,
    /// Requests announced ([`Executor::announce`]) and not yet taken or failed.
    incoming: Arc<AtomicUsize>,
    /// Kernel calls in progress or queued ([`Active`]).
    active: Arc<AtomicUsize>,
    /// Whether a request that finds no call in progress (and no other request announced)
    /// runs on its own task: unless a queue delay is set (every request then queues, to
    /// wait for others), or in the tests of the thread itself.
    inline_when_idle: bool,
    /// The call, for requests run on their own task.
    predict: PredictFn,
    rows_per_call: Histogram,
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
        let incoming = Arc::new(AtomicUsize::new(0));
        let announced = incoming.clone();
        let (thread_predict, thread_rows) = (predict.clone(), rows_per_call.clone());
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(move |_| name.clone())
            .build()
            .map_err(|e| ServeError::Task(format!("cannot start a batching thread: {e}")))?;
        pool.spawn(move || {
            let inbox = Inbox {
                queue,
                incoming: announced,
            };
            run(&inbox, settings, &thread_predict, &thread_rows);
        });
        // Dropping the handle lets the thread end once `run` returns.
        drop(pool);
        Ok(Executor {
            jobs,
            max_rows: settings.max_rows,
            incoming,
            active: Arc::new(AtomicUsize::new(0)),
            inline_when_idle: settings.max_queue_delay.is_zero(),
            predict,
            rows_per_call,
        })
    }

    /// The same executor, but queueing every request, even with no call in progress (for
    /// the tests of the thread itself).
    #[cfg(test)]
    fn queued_only(mut self) -> Self {
        self.inline_when_idle = false;
        self
    }

    /// Announces a request that will (probably) queue rows soon: call it before the body is
    /// parsed and hand the result to [`Executor::predict`] (or drop it when the request
    /// fails), so the executor knows more rows are coming.
    pub(crate) fn announce(&self) -> Arrival {
        self.incoming.fetch_add(1, Ordering::AcqRel);
        Arrival(self.incoming.clone())
    }

    /// Whether `arrival` was announced to this executor.
    fn owns(&self, arrival: &Arrival) -> bool {
        Arc::ptr_eq(&self.incoming, &arrival.0)
    }

    /// Whether `rows` rows go through the executor (fewer than `max_rows`) rather than
    /// running alone on the request's task.
    pub(crate) fn takes(&self, rows: usize) -> bool {
        rows < self.max_rows
    }

    /// The probabilities of `x` (rows in `x`'s order). With no call in progress or queued, no
    /// other request announced and no queue delay, predicted on the caller's task at once
    /// (nothing to merge with, so no hand-off); otherwise queued to the executor, to be merged
    /// with the calls that queue meanwhile. `arrival`, the request's announcement, ends when
    /// the executor takes the rows (now, when they are not queued or it was announced to
    /// another executor).
    pub(crate) async fn predict(
        &self,
        x: Array2<f32>,
        arrival: Option<Arrival>,
    ) -> Result<Array2<f32>, String> {
        let (active, idle) = Active::enter(&self.active);
        // Requests being parsed now would queue behind this one: merge with them instead.
        let others_coming = match &arrival {
            Some(own) if self.owns(own) => self.incoming.load(Ordering::Acquire) > 1,
            _ => self.incoming.load(Ordering::Acquire) > 0,
        };
        if idle && !others_coming && self.inline_when_idle {
            drop(arrival);
            self.rows_per_call.observe(x.nrows() as f64);
            let p = guarded(&self.predict, x.view());
            drop(active);
            return with_rows(p, x.nrows());
        }
        let arrival = arrival.filter(|a| self.owns(a));
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                x,
                reply,
                arrival,
                _active: active,
            })
            .map_err(|_| "the version's batching thread has stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the version's batching thread stopped before answering".to_owned())?
    }
}

/// The executor's side of its queue.
struct Inbox {
    queue: Receiver<Job>,
    /// Requests announced and not yet taken.
    incoming: Arc<AtomicUsize>,
}

impl Inbox {
    /// The next job: one queued, else one arriving by `deadline`. Its announcement ends
    /// here.
    fn next(&self, deadline: Option<Instant>) -> Next {
        let job = match self.queue.try_recv() {
            Ok(job) => job,
            Err(TryRecvError::Disconnected) => return Next::Closed,
            Err(TryRecvError::Empty) => {
                let Some(deadline) = deadline else {
                    return Next::Closed;
                };
                let left = deadline.saturating_duration_since(Instant::now());
                match self.queue.recv_timeout(left) {
                    Ok(job) => job,
                    Err(RecvTimeoutError::Timeout) => return Next::Waited,
                    Err(RecvTimeoutError::Disconnected) => return Next::Closed,
                }
            }
        };
        Next::Job(taken(job))
    }

    /// Whether announced requests are still on their way.
    fn expecting(&self) -> bool {
        self.incoming.load(Ordering::Acquire) > 0
    }
}

/// What [`Inbox::next`] found.
enum Next {
    Job(Job),
    /// The deadline passed with nothing queued.
    Waited,
    /// Nothing queued and no deadline, or the queue is closed: the call is complete.
    Closed,
}

/// A job as the executor takes it: its announcement ends.
fn taken(mut job: Job) -> Job {
    job.arrival = None;
    job
}

/// How often a call waiting for announced requests looks again whether any are still on
/// their way (one that fails before queueing ends its announcement without a job to wake
/// the executor).
const FILL_POLL: Duration = Duration::from_micros(50);

/// The executor's loop: until every sender is gone, take a call's worth of jobs, predict,
/// answer.
fn run(inbox: &Inbox, settings: DynamicBatching, predict: &PredictFn, rows_per_call: &Histogram) {
    while let Ok(first) = inbox.queue.recv() {
        let mut jobs = vec![taken(first)];
        gather(inbox, settings, &mut jobs);
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

/// Adds queued jobs to `jobs` until they hold `max_rows` rows or the queue is closed, or
/// the queue is empty and both waits are over: the delay (from now), and, while the call
/// has fewer than `preferred_rows` rows, the wait for announced requests (polled every
/// [`FILL_POLL`], at most `max_fill_delay` from now).
fn gather(inbox: &Inbox, settings: DynamicBatching, jobs: &mut Vec<Job>) {
    let now = Instant::now();
    let delay_ends = now + settings.max_queue_delay;
    let fill_ends = now + settings.max_fill_delay;
    let mut rows: usize = jobs.iter().map(|j| j.x.nrows()).sum();
    while rows < settings.max_rows {
        let now = Instant::now();
        let deadline = if now < delay_ends {
            Some(delay_ends)
        } else if rows < settings.preferred_rows && now < fill_ends && inbox.expecting() {
            Some(fill_ends.min(now + FILL_POLL))
        } else {
            None
        };
        match inbox.next(deadline) {
            Next::Job(job) => {
                rows += job.x.nrows();
                jobs.push(job);
            }
            // Look again: the delay may be over, announced requests may have failed.
            Next::Waited => {}
            Next::Closed => return,
        }
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
    };
    let p = match with_rows(result, rows) {
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

/// `p`, unless the classifier answered another number of rows than the `rows` it was given.
fn with_rows(p: Result<Array2<f32>, String>, rows: usize) -> Result<Array2<f32>, String> {
    p.and_then(|p| {
        if p.nrows() == rows {
            Ok(p)
        } else {
            Err(format!(
                "the classifier answered {} rows for {rows} rows",
                p.nrows()
            ))
        }
    })
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

    /// A queue-only executor ("t") of a [`recording`] classifier, and its calls' row counts.
    fn queued_recording(
        settings: DynamicBatching,
    ) -> (Arc<Executor>, Arc<std::sync::Mutex<Vec<usize>>>) {
        let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
        let exec = Executor::start("t".into(), settings, recording(calls.clone()), histogram())
            .unwrap()
            .queued_only();
        (Arc::new(exec), calls)
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
                    tokio::spawn(async move { exec.predict(x, None).await })
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
        // A delay long enough that all 16 requests queue before the first call.
        let settings = DynamicBatching {
            max_rows: 1_000,
            max_queue_delay: Duration::from_millis(300),
            ..DynamicBatching::default()
        };
        let (exec, calls) = queued_recording(settings);
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
        let settings = DynamicBatching {
            max_rows: 10,
            max_queue_delay: Duration::from_millis(300),
            ..DynamicBatching::default()
        };
        let (exec, calls) = queued_recording(settings);
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
        let exec = Executor::start("t".into(), DynamicBatching::default(), predict, histogram())
            .unwrap()
            .queued_only();
        let rt = runtime();
        rt.block_on(async {
            assert_eq!(
                exec.predict(rows(0, 2), None).await.unwrap_err(),
                "the classifier panicked"
            );
            assert_eq!(
                exec.predict(rows(0, 2), None).await.unwrap_err(),
                "bad input"
            );
            assert_eq!(exec.predict(rows(0, 3), None).await.unwrap().nrows(), 3);
        });
    }

    #[test]
    fn a_wrong_row_count_from_the_classifier_is_an_error_not_a_panic() {
        let predict: PredictFn = Arc::new(|_x: ArrayView2<'_, f32>| Ok(Array2::zeros((1, 1))));
        let settings = DynamicBatching {
            max_rows: 100,
            max_queue_delay: Duration::from_millis(200),
            ..DynamicBatching::default()
        };
        let exec = Arc::new(
            Executor::start("t".into(), settings, predict, histogram())
                .unwrap()
                .queued_only(),
        );
        let results = predict_concurrently(&exec, (0..3).map(|i| rows(i, 2)).collect());
        // Merged or alone, a short answer fails every request of the call.
        assert!(
            results
                .iter()
                .all(|r| r.as_ref().is_err_and(|e| e.contains("answered 1 rows"))),
            "{results:?}"
        );
    }

    /// Settings that wait for announced requests (and only for them) as long as a test can
    /// tell: a test that returns at all shows the wait ended for the reason it checks.
    fn filling(preferred_rows: usize) -> DynamicBatching {
        DynamicBatching {
            max_rows: 1_000,
            max_queue_delay: Duration::ZERO,
            preferred_rows,
            max_fill_delay: Duration::from_secs(60),
        }
    }

    /// Waits for `answer`, failing the test if the executor still waits after 30 s.
    async fn within_30s(
        answer: impl std::future::Future<Output = Result<Array2<f32>, String>>,
    ) -> Array2<f32> {
        tokio::time::timeout(Duration::from_secs(30), answer)
            .await
            .expect("the executor kept waiting")
            .unwrap()
    }

    #[test]
    fn a_call_under_preferred_rows_waits_for_an_announced_request() {
        let (exec, calls) = queued_recording(filling(100));
        let rt = runtime();
        rt.block_on(async {
            let arrival = exec.announce();
            let first = {
                let exec = exec.clone();
                tokio::spawn(async move { exec.predict(rows(0, 3), None).await })
            };
            // The announced request "parses" while the first one is queued.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let second = within_30s(exec.predict(rows(10, 4), Some(arrival))).await;
            assert_eq!(second.nrows(), 4);
            assert_eq!(second[[0, 0]], rows(10, 4).row(0).sum());
            assert_eq!(first.await.unwrap().unwrap().nrows(), 3);
        });
        // Without the wait, the first request would have run alone: [3, 4].
        assert_eq!(*calls.lock().unwrap(), vec![7]);
        assert_eq!(exec.incoming.load(Ordering::Acquire), 0);
    }

    #[test]
    fn the_wait_ends_when_an_announced_request_fails_or_preferred_rows_are_reached() {
        let (exec, calls) = queued_recording(filling(5));
        let rt = runtime();
        rt.block_on(async {
            // Announced, then failed (dropped) without queueing rows.
            let failing = exec.announce();
            let queued = {
                let exec = exec.clone();
                tokio::spawn(async move { within_30s(exec.predict(rows(0, 2), None)).await })
            };
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(failing);
            assert_eq!(queued.await.unwrap().nrows(), 2);
            // Still announced, but the call already has `preferred_rows` rows: no wait.
            let _pending = exec.announce();
            assert_eq!(within_30s(exec.predict(rows(1, 5), None)).await.nrows(), 5);
        });
        assert_eq!(*calls.lock().unwrap(), vec![2, 5]);
    }

    #[test]
    fn unannounced_requests_and_other_executors_announcements_are_not_waited_for() {
        let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
        let exec = Executor::start(
            "a".into(),
            filling(100),
            recording(calls.clone()),
            histogram(),
        )
        .unwrap()
        .queued_only();
        let other = Executor::start(
            "b".into(),
            filling(100),
            recording(calls.clone()),
            histogram(),
        )
        .unwrap()
        .queued_only();
        let rt = runtime();
        rt.block_on(async {
            assert_eq!(within_30s(exec.predict(rows(0, 2), None)).await.nrows(), 2);
            // Made for `other`, handed to `exec`: ends at once, so `other` waits for nothing.
            let misrouted = other.announce();
            assert_eq!(other.incoming.load(Ordering::Acquire), 1);
            assert_eq!(
                within_30s(exec.predict(rows(0, 3), Some(misrouted)))
                    .await
                    .nrows(),
                3
            );
            assert_eq!(other.incoming.load(Ordering::Acquire), 0);
            assert_eq!(within_30s(other.predict(rows(0, 4), None)).await.nrows(), 4);
        });
        assert_eq!(*calls.lock().unwrap(), vec![2, 3, 4]);
    }

    #[test]
    fn a_request_finding_no_call_in_progress_runs_on_its_own_task() {
        let threads = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = threads.clone();
        let seen_threads = threads.clone();
        let predict: PredictFn = Arc::new(move |x: ArrayView2<'_, f32>| {
            let name = std::thread::current().name().unwrap_or("").to_owned();
            // The first call holds the kernel while the others arrive.
            if seen.lock().unwrap().is_empty() {
                std::thread::sleep(Duration::from_millis(300));
            }
            seen.lock().unwrap().push((name, x.nrows()));
            Ok(Array2::zeros((x.nrows(), 1)))
        });
        let exec =
            Arc::new(Executor::start("exec".into(), filling(0), predict, histogram()).unwrap());
        let rt = runtime();
        rt.block_on(async {
            let lone = {
                let exec = exec.clone();
                tokio::spawn(async move { exec.predict(rows(0, 2), None).await })
            };
            tokio::time::sleep(Duration::from_millis(100)).await;
            let during: Vec<_> = (0..4)
                .map(|i| {
                    let exec = exec.clone();
                    tokio::spawn(async move { exec.predict(rows(i, 3), None).await })
                })
                .collect();
            assert_eq!(lone.await.unwrap().unwrap().nrows(), 2);
            for d in during {
                assert_eq!(d.await.unwrap().unwrap().nrows(), 3);
            }
        });
        let threads = threads.lock().unwrap();
        // The lone request ran on its task's thread, the ones that came while it ran on the
        // executor's.
        assert_eq!(threads[0].1, 2);
        assert_ne!(threads[0].0, "exec", "{threads:?}");
        assert!(threads[1..].iter().all(|(t, _)| t == "exec"), "{threads:?}");
        assert_eq!(threads[1..].iter().map(|(_, n)| n).sum::<usize>(), 12);
        assert_eq!(exec.active.load(Ordering::Acquire), 0);
        drop(threads);
        // Nothing in progress, but another request announced: this one queues to meet it.
        let _coming = exec.announce();
        let mine = exec.announce();
        assert_eq!(
            rt.block_on(exec.predict(rows(0, 1), Some(mine)))
                .unwrap()
                .nrows(),
            1
        );
        let threads = seen_threads.lock().unwrap();
        assert_eq!(
            threads.last().map(|(t, n)| (t.as_str(), *n)),
            Some(("exec", 1))
        );
    }

    #[test]
    fn a_request_run_on_its_own_task_gets_the_same_errors() {
        let short: PredictFn = Arc::new(|_x: ArrayView2<'_, f32>| Ok(Array2::zeros((1, 1))));
        let panicking: PredictFn = Arc::new(|_x: ArrayView2<'_, f32>| panic!("boom"));
        let rt = runtime();
        for (predict, expected) in [
            (short, "answered 1 rows"),
            (panicking, "the classifier panicked"),
        ] {
            let exec = Executor::start("t".into(), filling(0), predict, histogram()).unwrap();
            let got = rt.block_on(exec.predict(rows(0, 2), None)).unwrap_err();
            assert!(got.contains(expected), "{got}");
            assert_eq!(exec.active.load(Ordering::Acquire), 0);
        }
    }

    #[test]
    fn a_cancelled_request_is_skipped_and_the_thread_ends_with_its_executor() {
        let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
        let predict = recording(calls.clone());
        let settings = DynamicBatching {
            max_rows: 1_000,
            max_queue_delay: Duration::from_millis(200),
            ..DynamicBatching::default()
        };
        let exec = Executor::start("t".into(), settings, predict.clone(), histogram())
            .unwrap()
            .queued_only();
        let rt = runtime();
        rt.block_on(async {
            // Queued, then dropped before the delay ends: its rows are never predicted.
            let cancelled = exec.predict(rows(0, 5), None);
            let _ = tokio::time::timeout(Duration::from_millis(1), cancelled).await;
            assert_eq!(exec.predict(rows(1, 2), None).await.unwrap().nrows(), 2);
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
