//! Validates a CSV file with the UCI obesity schema and prints its validation report.
//!
//! ```text
//! cargo run --release --example validate -- FILE [--json] [--lenient]
//! ```
//!
//! Exit status 0 when the file loads (the report may still show problems); 1 with the error
//! (file, line, column, value, what was expected) on stderr when it cannot be loaded.

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
}

fn main() -> ExitCode {
    let args = Args::parse();
    let options = if args.lenient {
        LoadOptions::lenient()
    } else {
        LoadOptions::strict()
    };
    let loaded = match load_csv(&args.file, &options) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = ValidationReport::from_loaded(&loaded);
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("error: cannot serialize the report: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{report}");
    }
    ExitCode::SUCCESS
}
