//! Thing Descriptions: what a Thing offers, as its server describes it (W3C WoT TD 1.1, the
//! JSON hololinked's `get_thing_description` returns), parsed into plain typed data, and the
//! local checks a [`Thing`](crate::Thing) makes against it.
//!
//! Invariants:
//! * parsing is tolerant where the TD standard and hololinked's lines differ: every field but
//!   the affordance maps may be absent, `op` and `type` may be one string or a list, unknown keys
//!   are ignored; a TD in another shape is an [`Error::Decode`], never a panic (serde_json bounds
//!   nesting);
//! * a check refuses only what the description rules out, naming what exists.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::error::{AffordanceKind, Error};

/// A Thing Description (W3C WoT TD 1.1), as a hololinked server generates it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ThingDescription {
    /// The Thing's id.
    #[serde(default)]
    pub id: String,
    /// Its title (hololinked: the Thing's class name).
    #[serde(default)]
    pub title: String,
    /// Its description (hololinked: the class's docstring).
    #[serde(default)]
    pub description: Option<String>,
    /// Its properties, by name.
    #[serde(default)]
    pub properties: BTreeMap<String, PropertyAffordance>,
    /// Its actions, by name.
    #[serde(default)]
    pub actions: BTreeMap<String, ActionAffordance>,
    /// Its events, by name.
    #[serde(default)]
    pub events: BTreeMap<String, EventAffordance>,
    /// Forms for the whole Thing (`readallproperties`, ...), if given.
    #[serde(default)]
    pub forms: Vec<Form>,
}

/// A property: its data schema, whether it can be written and observed, and its forms.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PropertyAffordance {
    /// The value's schema (type, default, range, ...).
    #[serde(flatten)]
    pub schema: DataSchema,
    /// Read-only: writes are refused.
    #[serde(default, rename = "readOnly")]
    pub read_only: bool,
    /// Write-only: reads are refused.
    #[serde(default, rename = "writeOnly")]
    pub write_only: bool,
    /// Changes are published as `<name>_change_event` ([`Thing::observe`](crate::Thing::observe)).
    #[serde(default)]
    pub observable: bool,
    /// How to reach it.
    #[serde(default)]
    pub forms: Vec<Form>,
}

/// An action: its input and output schemas and its forms.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActionAffordance {
    /// What it does.
    #[serde(default)]
    pub description: Option<String>,
    /// Its arguments' schema (hololinked: an object schema of the keyword arguments).
    #[serde(default)]
    pub input: Option<DataSchema>,
    /// Its return value's schema.
    #[serde(default)]
    pub output: Option<DataSchema>,
    /// hololinked: runs in the Thing's queue (`true`) or in a thread or task of its own.
    #[serde(default)]
    pub synchronous: Option<bool>,
    /// Safe (no side effects), if said.
    #[serde(default)]
    pub safe: Option<bool>,
    /// Idempotent, if said.
    #[serde(default)]
    pub idempotent: Option<bool>,
    /// How to reach it.
    #[serde(default)]
    pub forms: Vec<Form>,
}

/// An event: its data schema and its forms (the publisher's endpoint).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventAffordance {
    /// What it reports.
    #[serde(default)]
    pub description: Option<String>,
    /// The payload's schema.
    #[serde(default)]
    pub data: Option<DataSchema>,
    /// How to reach it.
    #[serde(default)]
    pub forms: Vec<Form>,
}

/// How to perform operations on an affordance: where, which operations, in which content type.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Form {
    /// The endpoint (hololinked: the socket address, `tcp://host:port` or `ipc://...`).
    #[serde(default)]
    pub href: String,
    /// The operations (`readproperty`, `writeproperty`, `invokeaction`, `subscribeevent`, ...).
    #[serde(default, deserialize_with = "one_or_many")]
    pub op: Vec<String>,
    /// The content type of payloads.
    #[serde(default, rename = "contentType")]
    pub content_type: Option<String>,
}

/// A JSON-schema-like description of a value (the parts a client uses; the rest is ignored).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DataSchema {
    /// What it is.
    #[serde(default)]
    pub description: Option<String>,
    /// `type`: `number`, `integer`, `string`, `boolean`, `array`, `object`, `null` (one or more).
    #[serde(default, rename = "type", deserialize_with = "one_or_many")]
    pub types: Vec<String>,
    /// Alternatives (`oneOf`).
    #[serde(default, rename = "oneOf")]
    pub one_of: Vec<DataSchema>,
    /// An array's items, when they share one schema.
    #[serde(default, deserialize_with = "schema_or_list")]
    pub items: Option<Box<DataSchema>>,
    /// An object's members.
    #[serde(default)]
    pub properties: BTreeMap<String, DataSchema>,
    /// An object's required members.
    #[serde(default)]
    pub required: Vec<String>,
    /// The values allowed (`enum`).
    #[serde(default, rename = "enum")]
    pub allowed: Vec<Value>,
    /// The default value.
    #[serde(default)]
    pub default: Option<Value>,
    /// Smallest value allowed.
    #[serde(default)]
    pub minimum: Option<f64>,
    /// Largest value allowed.
    #[serde(default)]
    pub maximum: Option<f64>,
    /// The unit.
    #[serde(default)]
    pub unit: Option<String>,
}

