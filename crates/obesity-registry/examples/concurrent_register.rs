//! Registers `--count` versions of one model through a [`Registry`] and prints the version
//! numbers it was given as one JSON line. Started several times in parallel against one
//! MLflow tracking server (`scripts/postgres_suite.sh` starts 8), it shows that concurrent
//! writers get unique, gap-free versions: the union of all outputs must be exactly
//! `1..=processes*count`.
//!
//! ```sh
//! cargo run --release -p obesity-registry --example concurrent_register -- \
//!     --tracking-uri http://127.0.0.1:5000 --model race-model --count 5 --worker 3 \
//!     [--start-at <unix ms>]
//! ```
//!
//! `--start-at` makes every process sleep until the same instant before its first write, so
//! the registrations really overlap instead of following the order the processes started in.
//! Output: `{"worker":3,"model":"race-model","run_id":"...","versions":[4,9,12,17,21]}`.
//! The exit code is non-zero, with the error on stderr, if any registration fails.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use obesity_registry::{NewVersion, Registry, Tracker, open_store};

struct Args {
    tracking_uri: String,
    model: String,
    count: u64,
    worker: u64,
    start_at_ms: Option<u64>,
}

const USAGE: &str = "usage: concurrent_register --tracking-uri URI --model NAME --count N \
                     [--worker ID] [--start-at UNIX_MS]";

fn parse_args() -> Result<Args, String> {
    let mut tracking_uri = None;
    let mut model = None;
    let mut count = None;
    let mut worker = 0;
    let mut start_at_ms = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        let number = |name: &str, v: String| {
            v.parse::<u64>()
                .map_err(|e| format!("{name}: {v:?} is not a non-negative integer: {e}"))
        };
        match flag.as_str() {
            "--tracking-uri" => tracking_uri = Some(value("--tracking-uri")?),
            "--model" => model = Some(value("--model")?),
            "--count" => count = Some(number("--count", value("--count")?)?),
            "--worker" => worker = number("--worker", value("--worker")?)?,
            "--start-at" => start_at_ms = Some(number("--start-at", value("--start-at")?)?),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(Args {
        tracking_uri: tracking_uri.ok_or(format!("--tracking-uri is required\n{USAGE}"))?,
        model: model.ok_or(format!("--model is required\n{USAGE}"))?,
        count: count.ok_or(format!("--count is required\n{USAGE}"))?,
        worker,
        start_at_ms,
    })
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn run(args: &Args) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let store = open_store(&args.tracking_uri)?;
    let tracker = Tracker::new(store.clone());
    let registry = Registry::new(store);

    // One run per process holds this worker's model files (one artifact folder per version).
    let run = tracker.start_run(
        "concurrent-register",
        Some(&format!("{}-worker-{}", args.model, args.worker)),
    )?;
    run.log_param("worker", args.worker)?;
    let run_id = run.id().to_string();

    if let Some(at) = args.start_at_ms {
        let now = now_ms();
        if at > now {
            std::thread::sleep(Duration::from_millis(at - now));
        }
    }

    let mut versions = Vec::with_capacity(usize::try_from(args.count).unwrap_or(0));
    for i in 0..args.count {
        let bytes = format!("worker {} version {}", args.worker, i).into_bytes();
        let v = registry.register(
            NewVersion::new(&args.model, &run_id, bytes)
                .artifact_path(format!("model-{}-{i}", args.worker))
                .tag("worker", args.worker.to_string()),
        )?;
        versions.push(v.version);
    }
    run.finish()?;
    Ok(serde_json::json!({
        "worker": args.worker,
        "model": args.model,
        "run_id": run_id,
        "versions": versions,
    }))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("concurrent_register worker {}: error: {e}", args.worker);
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}
