//! What a feature pipeline computes: the hyper-parameters of the transform, as plain data.
//!
//! Every combination of settings is valid, so there is nothing to check and no builder that
//! can fail: set the public fields, usually with struct-update syntax from
//! [`FeatureConfig::default`] or [`FeatureConfig::standard`].

use serde::{Deserialize, Serialize};

/// How the ordered frequency columns `CAEC` and `CALC` are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FrequencyEncoding {
    /// One column per column, holding the level's code: `no` = 0, `Sometimes` = 1,
    /// `Frequently` = 2, `Always` = 3 (scikit-learn's `OrdinalEncoder` with the schema's order).
    /// Compact and order-preserving, which suits trees.
    Ordinal,
    /// One 0/1 column per level (`CALC=no`, `CALC=Sometimes`, ...), as `pandas.get_dummies`.
    OneHot,
}

/// How the yes/no columns (`family_history_with_overweight`, `FAVC`, `SMOKE`, `SCC`) are
/// encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BinaryEncoding {
    /// One column `FAVC=yes` holding 1 for yes and 0 for no (scikit-learn's
    /// `OneHotEncoder(drop="if_binary")`).
    Single,
    /// Two columns `FAVC=no` and `FAVC=yes`, as `pandas.get_dummies` makes them.
    OneHot,
}

/// Whether the numeric columns are standardised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Scaling {
    /// Numeric columns are passed through unchanged.
    None,
    /// Scikit-learn's `StandardScaler`: `(x - mean) / std`, with mean and population std
    /// (ddof = 0) learnt from the records given to `fit`. Applies to the measured numeric
    /// columns and BMI, never to 0/1 indicators or ordinal codes. A constant column (zero
    /// variance, up to rounding, by scikit-learn's rule) gets scale 1 instead of a division
    /// by zero.
    Standard,
}

/// What to do with a category level that the records given to `fit` did not contain.
///
/// The UCI file has a single `CALC=Always` row, so a training split can easily miss it; the
/// rule decides what the serving-time transform does when it meets one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UnseenCategory {
    /// One-hot columns come from the schema's levels, whatever the sample: the width and the
    /// column names never depend on which rows happened to be in the training split, and a
    /// level absent in training simply has an all-zero column there. No level of a typed
    /// record can be unseen under this rule.
    SchemaLevels,
    /// One-hot columns only for the levels seen in `fit`; a level not seen in `fit` encodes
    /// as all zeros in its column group (scikit-learn's `handle_unknown="ignore"`). Ordinal
    /// codes and single yes/no columns are defined by the schema and are unaffected.
    IgnoreUnseen,
    /// One-hot columns only for the levels seen in `fit`; a record with a level not seen in
    /// `fit`, in any categorical column (one-hot, ordinal or yes/no), is an
    /// [`FeatureError::UnseenCategory`](crate::FeatureError::UnseenCategory) naming the row,
    /// the column and the value (scikit-learn's `handle_unknown="error"`).
    Error,
}

/// The settings of a [`FeaturePipeline`](crate::FeaturePipeline).
///
/// # Column order
///
/// Whatever the settings, the output columns come in this order:
///
/// 1. the measured numeric columns, in file order: `Age`, `Height`, `Weight`, `FCVC`, `NCP`,
///    `CH2O`, `FAF`, `TUE`;
/// 2. `BMI` (Weight / Height², when [`bmi`](Self::bmi) is on);
/// 3. the categorical columns, in file order: `Gender`, `family_history_with_overweight`,
///    `FAVC`, `CAEC`, `SMOKE`, `SCC`, `CALC`, `MTRANS`. A one-hot column expands to
///    `COLUMN=level` for each level in the schema's order (`no`, `yes`; `no`, `Sometimes`,
///    `Frequently`, `Always`; `Automobile`, `Bike`, `Motorbike`, `Public_Transportation`,
///    `Walking`; `Female`, `Male`), an ordinal column is one column named `COLUMN`, and a
///    single yes/no column is one column named `COLUMN=yes`.
///
/// This is the layout of `pandas.get_dummies(df)` after `df["BMI"] = ...`, except that pandas
/// sorts the levels of each column alphabetically and writes `COLUMN_level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// Whether to add the derived `BMI` column. By default, this is on.
    pub bmi: bool,
    /// How `CAEC` and `CALC` are encoded. By default, this is [`FrequencyEncoding::Ordinal`].
    pub frequency: FrequencyEncoding,
    /// How yes/no columns are encoded. By default, this is [`BinaryEncoding::Single`].
    pub binary: BinaryEncoding,
    /// Whether numeric columns are standardised. By default, this is [`Scaling::None`]
    /// (trees do not need it).
    pub scaling: Scaling,
    /// What to do with a level not seen in `fit`. By default, this is
    /// [`UnseenCategory::SchemaLevels`].
    pub unseen: UnseenCategory,
}

impl Default for FeatureConfig {
    /// The compact encoding for tree models: BMI on, `CAEC`/`CALC` as ordinal codes, yes/no
    /// columns as one 0/1 column each, `Gender` and `MTRANS` one-hot, no scaling, one-hot
    /// columns from the schema's levels. 22 columns.
    fn default() -> Self {
        FeatureConfig {
            bmi: true,
            frequency: FrequencyEncoding::Ordinal,
            binary: BinaryEncoding::Single,
            scaling: Scaling::None,
            unseen: UnseenCategory::SchemaLevels,
        }
    }
}

impl FeatureConfig {
    /// The reference encoding the forest is benchmarked on: one-hot for every categorical
    /// column, including each yes/no column (two columns each), no ordinal codes, BMI on, no
    /// scaling, columns from the schema's levels. 32 columns: the same set as
    /// `pandas.get_dummies` on the UCI table plus BMI (see [the column order](Self)), so a
    /// scikit-learn model sees the same matrix.
    pub fn standard() -> Self {
        FeatureConfig {
            bmi: true,
            frequency: FrequencyEncoding::OneHot,
            binary: BinaryEncoding::OneHot,
            scaling: Scaling::None,
            unseen: UnseenCategory::SchemaLevels,
        }
    }
}
