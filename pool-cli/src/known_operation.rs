//! The operation of `call` and `all`, checked against hololinked's operation names before
//! anything connects.
//!
//! Invariants: a name in [`operation::ALL`] passes unchanged; any other is a usage error that
//! names the closest known operation and lists them all, unless the command line asked to send
//! it as given (`--any-operation`, for servers that define operations of their own).

use pool_tokio::operation;

/// `Ok` if `name` is one of hololinked's operations or `any` (send it as given); otherwise the
/// usage error's one line.
pub fn check(name: &str, any: bool) -> Result<(), String> {
    if any || operation::ALL.contains(&name) {
        return Ok(());
    }
    Err(format!(
        "unknown operation `{name}`; did you mean `{}`? The operations are {}; \
         --any-operation sends a name as given",
        closest(name),
        operation::ALL.join(", ")
    ))
}

/// The known operation closest to `name` (case ignored): the fewest single-character edits,
/// the first in [`operation::ALL`] on a tie.
pub fn closest(name: &str) -> &'static str {
    let name = name.to_lowercase();
    operation::ALL
        .into_iter()
        .min_by_key(|known| edit_distance(&name, known))
        .unwrap_or(operation::READ_PROPERTY)
}

/// The Levenshtein distance of `a` and `b`, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    // `row[j]`: the distance of the prefix of `a` read so far and `b[..j]`.
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_operations_pass_and_others_are_refused_with_a_suggestion() {
        for name in operation::ALL {
            assert_eq!(check(name, false), Ok(()));
        }
        let e = check("readprop", false).unwrap_err();
        assert!(e.contains("`readprop`") && e.contains("did you mean `readproperty`?"));
        assert!(
            e.contains("unsubscribevent") && e.contains("--any-operation"),
            "{e}"
        );
        assert_eq!(check("readprop", true), Ok(()));
    }

    #[test]
    fn the_closest_operation_is_the_fewest_edits_away() {
        assert_eq!(closest("ReadProperty"), "readproperty");
        assert_eq!(closest("writeprop"), "writeproperty");
        assert_eq!(closest("invoke"), "invokeaction");
        assert_eq!(closest("readalproperties"), "readallproperties");
        assert_eq!(closest("unsubscribeevent"), "unsubscribevent");
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
