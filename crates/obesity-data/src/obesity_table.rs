//! The worked example: obesity records and a [`Table`] of [`Schema::obesity`] are two views
//! of the same rows. The loader reads a table and converts it, so records and tables share
//! one parser.

use crate::error::{DataError, Result};
use crate::record::{Frequency, Gender, ObesityLevel, ObesityRecord, Transport};
use crate::schema::Schema;
use crate::table::{Cell, Table};

impl Table {
    /// The table of `records` under [`Schema::obesity`].
    pub fn from_records(records: &[ObesityRecord]) -> Table {
        let mut table = Table::with_capacity(Schema::obesity(), records.len());
        for r in records {
            let code = |i: usize| Cell::Code(i as u32);
            let flag = |b: bool| Cell::Code(u32::from(b));
            let cells = [
                code(r.gender.index()),
                Cell::Number(r.age),
                Cell::Number(r.height),
                Cell::Number(r.weight),
                flag(r.family_history_with_overweight),
                flag(r.favc),
                Cell::Number(r.fcvc),
                Cell::Number(r.ncp),
                code(r.caec.index()),
                flag(r.smoke),
                Cell::Number(r.ch2o),
                flag(r.scc),
                Cell::Number(r.faf),
                Cell::Number(r.tue),
                code(r.calc.index()),
                code(r.mtrans.index()),
            ];
            table.push_row(&cells, r.target.map(|t| t.index() as u32));
        }
        table
    }

    /// The rows as typed obesity records, for a table of [`Schema::obesity`].
    ///
    /// # Errors
    /// [`DataError::InvalidTable`] naming a column the table lacks or a code that is not a
    /// level of the obesity schema (a table of another schema).
    pub fn to_obesity_records(&self) -> Result<Vec<ObesityRecord>> {
        let missing = |column: &str| DataError::InvalidTable {
            column: column.to_owned(),
            problem: "not a column of this table; expected a table of Schema::obesity()".to_owned(),
        };
        let num = |name: &str| self.numeric(name).ok_or_else(|| missing(name));
        let codes = |name: &str| self.codes(name).ok_or_else(|| missing(name));
        let bad_code = |name: &str, code: u32| DataError::InvalidTable {
            column: name.to_owned(),
            problem: format!("code {code} is not a level of the obesity schema"),
        };
        fn pick<T>(
            column: &str,
            code: u32,
            from: fn(usize) -> Option<T>,
            bad: &dyn Fn(&str, u32) -> DataError,
        ) -> Result<T> {
            from(code as usize).ok_or_else(|| bad(column, code))
        }
        let flag = |name: &str, code: u32| match code {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(bad_code(name, code)),
        };
        let (age, height, weight) = (num("Age")?, num("Height")?, num("Weight")?);
        let (fcvc, ncp, ch2o, faf, tue) = (
            num("FCVC")?,
            num("NCP")?,
            num("CH2O")?,
            num("FAF")?,
            num("TUE")?,
        );
        let (gender, family, favc, caec) = (
            codes("Gender")?,
            codes("family_history_with_overweight")?,
            codes("FAVC")?,
            codes("CAEC")?,
        );
        let (smoke, scc, calc, mtrans) = (
            codes("SMOKE")?,
            codes("SCC")?,
            codes("CALC")?,
            codes("MTRANS")?,
        );
        let mut out = Vec::with_capacity(self.n_rows());
        for (i, target) in self.target().iter().enumerate() {
            let at = |v: &[f64]| v.get(i).copied().unwrap_or(f64::NAN);
            let code = |v: &[u32]| v.get(i).copied().unwrap_or(u32::MAX);
            out.push(ObesityRecord {
                gender: pick("Gender", code(gender), Gender::from_index, &bad_code)?,
                age: at(age),
                height: at(height),
                weight: at(weight),
                family_history_with_overweight: flag(
                    "family_history_with_overweight",
                    code(family),
                )?,
                favc: flag("FAVC", code(favc))?,
                fcvc: at(fcvc),
                ncp: at(ncp),
                caec: pick("CAEC", code(caec), Frequency::from_index, &bad_code)?,
                smoke: flag("SMOKE", code(smoke))?,
                ch2o: at(ch2o),
                scc: flag("SCC", code(scc))?,
                faf: at(faf),
                tue: at(tue),
                calc: pick("CALC", code(calc), Frequency::from_index, &bad_code)?,
                mtrans: pick("MTRANS", code(mtrans), Transport::from_index, &bad_code)?,
                target: match target {
                    None => None,
                    Some(t) => Some(pick("NObeyesdad", *t, ObesityLevel::from_index, &bad_code)?),
                },
            });
        }
        Ok(out)
    }
}
