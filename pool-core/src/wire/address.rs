//! hololinked's default IPC socket file name for a server id (docs/protocol.md §3, addresses).

use alloc::string::String;

/// hololinked's file name for a server id's IPC socket (`get_sanitized_filename_from_random_string`):
/// runs of `<>:"/\|?*` and control characters become `_`, runs of `_` collapse, leading and
/// trailing `_` go, `_event-publisher` becomes `.event-publisher`, and `.ipc` is appended. The
/// server binds `ipc://$HOME/.hololinked/sockets/<this name>`.
///
/// ```
/// use pool_core::wire::hololinked_ipc_filename;
/// assert_eq!(hololinked_ipc_filename("demo-thing"), "demo-thing.ipc");
/// assert_eq!(hololinked_ipc_filename("a|b:c"), "a_b_c.ipc");
/// assert_eq!(hololinked_ipc_filename("_x_"), "x.ipc");
/// ```
#[must_use]
pub fn hololinked_ipc_filename(server_id: &str) -> String {
    let mut name = String::with_capacity(server_id.len() + 4);
    for c in server_id.chars() {
        let replace = matches!(c, '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*')
            || u32::from(c) < 0x20;
        let c = if replace { '_' } else { c };
        if c == '_' && name.ends_with('_') {
            continue;
        }
        name.push(c);
    }
    let mut file = name
        .trim_matches('_')
        .replace("_event-publisher", ".event-publisher");
    file.push_str(".ipc");
    file
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_like_hololinked() {
        // The verified examples of docs/protocol.md §3 (addresses).
        for (id, file) in [
            ("demo-thing", "demo-thing.ipc"),
            ("a__b", "a_b.ipc"),
            ("_x_", "x.ipc"),
            ("a/b/c", "a_b_c.ipc"),
            ("a|b:c", "a_b_c.ipc"),
            ("srv/event-publisher", "srv.event-publisher.ipc"),
            ("x_event-publisher", "x.event-publisher.ipc"),
            ("a b", "a b.ipc"),
            ("tab\there", "tab_here.ipc"),
        ] {
            assert_eq!(hololinked_ipc_filename(id), file, "{id}");
        }
    }
}
