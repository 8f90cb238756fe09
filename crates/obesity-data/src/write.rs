//! Writing records back to CSV in the UCI column order, so that write-then-load round trips.

use std::fmt::Write as _;
use std::io;

use crate::error::{DataError, Result};
use crate::record::ObesityRecord;
use crate::schema::TARGET_COLUMN;

/// The 16 feature columns in the UCI file's order.
pub(crate) const FEATURE_COLUMNS: [&str; 16] = [
    "Gender",
    "Age",
    "Height",
    "Weight",
    "family_history_with_overweight",
    "FAVC",
    "FCVC",
    "NCP",
    "CAEC",
    "SMOKE",
    "CH2O",
    "SCC",
    "FAF",
    "TUE",
    "CALC",
    "MTRANS",
];

/// Writes `records` as CSV to `writer`: a header, then one row per record, LF line endings.
///
/// Columns come in the UCI file's order. `NObeyesdad` is written when at least one record is
/// labelled (unlabelled records then get an empty cell, which loads back as `None`); when
/// none is, the file has the 16 feature columns only, like a prediction request. Numbers
/// use Rust's shortest round-trip form (`21`, `1.62`), so they read back bit-identical.
/// The CSV writer buffers internally (a plain `File` is fine) and is flushed before returning.
pub fn write_csv<W: io::Write>(records: &[ObesityRecord], writer: W) -> Result<()> {
    let labelled = records.iter().any(|r| r.target.is_some());
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(writer);
    let wrap = |e: csv::Error| DataError::Write { source: e.into() };

    for name in FEATURE_COLUMNS {
        out.write_field(name).map_err(wrap)?;
    }
    if labelled {
        out.write_field(TARGET_COLUMN).map_err(wrap)?;
    }
    out.write_record(None::<&[u8]>).map_err(wrap)?;

    let mut num = String::with_capacity(32);
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    for (index, r) in records.iter().enumerate() {
        // A NaN or infinity would be written as `NaN` / `inf`, which the loader reads as a
        // missing value or rejects: refuse it here, so what is written always loads back.
        let numbers = [
            ("Age", r.age),
            ("Height", r.height),
            ("Weight", r.weight),
            ("FCVC", r.fcvc),
            ("NCP", r.ncp),
            ("CH2O", r.ch2o),
            ("FAF", r.faf),
            ("TUE", r.tue),
        ];
        if let Some((column, value)) = numbers.iter().find(|(_, v)| !v.is_finite()) {
            return Err(DataError::Write {
                source: io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "record {index} (0-based), column `{column}`: {value} is not a finite \
                         number, so it would not load back"
                    ),
                ),
            });
        }
        let mut number = |out: &mut csv::Writer<W>, x: f64| {
            num.clear();
            // Writing to a String cannot fail.
            let _ = write!(num, "{x}");
            out.write_field(&num)
        };
        out.write_field(r.gender.as_str()).map_err(wrap)?;
        number(&mut out, r.age).map_err(wrap)?;
        number(&mut out, r.height).map_err(wrap)?;
        number(&mut out, r.weight).map_err(wrap)?;
        out.write_field(yes_no(r.family_history_with_overweight))
            .map_err(wrap)?;
        out.write_field(yes_no(r.favc)).map_err(wrap)?;
        number(&mut out, r.fcvc).map_err(wrap)?;
        number(&mut out, r.ncp).map_err(wrap)?;
        out.write_field(r.caec.as_str()).map_err(wrap)?;
        out.write_field(yes_no(r.smoke)).map_err(wrap)?;
        number(&mut out, r.ch2o).map_err(wrap)?;
        out.write_field(yes_no(r.scc)).map_err(wrap)?;
        number(&mut out, r.faf).map_err(wrap)?;
        number(&mut out, r.tue).map_err(wrap)?;
        out.write_field(r.calc.as_str()).map_err(wrap)?;
        out.write_field(r.mtrans.as_str()).map_err(wrap)?;
        if labelled {
            out.write_field(r.target.map_or("", |t| t.as_str()))
                .map_err(wrap)?;
        }
        out.write_record(None::<&[u8]>).map_err(wrap)?;
    }
    out.flush().map_err(|e| DataError::Write { source: e })?;
    Ok(())
}
