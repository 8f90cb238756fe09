//! Validates a CSV file with the UCI obesity schema and prints its validation report.
//!
//! ```text
//! cargo run --release --example validate -- FILE [--json] [--lenient] [--delimiter ';']
//! ```
//!
//! Exit status 0 when the file loads (the report may still show problems); 1 with the error
//! (file, line, column, value, what was expected) on stderr when it cannot be loaded.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use obesity_mlops::data::{LoadOptions, ValidationReport, load_csv};

/// Print the validation report of an obesity CSV file.
#[derive(Debug, Parser)]
#[command(name = "validate")]
struct Args {
    /// The CSV file (header on line 1; columns in any order).
    file: PathBuf,
    /// Print the report as one JSON document instead of text.
    #[arg(long)]
    json: bool,
    /// Keep good rows and report bad ones instead of stopping at the first bad row.
    #[arg(long)]
    lenient: bool,
    /// Field separator, for `;`- or tab-separated exports (one ASCII character).
    #[arg(long, default_value_t = ',')]
    delimiter: char,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let Some(delimiter) = args.delimiter.is_ascii().then_some(args.delimiter as u8) else {
        eprintln!(
            "error: --delimiter must be one ASCII character, got `{}`",
            args.delimiter
        );
        return ExitCode::from(2);
    };
    let options = if args.lenient {
        LoadOptions::lenient()
    } else {
        LoadOptions::strict()
    }
    .delimiter(delimiter);
    let loaded = match load_csv(&args.file, &options) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = ValidationReport::from_loaded(&loaded);
    let text = if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => json + "\n",
            Err(e) => {
                eprintln!("error: cannot serialize the report: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        report.to_string()
    };
    // A closed pipe (`| head`) is not an error worth a panic.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("error: cannot write the report: {e}");
            ExitCode::FAILURE
        }
        _ => ExitCode::SUCCESS,
    }
}
