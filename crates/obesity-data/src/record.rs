//! The typed record: one row of the UCI obesity table, with enums for every categorical column.

use serde::{Deserialize, Serialize};

/// Declares a categorical column's enum with its CSV spellings, in one place.
macro_rules! levels_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every level, in the schema's order (the order of the codes).
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spelling used in the CSV file.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the CSV spelling (exact, case-sensitive, as the UCI file writes it).
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            /// The position of this level in [`Self::ALL`].
            pub fn index(self) -> usize {
                self as usize
            }

            /// The level at `index` in [`Self::ALL`], if any.
            pub fn from_index(index: usize) -> Option<Self> {
                Self::ALL.get(index).copied()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

levels_enum!(
    /// `Gender`.
    Gender {
        /// `Female`.
        Female => "Female",
        /// `Male`.
        Male => "Male",
    }
);

levels_enum!(
    /// An ordered frequency, used by `CAEC` (eating between meals) and `CALC` (alcohol):
    /// `no < Sometimes < Frequently < Always`.
    Frequency {
        /// `no`.
        No => "no",
        /// `Sometimes`.
        Sometimes => "Sometimes",
        /// `Frequently`.
        Frequently => "Frequently",
        /// `Always`.
        Always => "Always",
    }
);

levels_enum!(
    /// `MTRANS`: the transportation used most.
    Transport {
        /// `Automobile`.
        Automobile => "Automobile",
        /// `Bike`.
        Bike => "Bike",
        /// `Motorbike`.
        Motorbike => "Motorbike",
        /// `Public_Transportation`.
        PublicTransportation => "Public_Transportation",
        /// `Walking`.
        Walking => "Walking",
    }
);

levels_enum!(
    /// `NObeyesdad`: the seven target classes, ordered by body-mass index.
    ObesityLevel {
        /// BMI below 18.5.
        InsufficientWeight => "Insufficient_Weight",
        /// BMI 18.5 to 24.9.
        NormalWeight => "Normal_Weight",
        /// BMI 25.0 to 27.4 (first half of overweight).
        OverweightLevelI => "Overweight_Level_I",
        /// BMI 27.5 to 29.9 (second half of overweight).
        OverweightLevelII => "Overweight_Level_II",
        /// BMI 30.0 to 34.9.
        ObesityTypeI => "Obesity_Type_I",
        /// BMI 35.0 to 39.9.
        ObesityTypeII => "Obesity_Type_II",
        /// BMI 40 and above.
        ObesityTypeIII => "Obesity_Type_III",
    }
);

/// One row of the UCI obesity table.
///
/// Numeric columns are kept as `f64` exactly as read, so writing a record back gives the
/// same number. `yes`/`no` columns are `bool`. The target is optional, so unlabelled files
/// (requests for prediction) load with the same code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObesityRecord {
    /// `Gender`.
    pub gender: Gender,
    /// `Age`, years.
    pub age: f64,
    /// `Height`, metres.
    pub height: f64,
    /// `Weight`, kilograms.
    pub weight: f64,
    /// `family_history_with_overweight`: a family member is or was overweight.
    pub family_history_with_overweight: bool,
    /// `FAVC`: eats high-calorie food frequently.
    pub favc: bool,
    /// `FCVC`: vegetables in meals, 1 (never) to 3 (always).
    pub fcvc: f64,
    /// `NCP`: main meals per day, 1 to 4.
    pub ncp: f64,
    /// `CAEC`: eats between meals.
    pub caec: Frequency,
    /// `SMOKE`: smokes.
    pub smoke: bool,
    /// `CH2O`: water per day, 1 (< 1 l) to 3 (> 2 l).
    pub ch2o: f64,
    /// `SCC`: monitors calories.
    pub scc: bool,
    /// `FAF`: physical activity, 0 (none) to 3 (4-5 days a week).
    pub faf: f64,
    /// `TUE`: time on technology devices, 0 (0-2 h) to 2 (> 5 h).
    pub tue: f64,
    /// `CALC`: drinks alcohol.
    pub calc: Frequency,
    /// `MTRANS`: transportation used most.
    pub mtrans: Transport,
    /// `NObeyesdad`: the obesity level, when the row is labelled.
    pub target: Option<ObesityLevel>,
}

impl ObesityRecord {
    /// Body-mass index, `Weight / Height²`.
    pub fn bmi(&self) -> f64 {
        self.weight / (self.height * self.height)
    }
}
