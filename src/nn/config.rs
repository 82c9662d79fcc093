//! Model configurations as checkpoint metadata: JSON through serde, so a
//! field added to a config struct is stored and read back with no
//! hand-written parser. Checkpoints written before (the shipped models
//! among them) hold "key=value" lines; those still load, read as the same
//! JSON object. Fields a checkpoint lacks take the values the config's
//! `#[serde(default = ...)]` names: what such a checkpoint was trained with.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::runtime::{Error, Result};

/// A model's sizes and constants, stored in its checkpoints as JSON.
pub trait ModelConfig: Serialize + DeserializeOwned {
    /// Names the config in errors ("attngan config").
    const WHAT: &'static str;

    /// Sizes a model can be built with: a checkpoint's nonsense is refused
    /// here, naming the field, not later as a shape error in some kernel.
    fn check(&self) -> Result<()>;

    /// As checkpoint metadata (JSON).
    fn to_text(&self) -> String {
        to_meta(self)
    }

    /// From checkpoint metadata, JSON or older "key=value" lines, checked.
    fn from_text(text: &str) -> Result<Self> {
        let c: Self = from_meta(Self::WHAT, text)?;
        c.check()?;
        Ok(c)
    }
}

/// Refuses, naming it, the first of `fields` that is 0.
pub fn check_nonzero(what: &'static str, fields: &[(&str, usize)]) -> Result<()> {
    match fields.iter().find(|(_, v)| *v == 0) {
        Some((name, _)) => Err(Error::invalid(
            what,
            format!("{name}=0; it must be at least 1"),
        )),
        None => Ok(()),
    }
}

/// `config` as one line of JSON.
pub fn to_meta<T: Serialize>(config: &T) -> String {
    serde_json::to_string(config).expect("a config of numbers serialises")
}

/// A config from checkpoint metadata: JSON, or the "key=value" lines of
/// older checkpoints. `what` names the config in errors ("attngan config").
/// Unknown keys and values of the wrong type are refused, naming them.
pub fn from_meta<T: DeserializeOwned>(what: &'static str, text: &str) -> Result<T> {
    let value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| Error::invalid(what, e.to_string()))?
    } else {
        legacy_lines(what, text)?
    };
    serde_json::from_value(value).map_err(|e| Error::invalid(what, e.to_string()))
}

/// "key=value" lines (numbers, or true / false) as a JSON object.
fn legacy_lines(what: &'static str, text: &str) -> Result<serde_json::Value> {
    let mut map = serde_json::Map::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| Error::invalid(what, format!("bad line {line:?}")))?;
        // Numbers, and the switches added since (`glam`) as true or false.
        let value = match v.trim() {
            "true" => serde_json::Value::Bool(true),
            "false" => serde_json::Value::Bool(false),
            v => serde_json::Value::Number(
                v.parse()
                    .map_err(|_| Error::invalid(what, format!("bad value in {line:?}")))?,
            ),
        };
        map.insert(k.trim().to_string(), value);
    }
    Ok(serde_json::Value::Object(map))
}
