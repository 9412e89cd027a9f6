//! A Thing Description as a person reads it: the Thing's id, title and description, then its
//! properties, actions and events in aligned columns, then where they are reached (each
//! endpoint the forms name, with the operations they name there).
//!
//! Invariants:
//! * every text that came from the server (names, titles, descriptions, types, defaults,
//!   hrefs) goes through [`escape_controls`] (or [`json_text`] for values), so nothing raw
//!   reaches a terminal;
//! * the order is stable: the Description's maps are sorted by name, hrefs are sorted;
//! * descriptions are shortened to their first line, at most [`SHORT`] characters.

use std::collections::{BTreeMap, BTreeSet};

use pool_tokio::{
    ActionAffordance, DataSchema, EventAffordance, PropertyAffordance, ThingDescription,
};

use crate::escape::{escape_controls, json_text};
use crate::table;

/// The most characters of a description a summary shows (then `…`).
pub const SHORT: usize = 60;

/// The indentation of a section's rows.
const INDENT: &str = "  ";

/// The whole summary, ending in a newline.
pub fn summary(td: &ThingDescription) -> String {
    let mut out = header(td);
    section(&mut out, "properties", property_rows(td));
    section(&mut out, "actions", action_rows(td));
    section(&mut out, "events", event_rows(td));
    section(&mut out, "reached at", href_rows(td));
    out
}

/// `thing`, `title` and `description` lines (those the Description has).
fn header(td: &ThingDescription) -> String {
    let mut rows = vec![vec!["thing".to_owned(), text(&td.id)]];
    if !td.title.is_empty() {
        rows.push(vec!["title".to_owned(), text(&td.title)]);
    }
    let description = short(td.description.as_deref());
    if !description.is_empty() {
        rows.push(vec!["description".to_owned(), description]);
    }
    table::render(&rows, "")
}

/// A blank line, the section's name, and its rows (or `(none)`).
fn section(out: &mut String, name: &str, rows: Vec<Vec<String>>) {
    out.push('\n');
    out.push_str(name);
    out.push('\n');
    if rows.is_empty() {
        out.push_str(INDENT);
        out.push_str("(none)\n");
    } else {
        out.push_str(&table::render(&rows, INDENT));
    }
}

/// name, type, `read-only`/`writable`/`write-only`, `observable`, `default=...`, description.
fn property_rows(td: &ThingDescription) -> Vec<Vec<String>> {
    td.properties
        .iter()
        .map(|(name, p)| {
            vec![
                text(name),
                type_of(&p.schema),
                access(p).to_owned(),
                if p.observable { "observable" } else { "" }.to_owned(),
                p.schema
                    .default
                    .as_ref()
                    .map(|d| format!("default={}", json_text(d)))
                    .unwrap_or_default(),
                short(p.schema.description.as_deref()),
            ]
        })
        .collect()
}

fn access(p: &PropertyAffordance) -> &'static str {
    match (p.read_only, p.write_only) {
        (true, _) => "read-only",
        (false, true) => "write-only",
        (false, false) => "writable",
    }
}

/// name, `(arguments)`, `-> output`, description.
fn action_rows(td: &ThingDescription) -> Vec<Vec<String>> {
    td.actions
        .iter()
        .map(|(name, a)| {
            vec![
                text(name),
                arguments(a),
                a.output
                    .as_ref()
                    .map(|o| format!("-> {}", type_of(o)))
                    .unwrap_or_default(),
                short(a.description.as_deref()),
            ]
        })
        .collect()
}

/// `(a: number, b?: string = "x")`: the input's members (required ones without `?`, defaults
/// after `=`), the input's type when it has no members, `(any)` when the Description does not
/// describe the input (hololinked leaves out the schema of arguments not annotated with one).
pub fn arguments(action: &ActionAffordance) -> String {
    let Some(input) = &action.input else {
        return "(any)".to_owned();
    };
    if input.properties.is_empty() {
        return format!("({})", type_of(input));
    }
    let members: Vec<String> = input
        .properties
        .iter()
        .map(|(name, schema)| argument(input, name, schema))
        .collect();
    format!("({})", members.join(", "))
}

fn argument(input: &DataSchema, name: &str, schema: &DataSchema) -> String {
    let optional = if input.required.iter().any(|r| r == name) {
        ""
    } else {
        "?"
    };
    let default = schema
        .default
        .as_ref()
        .map(|d| format!(" = {}", json_text(d)))
        .unwrap_or_default();
    format!("{}{optional}: {}{default}", text(name), type_of(schema))
}

/// name, data type, description.
fn event_rows(td: &ThingDescription) -> Vec<Vec<String>> {
    td.events
        .iter()
        .map(|(name, e): (&String, &EventAffordance)| {
            vec![
                text(name),
                e.data
                    .as_ref()
                    .map(type_of)
                    .unwrap_or_else(|| "any".to_owned()),
                short(e.description.as_deref()),
            ]
        })
        .collect()
}

/// Every distinct form href of the Thing and its affordances (sorted), with the operations
/// its forms there name (sorted, distinct): where each kind of request or subscription goes.
pub fn href_rows(td: &ThingDescription) -> Vec<Vec<String>> {
    let forms = td
        .forms
        .iter()
        .chain(td.properties.values().flat_map(|p| &p.forms))
        .chain(td.actions.values().flat_map(|a| &a.forms))
        .chain(td.events.values().flat_map(|e| &e.forms));
    let mut hrefs: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for form in forms.filter(|f| !f.href.is_empty()) {
        hrefs
            .entry(form.href.as_str())
            .or_default()
            .extend(form.op.iter().map(String::as_str));
    }
    hrefs
        .into_iter()
        .map(|(href, ops)| {
            let ops: Vec<String> = ops.into_iter().map(text).collect();
            vec![text(href), ops.join(", ")]
        })
        .collect()
}

