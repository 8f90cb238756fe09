//! Builds a drift reference profile from training data, makes a shifted batch and prints the
//! drift report (Evidently's DataDriftPreset rules) and the alerts it raises.
//!
//! ```text
//! cargo run --release --example drift_report -- [--data FILE] [--shift heavier|transport|none] [--json]
//! ```
//!
//! The rows are split in two: even rows are the training (reference) data, odd rows the
//! production batch. `--shift heavier` keeps only the heavier half of the batch (weight above
//! the batch median); `--shift transport` moves every second public-transport user to a car;
//! `--shift none` leaves the batch as it is (no drift expected).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, ValueEnum};
use obesity_mlops::data::{LoadOptions, ObesityRecord, Transport, feature_columns, load_csv};
use obesity_mlops::monitor::{
    AlertPolicy, DriftOptions, PerformanceMonitor, PredictionBatch, ReferenceProfile, SystemClock,
};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Shift {
    /// Only people heavier than the batch median.
    Heavier,
    /// Half of the public-transport users switch to cars.
    Transport,
    /// No change.
    None,
}

/// Print the drift report of a shifted batch against a reference profile.
#[derive(Debug, Parser)]
#[command(name = "drift_report")]
struct Args {
    /// The CSV file to split into reference and current data.
    #[arg(long, env = "OBESITY_DATA", default_value_os_t = obesity_mlops::pipeline::default_data_path())]
    data: PathBuf,
    /// How the current batch is shifted.
    #[arg(long, value_enum, default_value_t = Shift::Heavier)]
    shift: Shift,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn shifted_batch(rows: Vec<ObesityRecord>, shift: Shift) -> Vec<ObesityRecord> {
    match shift {
        Shift::None => rows,
        Shift::Heavier => {
            let mut weights: Vec<f64> = rows.iter().map(|r| r.weight).collect();
            weights.sort_by(f64::total_cmp);
            let median = weights.get(weights.len() / 2).copied().unwrap_or(0.0);
            rows.into_iter().filter(|r| r.weight > median).collect()
        }
        Shift::Transport => {
            let mut flip = false;
            rows.into_iter()
                .map(|mut r| {
                    if r.mtrans == Transport::PublicTransportation {
                        flip = !flip;
                        if flip {
                            r.mtrans = Transport::Automobile;
                        }
                    }
                    r
                })
                .collect()
        }
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let loaded = load_csv(&args.data, &LoadOptions::strict())?;
    let (mut reference, mut current) = (Vec::new(), Vec::new());
    for (i, r) in loaded.records.into_iter().enumerate() {
        if i % 2 == 0 {
            reference.push(r)
        } else {
            current.push(r)
        }
    }
    let current = shifted_batch(current, args.shift);

    // Built once at training time and stored with the model: the service loads the JSON,
    // never the training set.
    let stored = ReferenceProfile::from_columns(&feature_columns(&reference))?.to_json()?;
    let profile = ReferenceProfile::from_json(&stored)?;

    let report = profile.drift(&feature_columns(&current), &DriftOptions::default())?;
    // writeln! rather than println!, so a closed pipe (`| head`) is an error, not a panic.
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", report.to_json()?)?;
    } else {
        writeln!(
            out,
            "reference: {} rows from {} (profile {} KiB); current: {} rows, shift {}\n",
            reference.len(),
            args.data.display(),
            stored.len() / 1024,
            current.len(),
            args.shift
                .to_possible_value()
                .map_or_else(|| "?".to_owned(), |v| v.get_name().to_owned())
        )?;
        writeln!(out, "{report}\n")?;
    }

    // The monitor takes the share of drifted columns as the batch's drift score; the alert
    // policy's default drift threshold is 0.1.
    let mut monitor = PerformanceMonitor::in_memory("obesity", Arc::new(SystemClock))?;
    monitor.log_batch(
        PredictionBatch::new("current").with_drift_score(report.share_of_drifted_columns),
    )?;
    let alerts = AlertPolicy::default().evaluate(&monitor.summary_hours(1));
    if !args.json {
        writeln!(
            out,
            "two thresholds: the data set drifts at a share of drifted columns >= {:.2}; a drift \
             alert fires above {:.2} (the alert policy's default), so an alert can come without \
             data-set drift",
            report.drift_share, 0.1
        )?;
        if alerts.is_empty() {
            writeln!(out, "alerts: none")?;
        }
        for alert in &alerts {
            writeln!(out, "alert: {alert}")?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        // `drift_report | head`: the reader went away; not an error of the report.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