impl DataSchema {
    /// The type as a person reads it: `number`, `string | null`, `array of number`,
    /// `object {a, b}`, or `any` when the schema does not say.
    #[must_use]
    pub fn type_name(&self) -> String {
        if !self.one_of.is_empty() {
            let names: Vec<String> = self.one_of.iter().map(DataSchema::type_name).collect();
            return names.join(" | ");
        }
        if !self.allowed.is_empty() {
            let values: Vec<String> = self.allowed.iter().map(Value::to_string).collect();
            return format!("one of {}", values.join(", "));
        }
        let names: Vec<String> = self
            .types
            .iter()
            .map(|t| match (t.as_str(), &self.items) {
                ("array", Some(items)) => format!("array of {}", items.type_name()),
                ("object", _) if !self.properties.is_empty() => {
                    let members: Vec<&str> = self.properties.keys().map(String::as_str).collect();
                    format!("object {{{}}}", members.join(", "))
                }
                (t, _) => t.to_owned(),
            })
            .collect();
        if names.is_empty() {
            "any".to_owned()
        } else {
            names.join(" | ")
        }
    }
}

impl fmt::Display for DataSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.type_name())
    }
}

impl ThingDescription {
    /// Parses a Thing Description from its JSON.
    ///
    /// ```
    /// use pool_driver::ThingDescription;
    ///
    /// let td = ThingDescription::from_json(br#"{"id": "spectrometer", "title": "Spectrometer",
    ///     "properties": {"integration_time": {"type": "number", "forms": [
    ///         {"href": "tcp://127.0.0.1:5555", "op": "readproperty"}]},
    ///       "state": {"oneOf": [{"type": "string"}, {"type": "null"}], "readOnly": true}},
    ///     "actions": {"acquire": {"input": {"type": "object",
    ///         "properties": {"n": {"type": "integer"}}}}}}"#)?;
    /// assert_eq!(td.properties["integration_time"].schema.type_name(), "number");
    /// assert!(td.properties["state"].read_only);
    /// assert_eq!(td.actions["acquire"].input.as_ref().unwrap().type_name(), "object {n}");
    /// # Ok::<(), pool_driver::Error>(())
    /// ```
    pub fn from_json(json: &[u8]) -> Result<ThingDescription, Error> {
        let error = |message: String| Error::Decode {
            thing: String::new(),
            content_type: "Thing Description".to_owned(),
            message,
        };
        let value: Value = serde_json::from_slice(json).map_err(|e| error(e.to_string()))?;
        if !value.is_object() {
            return Err(error("a Thing Description is a JSON object".to_owned()));
        }
        ThingDescription::deserialize(value).map_err(|e| error(e.to_string()))
    }

    /// Whether `property` exists.
    pub fn check_read(&self, thing: &str, property: &str) -> Result<(), Error> {
        self.property(thing, property).map(drop)
    }

    /// Whether `property` can be written (it exists and is not read-only).
    pub fn check_write(&self, thing: &str, property: &str) -> Result<(), Error> {
        if self.property(thing, property)?.read_only {
            return Err(Error::ReadOnly {
                thing: thing.to_owned(),
                property: property.to_owned(),
            });
        }
        Ok(())
    }

    /// Whether `property` can be observed: it exists and is observable (hololinked publishes
    /// the changes of those only, so observing another would wait for nothing).
    pub fn check_observe(&self, thing: &str, property: &str) -> Result<(), Error> {
        if !self.property(thing, property)?.observable {
            return Err(Error::NotObservable {
                thing: thing.to_owned(),
                property: property.to_owned(),
                observable: known(self.properties.iter().filter(|(_, p)| p.observable)),
            });
        }
        Ok(())
    }

    /// Whether `action` exists.
    pub fn check_invoke(&self, thing: &str, action: &str) -> Result<(), Error> {
        check_named(&self.actions, thing, AffordanceKind::Action, action)
    }

    /// Whether `event` exists: one of the events, or the change event
    /// `<property>_change_event` of an observable property (which hololinked lists under the
    /// property, not under `events`).
    pub fn check_event(&self, thing: &str, event: &str) -> Result<(), Error> {
        let observed = event
            .strip_suffix("_change_event")
            .and_then(|p| self.properties.get(p))
            .is_some_and(|p| p.observable);
        if observed {
            return Ok(());
        }
        check_named(&self.events, thing, AffordanceKind::Event, event)
    }

    fn property(&self, thing: &str, name: &str) -> Result<&PropertyAffordance, Error> {
        check_named(&self.properties, thing, AffordanceKind::Property, name)?;
        Ok(&self.properties[name])
    }
}

