//! Which operations name an `objekt` (a property or an action) and which act on the whole Thing,
//! and how `call`'s and `all`'s positional arguments map onto them.
//!
//! Invariants: an operation on the whole Thing (`readallproperties`, `writeallproperties`) is
//! sent with `objekt: null` ([`Request::without_objekt`]), and its one positional argument, if
//! any, is the payload; `readmultipleproperties` without names is `objekt: null` too (every
//! property); every other operation needs its objekt, and lacking one is a usage error, before
//! anything is sent.

use pool_tokio::{operation, Request};

/// The operations on the whole Thing: they take no objekt.
const WHOLE_THING: [&str; 2] = [
    operation::READ_ALL_PROPERTIES,
    operation::WRITE_ALL_PROPERTIES,
];

/// The operations whose objekt may be absent (`null`: all of them).
const OPTIONAL: [&str; 1] = [operation::READ_MULTIPLE_PROPERTIES];

/// What the positionals after the operation mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The objekt; `None` for `null`.
    pub objekt: Option<String>,
    /// The payload as JSON text, if given.
    pub payload: Option<String>,
}

impl Target {
    /// Reads the positionals `first` and `second` for `operation`.
    pub fn of(
        operation: &str,
        first: Option<String>,
        second: Option<String>,
    ) -> Result<Target, String> {
        if WHOLE_THING.contains(&operation) {
            if second.is_some() {
                return Err(format!(
                    "`{operation}` acts on the whole Thing: it takes no property or action \
                     name, only an optional payload"
                ));
            }
            return Ok(Target {
                objekt: None,
                payload: first,
            });
        }
        if first.is_none() && !OPTIONAL.contains(&operation) {
            return Err(format!(
                "`{operation}` needs the name of a property or action after it"
            ));
        }
        Ok(Target {
            objekt: first,
            payload: second,
        })
    }

    /// A request for `operation` on this target of `thing` (no payload yet).
    pub fn request(&self, thing: String, operation: String) -> Request {
        match &self.objekt {
            Some(objekt) => Request::new(thing, operation, objekt.clone()),
            None => Request::without_objekt(thing, operation),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Option<String> {
        Some(text.to_owned())
    }

    #[test]
    fn whole_thing_operations_take_no_objekt() {
        let t = Target::of("readallproperties", None, None).unwrap();
        assert_eq!(
            t,
            Target {
                objekt: None,
                payload: None
            }
        );
        assert_eq!(
            t.request("a".into(), "readallproperties".into()).objekt(),
            None
        );
        let t = Target::of("writeallproperties", s("{\"number\":2}"), None).unwrap();
        assert_eq!((t.objekt, t.payload), (None, s("{\"number\":2}")));
        let e = Target::of("readallproperties", s("x"), s("1")).unwrap_err();
        assert!(e.contains("whole Thing"), "{e}");
    }

    #[test]
    fn other_operations_need_their_objekt() {
        let t = Target::of("readproperty", s("number"), None).unwrap();
        let request = t.request("a".into(), "readproperty".into());
        assert_eq!(request.objekt(), Some("number"));
        let e = Target::of("invokeaction", None, None).unwrap_err();
        assert!(e.contains("`invokeaction` needs the name"), "{e}");
        let t = Target::of("readmultipleproperties", None, None).unwrap();
        assert_eq!(t.objekt, None);
    }
}
