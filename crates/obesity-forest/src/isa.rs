//! Instruction sets: which kernels a forest runs, how the choice is made (detected once per
//! process, or forced by [`ISA_ENV`], a builder option or [`RandomForest::with_isa`]), and
//! the proof ([`Supported`]) that the kernels' `unsafe` SIMD calls rely on.
//!
//! [`RandomForest::with_isa`]: crate::RandomForest::with_isa

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// The environment variable that forces the instruction set of every forest of the process
/// whose parameters do not name one: `portable`, `sse2`, `avx2` or `avx512` (or `auto`, the
/// default: the best the CPU has). Read once, at the first fit or load.
pub const ISA_ENV: &str = "OBESITY_FOREST_ISA";

/// The instruction set a forest's kernels use, from the most portable to the widest. Each
/// level includes the ones before it, and all of them give bit-identical models and
/// predictions (tested): the choice changes speed only.
///
/// | `Isa` | training | batch prediction (512+ rows) | where |
/// |---|---|---|---|
/// | [`Portable`](Isa::Portable) | scalar split scans | bitset kernel, plain Rust loops (vectorised by the compiler for the target's baseline: SSE2 on x86-64, NEON on aarch64) | every CPU |
/// | [`Sse2`](Isa::Sse2) | SSE2 gini scans (`pmaddwd`) | bitset kernel with SSE2 compares and masks | every x86-64 CPU |
/// | [`Avx2`](Isa::Avx2) | as `Sse2` | bitset kernel with AVX2 compares, masks and gathers; AVX2 routing | x86-64 with AVX2 and POPCNT (Intel since 2013, AMD since 2015) |
/// | [`Avx512`](Isa::Avx512) | as `Sse2` | bitset kernel with AVX-512 masked compares; AVX2 routing | x86-64 with AVX-512F/BW/VL |
///
/// By default a forest uses [`Isa::process_default`]: [`ISA_ENV`] if set, else
/// [`Isa::detected`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Isa {
    /// No explicit SIMD: plain Rust everywhere.
    Portable,
    /// SSE2 (the x86-64 baseline).
    Sse2,
    /// AVX2 and POPCNT.
    Avx2,
    /// AVX-512F, AVX-512BW and AVX-512VL (plus AVX2 and POPCNT).
    Avx512,
}

impl Isa {
    /// Every instruction set, from the most portable to the widest.
    pub const ALL: [Isa; 4] = [Isa::Portable, Isa::Sse2, Isa::Avx2, Isa::Avx512];

    /// The name [`ISA_ENV`] and [`FromStr`] accept: `portable`, `sse2`, `avx2`, `avx512`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Sse2 => "sse2",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// Whether this CPU can run it (checked at run time; `Portable` always).
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Sse2 => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("popcnt")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                Isa::Avx2.is_supported()
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Every instruction set this CPU runs, from the most portable to the widest (what the
    /// tests and benches iterate over).
    pub fn supported() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_supported()).collect()
    }

    /// The widest instruction set this CPU runs.
    pub fn detected() -> Isa {
        Isa::ALL
            .into_iter()
            .rev()
            .find(|i| i.is_supported())
            .unwrap_or(Isa::Portable)
    }

    /// The instruction set of forests that do not name one: [`ISA_ENV`] when it is set to a
    /// name this CPU runs, else [`Isa::detected`]. The variable is read once per process.
    ///
    /// An unknown value, or an instruction set this CPU lacks, does not stop the program (a
    /// deployment's environment should not take a server down): a warning naming the value
    /// and the instruction set used instead goes to stderr, once, and the widest supported
    /// instruction set not above the one asked for is used (an unknown value: the widest
    /// the CPU runs), so no kernel ever executes an instruction the CPU lacks. The explicit
    /// options ([`ForestParamsBuilder::isa`], [`RandomForest::with_isa`]) refuse instead,
    /// with [`ModelError::IsaUnavailable`](crate::ModelError::IsaUnavailable).
    ///
    /// [`ForestParamsBuilder::isa`]: crate::ForestParamsBuilder::isa
    /// [`RandomForest::with_isa`]: crate::RandomForest::with_isa
    pub fn process_default() -> Isa {
        static DEFAULT: OnceLock<Isa> = OnceLock::new();
        *DEFAULT.get_or_init(|| {
            let value = std::env::var_os(ISA_ENV);
            let (isa, warning) =
                from_env_value(value.as_deref().map(|v| v.to_string_lossy()).as_deref());
            if let Some(w) = warning {
                eprintln!("obesity-forest: {w}");
            }
            isa
        })
    }
}

/// What [`ISA_ENV`]'s value selects, and the warning to print when the value is not used as
/// given (unknown, or not supported by this CPU).
pub(crate) fn from_env_value(value: Option<&str>) -> (Isa, Option<String>) {
    let Some(raw) = value else {
        return (Isa::detected(), None);
    };
    let v = raw.trim();
    if v.is_empty() || v.eq_ignore_ascii_case("auto") {
        return (Isa::detected(), None);
    }
    match v.parse::<Isa>() {
        Ok(isa) if isa.is_supported() => (isa, None),
        Ok(isa) => {
            let used = best_not_above(isa);
            (
                used,
                Some(format!(
                    "{ISA_ENV}={raw}: this CPU does not support {isa}; using {used} instead"
                )),
            )
        }
        Err(_) => {
            let used = Isa::detected();
            (
                used,
                Some(format!(
                    "{ISA_ENV}={raw:?} is not one of auto, portable, sse2, avx2, avx512; \
                     using {used} (the widest this CPU runs)"
                )),
            )
        }
    }
}