fn check_named<T>(
    map: &BTreeMap<String, T>,
    thing: &str,
    kind: AffordanceKind,
    name: &str,
) -> Result<(), Error> {
    if map.contains_key(name) {
        return Ok(());
    }
    Err(Error::UnknownAffordance {
        thing: thing.to_owned(),
        kind,
        name: name.to_owned(),
        known: known(map.iter()),
    })
}

/// The names, comma separated (sorted: the maps are), or `none`.
fn known<'a, T: 'a>(entries: impl Iterator<Item = (&'a String, &'a T)>) -> String {
    let names: Vec<&str> = entries.map(|(name, _)| name.as_str()).collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// A string or a list of strings, as a list (anything else is an error).
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// `items` as one schema; a list of schemas (tuple validation) keeps none.
fn schema_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Box<DataSchema>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum SchemaOrList {
        One(Box<DataSchema>),
        Many(serde::de::IgnoredAny),
    }
    Ok(match Option::<SchemaOrList>::deserialize(d)? {
        Some(SchemaOrList::One(schema)) => Some(schema),
        Some(SchemaOrList::Many(_)) | None => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLDEN: &str =
        include_str!("../../pool-core/tests/data/golden/tcp_get_thing_description.json");

    fn golden() -> ThingDescription {
        let capture: Value = serde_json::from_str(GOLDEN).unwrap();
        let td = &capture["result_seen_by_pool"]["payload"];
        ThingDescription::from_json(td.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn a_real_hololinked_description_parses() {
        let td = golden();
        assert_eq!((td.id.as_str(), td.title.as_str()), ("demo", "DemoThing"));
        let number = &td.properties["number"];
        assert_eq!(number.schema.type_name(), "number");
        assert!(!number.read_only && !number.observable);
        assert_eq!(number.schema.default, Some(serde_json::json!(1.5)));
        let state = &td.properties["state"];
        assert!(state.read_only && state.observable);
        assert_eq!(state.schema.type_name(), "string | null");
        assert_eq!(state.forms[0].op, ["readproperty"]);
        assert_eq!(state.forms[0].href, "tcp://127.0.0.1:5555");
        assert!(td.actions.contains_key("add"));
        let model = &td.actions["get_thing_model"];
        assert!(model
            .input
            .as_ref()
            .unwrap()
            .properties
            .contains_key("ignore_errors"));
    }

    #[test]
    fn checks_refuse_what_the_description_rules_out_and_name_what_exists() {
        let td = golden();
        assert!(td.check_read("demo", "number").is_ok());
        assert!(td.check_write("demo", "number").is_ok());
        assert!(td.check_invoke("demo", "add").is_ok());
        let e = td.check_read("demo", "numbr").unwrap_err();
        assert!(matches!(
            e,
            Error::UnknownAffordance {
                kind: AffordanceKind::Property,
                ..
            }
        ));
        let text = e.to_string();
        assert!(
            text.contains("no property `numbr`") && text.contains("number, state, text"),
            "{text}"
        );
        assert!(matches!(
            td.check_write("demo", "state"),
            Err(Error::ReadOnly { .. })
        ));
        let e = td.check_invoke("demo", "ad").unwrap_err().to_string();
        assert!(
            e.contains("no action `ad`") && e.contains("add, exit, fail"),
            "{e}"
        );
        assert!(td
            .check_event("demo", "tick")
            .unwrap_err()
            .to_string()
            .contains("its events: none"));
        assert!(td.check_observe("demo", "state").is_ok());
        assert!(td.check_event("demo", "state_change_event").is_ok());
        assert!(td.check_event("demo", "number_change_event").is_err());
        let e = td.check_observe("demo", "number").unwrap_err().to_string();
        assert!(
            e.contains("not observable") && e.contains("observable ones: state"),
            "{e}"
        );
    }

    #[test]
    fn odd_shapes_parse_or_fail_cleanly() {
        let td = ThingDescription::from_json(
            br#"{"properties": {"p": {"type": ["number", "null"], "items": [{"type": "x"}],
                 "forms": [{"href": "h", "op": ["readproperty", "writeproperty"]}], "x-extra": 1}},
                 "unknown": {"deep": [1, 2]}}"#,
        )
        .unwrap();
        assert_eq!(td.properties["p"].schema.type_name(), "number | null");
        assert_eq!(td.properties["p"].forms[0].op.len(), 2);
        assert!(ThingDescription::from_json(b"{}")
            .unwrap()
            .properties
            .is_empty());
        for bad in [
            &b"[]"[..],
            b"not json",
            br#"{"properties": 3}"#,
            br#"{"properties": {"p": {"readOnly": "yes"}}}"#,
        ] {
            assert!(matches!(
                ThingDescription::from_json(bad),
                Err(Error::Decode { .. })
            ));
        }
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(ThingDescription::from_json(deep.as_bytes()).is_err());
    }
}
