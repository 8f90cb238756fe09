//! [`ModelRef`]: the ways to name a model version, as MLflow's `models:/` URIs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::Stage;
use crate::validate;

/// A reference to one version of a registered model.
///
/// Parsed from MLflow's forms: `models:/name/3` (a number), `models:/name@champion` (an
/// alias), `models:/name/Production` (the latest version in a stage), `models:/name/latest`
/// (the highest version), and the same without the `models:/` prefix (`name@champion`,
/// `name/3`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ModelRef {
    /// A version number.
    Version {
        /// The registered model.
        name: String,
        /// The version.
        version: u64,
    },
    /// An alias such as `champion`.
    Alias {
        /// The registered model.
        name: String,
        /// The alias.
        alias: String,
    },
    /// The latest version in a stage.
    Stage {
        /// The registered model.
        name: String,
        /// The stage.
        stage: Stage,
    },
    /// The highest version number.
    Latest {
        /// The registered model.
        name: String,
    },
}

impl ModelRef {
    /// The registered model's name.
    pub fn name(&self) -> &str {
        match self {
            ModelRef::Version { name, .. }
            | ModelRef::Alias { name, .. }
            | ModelRef::Stage { name, .. }
            | ModelRef::Latest { name } => name,
        }
    }
}

impl FromStr for ModelRef {
    type Err = Error;

    fn from_str(uri: &str) -> Result<Self> {
        let bad = |reason| Error::InvalidModelUri {
            uri: uri.to_string(),
            reason,
        };
        let body = uri.strip_prefix("models:/").unwrap_or(uri);
        if body.is_empty() {
            return Err(bad("missing model name"));
        }
        if let Some((name, alias)) = body.split_once('@') {
            validate::model_name(name)?;
            validate::alias(alias)?;
            return Ok(ModelRef::Alias {
                name: name.to_string(),
                alias: alias.to_string(),
            });
        }
        let Some((name, rest)) = body.split_once('/') else {
            return Err(bad("expected name/<version|stage|latest> or name@<alias>"));
        };
        validate::model_name(name)?;
        if rest.is_empty() || rest.contains('/') {
            return Err(bad(
                "expected exactly one of <version>, <stage> or latest after the name",
            ));
        }
        let name = name.to_string();
        if rest.chars().all(|c| c.is_ascii_digit()) {
            let version: u64 = rest.parse().map_err(|_| bad("version number too large"))?;
            if version == 0 {
                return Err(bad("versions start at 1"));
            }
            return Ok(ModelRef::Version { name, version });
        }
        if rest.eq_ignore_ascii_case("latest") {
            return Ok(ModelRef::Latest { name });
        }
        match rest.parse::<Stage>() {
            Ok(stage) => Ok(ModelRef::Stage { name, stage }),
            Err(_) => Err(bad(
                "after the name, expected a version number, a stage (None, Staging, Production, Archived) or latest",
            )),
        }
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelRef::Version { name, version } => write!(f, "models:/{name}/{version}"),
            ModelRef::Alias { name, alias } => write!(f, "models:/{name}@{alias}"),
            ModelRef::Stage { name, stage } => write!(f, "models:/{name}/{stage}"),
            ModelRef::Latest { name } => write!(f, "models:/{name}/latest"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let v: ModelRef = "models:/obesity/3".parse().unwrap();
        assert_eq!(
            v,
            ModelRef::Version {
                name: "obesity".into(),
                version: 3
            }
        );
        let a: ModelRef = "obesity@champion".parse().unwrap();
        assert_eq!(a.to_string(), "models:/obesity@champion");
        let s: ModelRef = "models:/obesity/production".parse().unwrap();
        assert_eq!(s.to_string(), "models:/obesity/Production");
        let l: ModelRef = "models:/obesity/latest".parse().unwrap();
        assert_eq!(
            l,
            ModelRef::Latest {
                name: "obesity".into()
            }
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "models:/",
            "obesity",
            "models:/obesity/0",
            "models:/obesity/Prod",
            "models:/a/b/c",
            "models:/../x/1",
            "obesity@",
            "obesity@latest",
        ] {
            let e = bad.parse::<ModelRef>().unwrap_err();
            let msg = e.to_string();
            assert!(!msg.is_empty(), "{bad:?}");
        }
    }
}