/// The widest supported instruction set at or below `isa` (`Portable` at worst).
fn best_not_above(isa: Isa) -> Isa {
    Isa::ALL
        .into_iter()
        .rev()
        .find(|i| *i <= isa && i.is_supported())
        .unwrap_or(Isa::Portable)
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A string that names no instruction set (see [`Isa`]'s [`FromStr`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseIsaError {
    /// The string given.
    pub value: String,
}

impl fmt::Display for ParseIsaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown instruction set {:?}: expected one of portable, sse2, avx2, avx512",
            self.value
        )
    }
}

impl std::error::Error for ParseIsaError {}

impl FromStr for Isa {
    type Err = ParseIsaError;

    /// `portable`, `sse2`, `avx2` or `avx512`, ignoring ASCII case and surrounding spaces
    /// (`avx-512` and `avx512f` are accepted too).
    fn from_str(s: &str) -> Result<Isa, ParseIsaError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "portable" => Ok(Isa::Portable),
            "sse2" => Ok(Isa::Sse2),
            "avx2" => Ok(Isa::Avx2),
            "avx512" | "avx-512" | "avx512f" => Ok(Isa::Avx512),
            _ => Err(ParseIsaError {
                value: s.to_string(),
            }),
        }
    }
}

/// An instruction set this CPU was checked to run. The only way to make one is
/// [`Supported::new`], which asks the CPU: the kernels' `unsafe` calls into
/// `#[target_feature]` functions rely on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Supported(Isa);

impl Supported {
    /// `Some` when this CPU runs `isa`.
    pub(crate) fn new(isa: Isa) -> Option<Supported> {
        isa.is_supported().then_some(Supported(isa))
    }

    /// The portable level, which every CPU runs.
    pub(crate) const PORTABLE: Supported = Supported(Isa::Portable);

    /// The instruction set.
    pub(crate) fn get(self) -> Isa {
        self.0
    }

    /// Every level this CPU runs (tests).
    #[cfg(test)]
    pub(crate) fn all() -> Vec<Supported> {
        Isa::supported().into_iter().map(Supported).collect()
    }
}

impl Default for Supported {
    fn default() -> Self {
        Supported::PORTABLE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_order_is_by_width() {
        for isa in Isa::ALL {
            assert_eq!(isa.name().parse::<Isa>().unwrap(), isa);
            assert_eq!(isa.to_string().to_uppercase().parse::<Isa>().unwrap(), isa);
        }
        assert!(Isa::Portable < Isa::Sse2 && Isa::Sse2 < Isa::Avx2 && Isa::Avx2 < Isa::Avx512);
        let err = "neon".parse::<Isa>().unwrap_err();
        assert_eq!(err.value, "neon");
        assert!(
            err.to_string().contains("portable, sse2, avx2, avx512"),
            "{err}"
        );
    }

    #[test]
    fn support_is_cumulative_and_portable_always_runs() {
        let s = Isa::supported();
        assert_eq!(s[0], Isa::Portable);
        assert_eq!(*s.last().unwrap(), Isa::detected());
        // Each level includes the ones below it.
        assert_eq!(s, Isa::ALL[..s.len()].to_vec());
        #[cfg(target_arch = "x86_64")]
        assert!(s.contains(&Isa::Sse2));
    }

    #[test]
    fn environment_values_are_parsed_or_warned_about() {
        let best = Isa::detected();
        assert_eq!(from_env_value(None), (best, None));
        assert_eq!(from_env_value(Some("")), (best, None));
        assert_eq!(from_env_value(Some("auto")), (best, None));
        assert_eq!(from_env_value(Some("portable")), (Isa::Portable, None));
        assert_eq!(from_env_value(Some(" Portable ")), (Isa::Portable, None));
        let (isa, warning) = from_env_value(Some("avx3"));
        assert_eq!(isa, best);
        let w = warning.unwrap();
        assert!(
            w.contains("avx3") && w.contains("portable, sse2, avx2, avx512"),
            "{w}"
        );
        for asked in Isa::ALL {
            let (isa, warning) = from_env_value(Some(asked.name()));
            if asked.is_supported() {
                assert_eq!((isa, warning), (asked, None));
            } else {
                // Never above what the CPU runs, never above what was asked.
                assert!(isa.is_supported() && isa < asked);
                assert!(warning.unwrap().contains("does not support"));
            }
        }
    }

    #[test]
    fn only_supported_levels_get_a_proof() {
        for isa in Isa::ALL {
            assert_eq!(Supported::new(isa).is_some(), isa.is_supported(), "{isa}");
        }
        assert_eq!(Supported::all().len(), Isa::supported().len());
    }
}
