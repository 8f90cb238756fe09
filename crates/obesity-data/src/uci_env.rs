//! Where the real UCI file is: one place for the `OBESITY_UCI_CSV` rule that tests, benches
//! and examples share.
//!
//! The UCI file is not in the repository (its licence and size), so every consumer reads its
//! path from `OBESITY_UCI_CSV`. Tests skip without it; CI sets `OBESITY_REQUIRE_UCI=1` so
//! that a missing or misnamed file fails the run instead of turning every UCI test into a
//! silent pass.

use std::path::PathBuf;

use crate::error::{DataError, Result};

/// The variable naming the real UCI CSV.
pub const UCI_CSV_ENV: &str = "OBESITY_UCI_CSV";

/// Set to `1` to make a missing [`UCI_CSV_ENV`] an error instead of a skip (CI does).
pub const REQUIRE_UCI_ENV: &str = "OBESITY_REQUIRE_UCI";

/// The UCI file named by `OBESITY_UCI_CSV`: `Ok(None)` when the variable is unset (the
/// caller skips and says so), `Ok(Some(path))` when it names an existing file.
///
/// # Errors
/// [`DataError::UciFileRequired`] when the variable is unset while `OBESITY_REQUIRE_UCI=1`,
/// or when it names a path that is not a file.
///
/// # Examples
/// ```
/// match obesity_data::uci_csv_from_env()? {
///     Some(path) => println!("using {}", path.display()),
///     None => println!("skipped: OBESITY_UCI_CSV is not set"),
/// }
/// # Ok::<(), obesity_data::DataError>(())
/// ```
pub fn uci_csv_from_env() -> Result<Option<PathBuf>> {
    let required = std::env::var(REQUIRE_UCI_ENV).is_ok_and(|v| v == "1");
    match std::env::var_os(UCI_CSV_ENV) {
        Some(path) if !path.is_empty() => {
            let path = PathBuf::from(path);
            if path.is_file() {
                Ok(Some(path))
            } else {
                Err(DataError::UciFileRequired {
                    reason: format!("{UCI_CSV_ENV}={} is not a file", path.display()),
                })
            }
        }
        _ if required => Err(DataError::UciFileRequired {
            reason: format!("{UCI_CSV_ENV} is not set while {REQUIRE_UCI_ENV}=1"),
        }),
        _ => Ok(None),
    }
}
