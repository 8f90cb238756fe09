//! Records built by hand, so the tests do not depend on the data crate's loader or generator.

use obesity_data::{Frequency, Gender, ObesityLevel, ObesityRecord, Transport};

/// A plausible labelled record; tests change the fields they care about.
pub(crate) fn person() -> ObesityRecord {
    ObesityRecord {
        gender: Gender::Female,
        age: 21.0,
        height: 1.62,
        weight: 64.0,
        family_history_with_overweight: true,
        favc: false,
        fcvc: 2.0,
        ncp: 3.0,
        caec: Frequency::Sometimes,
        smoke: false,
        ch2o: 2.0,
        scc: false,
        faf: 0.0,
        tue: 1.0,
        calc: Frequency::No,
        mtrans: Transport::PublicTransportation,
        target: Some(ObesityLevel::NormalWeight),
    }
}

/// `n` valid, varied records, deterministic: every level of every column occurs once `n` is
/// large enough, except `CALC=Always` (as in a UCI split that missed its single such row).
pub(crate) fn sample(n: usize) -> Vec<ObesityRecord> {
    (0..n)
        .map(|i| {
            let f = i as f64;
            ObesityRecord {
                gender: Gender::ALL[i % 2],
                age: 14.0 + (f * 7.3) % 47.0,
                height: 1.45 + (f * 0.037) % 0.53,
                weight: 39.0 + (f * 11.9) % 134.0,
                family_history_with_overweight: i % 3 != 0,
                favc: i % 4 != 1,
                fcvc: 1.0 + (f * 0.61) % 2.0,
                ncp: 1.0 + (f * 0.83) % 3.0,
                caec: Frequency::ALL[(i / 2) % 4],
                smoke: i % 7 == 3,
                ch2o: 1.0 + (f * 0.29) % 2.0,
                scc: i % 5 == 2,
                faf: (f * 0.47) % 3.0,
                tue: (f * 0.31) % 2.0,
                calc: Frequency::ALL[i % 3],
                mtrans: Transport::ALL[(i / 3) % 5],
                target: Some(ObesityLevel::ALL[i % 7]),
            }
        })
        .collect()
}

/// Position of the column called `name`, failing the test with the names when absent.
pub(crate) fn col(names: &[String], name: &str) -> usize {
    names
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no column {name:?} in {names:?}"))
}