/// A schema's type, escaped (the type names are the server's strings).
fn type_of(schema: &DataSchema) -> String {
    text(&schema.type_name())
}

/// Server text, escaped.
fn text(s: &str) -> String {
    escape_controls(s).into_owned()
}

/// The first non-empty line of `description`, trimmed, escaped, at most [`SHORT`] characters.
pub fn short(description: Option<&str>) -> String {
    let line = description
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let line = if line.chars().count() > SHORT {
        let cut: String = line.chars().take(SHORT - 1).collect();
        format!("{}…", cut.trim_end())
    } else {
        line.to_owned()
    };
    text(&line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const GOLDEN: &str =
        include_str!("../../pool-core/tests/data/golden/tcp_get_thing_description.json");

    fn golden() -> ThingDescription {
        let capture: Value = serde_json::from_str(GOLDEN).unwrap();
        let td = &capture["result_seen_by_pool"]["payload"];
        ThingDescription::from_json(td.to_string().as_bytes()).unwrap()
    }

    /// The line of `summary` that starts (after the indent) with `name` and a space.
    fn row<'a>(summary: &'a str, name: &str) -> &'a str {
        summary
            .lines()
            .find(|l| {
                l.strip_prefix(INDENT)
                    .is_some_and(|r| r.starts_with(&format!("{name} ")))
            })
            .unwrap_or_else(|| panic!("no row {name:?} in\n{summary}"))
    }

    #[test]
    fn the_golden_description_reads_well() {
        let s = summary(&golden());
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "thing        demo");
        assert_eq!(lines[1], "title        DemoThing");
        assert!(lines[2].starts_with("description  Tiny demo thing"), "{s}");
        for section in ["properties", "actions", "events", "reached at"] {
            assert!(lines.contains(&section), "{section}: {s}");
        }
        // Properties: aligned, sorted, access and defaults shown.
        assert_eq!(
            row(&s, "number"),
            "  number  number         writable               default=1.5"
        );
        assert_eq!(
            row(&s, "text"),
            "  text    string         writable               default=\"hello\""
        );
        let state = row(&s, "state");
        assert!(
            state.starts_with("  state   string | null  read-only  observable")
                && state.contains("State machine returned state"),
            "{state}"
        );
        let names: Vec<&str> = lines
            .iter()
            .skip_while(|l| **l != "properties")
            .skip(1)
            .take_while(|l| !l.is_empty())
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(names, ["number", "state", "text"]);
        // Actions: arguments with types, optional ones marked, output types.
        assert!(row(&s, "add").contains("(any)  ") && row(&s, "add").ends_with("Return a + b."));
        let model = row(&s, "get_thing_model");
        assert!(
            model.contains("(format?: string = \"wot\", ignore_errors?: boolean = false, skip_names?: array of string = [])")
                && model.contains("-> object {skip_actions, skip_events, skip_properties}"),
            "{model}"
        );
        // A long description is cut.
        let exit = row(&s, "exit");
        assert!(exit.ends_with('…') && exit.chars().count() < 140, "{exit}");
        // No events; the distinct hrefs, sorted.
        let tail: Vec<&str> = lines.iter().rev().take(6).rev().copied().collect();
        assert_eq!(
            tail,
            [
                "events",
                "  (none)",
                "",
                "reached at",
                "  tcp://127.0.0.1:5555  invokeaction, readproperty, writeproperty",
                "  tcp://127.0.0.1:5556  observeproperty"
            ]
        );
    }

    #[test]
    fn server_text_is_escaped_and_arguments_marked() {
        let td = ThingDescription::from_json(
            br#"{"id": "x\u001b[2J", "title": "T\r", "description": "\n\n  first\nsecond",
                "properties": {"p\u0007": {"type": "number", "writeOnly": true,
                   "default": "\u009b", "forms": [{"href": "ipc:///a\u001b"}]}},
                "actions": {"go": {"input": {"type": "object", "required": ["n"],
                   "properties": {"n": {"type": "integer"}, "m": {}}},
                   "output": {"type": "array", "items": {"type": "number"}}},
                   "raw": {"input": {"type": "number"}}},
                "events": {"tick": {"data": {"type": "object", "properties": {"n": {}}}},
                   "bare": {}}}"#,
        )
        .unwrap();
        let s = summary(&td);
        assert!(
            !s.chars().any(|c| c != '\n' && crate::escape::is_unsafe(c)),
            "{s}"
        );
        assert!(
            s.starts_with("thing        x\\u{1b}[2J\ntitle        T\\r\ndescription  first\n"),
            "{s}"
        );
        assert!(row(&s, "p\\u{7}").contains("write-only"), "{s}");
        assert!(s.contains("default=\"\\u009b\""), "{s}");
        assert_eq!(
            row(&s, "go"),
            "  go   (m?: any, n: integer)  -> array of number"
        );
        assert_eq!(row(&s, "raw"), "  raw  (number)");
        assert_eq!(row(&s, "bare"), "  bare  any");
        assert_eq!(row(&s, "tick"), "  tick  object {n}");
        assert!(s.ends_with("reached at\n  ipc:///a\\u{1b}\n"), "{s}");
        assert_eq!(short(Some(&"é".repeat(100))).chars().count(), SHORT);
        assert_eq!(short(None), "");
    }
}
