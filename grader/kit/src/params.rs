//! An op's parameters: the non-tensor arguments of one call (a scale, a
//! flag, a size), as JSON values. The judge sends them, the adapter reads
//! them with the accessors below; a fixture case carries the same map.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::failure::Failure;

/// Named parameters; a null value means "not given".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Params(pub Map<String, Value>);

impl Params {
    /// From a `serde_json::json!({...})` object; anything else gives no parameters.
    pub fn from_json(value: Value) -> Params {
        match value {
            Value::Object(map) => Params(map),
            _ => Params::default(),
        }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    fn bad(&self, name: &str, wanted: &str) -> Failure {
        Failure::fixture(format!(
            "parameter {name:?} should be {wanted}, found {:?}",
            self.0.get(name)
        ))
    }

    /// A float parameter; `None` when absent or null.
    pub fn f64(&self, name: &str) -> Result<Option<f64>, Failure> {
        self.get(name)
            .map(|v| v.as_f64().ok_or_else(|| self.bad(name, "a number")))
            .transpose()
    }

    /// A boolean parameter; absent means false.
    pub fn bool(&self, name: &str) -> Result<bool, Failure> {
        self.get(name)
            .map(|v| v.as_bool().ok_or_else(|| self.bad(name, "true or false")))
            .transpose()
            .map(|b| b.unwrap_or(false))
    }

    /// A required non-negative integer parameter.
    pub fn usize(&self, name: &str) -> Result<usize, Failure> {
        self.get(name)
            .and_then(|v| v.as_u64())
            .map(|n| n as usize)
            .ok_or_else(|| self.bad(name, "a non-negative integer"))
    }

    /// A string parameter; `None` when absent or null.
    pub fn str(&self, name: &str) -> Result<Option<&str>, Failure> {
        self.get(name)
            .map(|v| v.as_str().ok_or_else(|| self.bad(name, "a string")))
            .transpose()
    }

    /// Any other parameter (a list, say), deserialized.
    pub fn value<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Option<T>, Failure> {
        self.get(name)
            .map(|v| {
                serde_json::from_value(v.clone())
                    .map_err(|e| self.bad(name, &format!("readable ({e})")))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_read_and_complain() {
        let p = Params::from_json(serde_json::json!({
            "scale": 0.5, "causal": true, "l": 3, "name": "gelu", "none": null
        }));
        assert_eq!(p.f64("scale").unwrap(), Some(0.5));
        assert_eq!(p.f64("none").unwrap(), None);
        assert!(p.bool("causal").unwrap());
        assert!(!p.bool("absent").unwrap());
        assert_eq!(p.usize("l").unwrap(), 3);
        assert!(p.usize("scale").is_err());
        assert_eq!(p.str("name").unwrap(), Some("gelu"));
        assert!(p.f64("name").is_err());
    }
}
