//! Reports for a person (aligned text tables) and for a program (JSON lines).
//!
//! Invariants:
//! * a column is as wide as its widest cell, header or unit; cells are never cut;
//! * a header line is printed only when some column has a header, a unit line only when some
//!   column has a unit;
//! * a row with fewer cells than columns is padded with empty cells; extra cells are an error of
//!   the caller and are dropped (debug builds assert).

use std::fmt::Write as _;

/// How a column's cells line up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Text: flush left.
    Left,
    /// Numbers: flush right.
    Right,
}

/// One column of a [`Table`].
#[derive(Clone, Debug)]
pub struct Column {
    header: String,
    unit: String,
    align: Align,
    group: bool,
}

impl Column {
    /// A text column.
    pub fn left(header: &str) -> Column {
        Column {
            header: header.to_owned(),
            unit: String::new(),
            align: Align::Left,
            group: false,
        }
    }

    /// A number column.
    pub fn right(header: &str) -> Column {
        Column {
            align: Align::Right,
            ..Column::left(header)
        }
    }

    /// The unit, printed under the header.
    pub fn unit(mut self, unit: &str) -> Column {
        self.unit = unit.to_owned();
        self
    }

    /// Starts a group of columns: a `|` separates it from the columns before.
    pub fn group(mut self) -> Column {
        self.group = true;
        self
    }
}

/// An aligned text table.
///
/// ```
/// use pool_measure::{Column, Table};
///
/// let mut t = Table::new(vec![Column::left("client"), Column::right("msgs/s").unit("1/s").group()]);
/// t.row(["raw".to_owned(), "1000".to_owned()]);
/// t.row(["pool".to_owned(), "990".to_owned()]);
/// assert_eq!(t.render(), "client | msgs/s\n       |    1/s\nraw    |   1000\npool   |    990\n");
/// ```
#[derive(Clone, Debug)]
pub struct Table {
    columns: Vec<Column>,
    rows: Vec<Vec<String>>,
    indent: usize,
}

impl Table {
    /// A table of `columns`, no rows yet.
    pub fn new(columns: Vec<Column>) -> Table {
        Table {
            columns,
            rows: Vec::new(),
            indent: 0,
        }
    }

    /// Two text columns without headers: a name and its value, one pair per row.
    pub fn key_value() -> Table {
        Table::new(vec![Column::left(""), Column::left("")])
    }

    /// Indents every line by `spaces`.
    pub fn indent(mut self, spaces: usize) -> Table {
        self.indent = spaces;
        self
    }

    /// Adds a row of cells, one per column.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut row: Vec<String> = cells.into_iter().map(Into::into).collect();
        debug_assert!(row.len() <= self.columns.len(), "more cells than columns");
        row.resize(self.columns.len(), String::new());
        self.rows.push(row);
    }

    /// The table as text, one line per row (after a header and a unit line where given).
    pub fn render(&self) -> String {
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                self.rows
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([c.header.chars().count(), c.unit.chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        let headers: Vec<&str> = self.columns.iter().map(|c| c.header.as_str()).collect();
        if headers.iter().any(|h| !h.is_empty()) {
            self.line(&mut out, &widths, &headers);
        }
        let units: Vec<&str> = self.columns.iter().map(|c| c.unit.as_str()).collect();
        if units.iter().any(|u| !u.is_empty()) {
            self.line(&mut out, &widths, &units);
        }
        for row in &self.rows {
            let cells: Vec<&str> = row.iter().map(String::as_str).collect();
            self.line(&mut out, &widths, &cells);
        }
        out
    }

    fn line(&self, out: &mut String, widths: &[usize], cells: &[&str]) {
        let mut line = " ".repeat(self.indent);
        for (i, ((column, width), cell)) in self.columns.iter().zip(widths).zip(cells).enumerate() {
            if i > 0 {
                line.push_str(if column.group { " | " } else { " " });
            }
            let pad = width - cell.chars().count();
            match column.align {
                Align::Left => {
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad));
                }
                Align::Right => {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(cell);
                }
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// One measurement as a line for a program to pick out of mixed output: `JSON {...}`.
pub fn json_line(value: &serde_json::Value) -> String {
    format!("JSON {value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_take_the_width_of_their_widest_cell() {
        let mut t = Table::new(vec![
            Column::left("runtime"),
            Column::right("p50").unit("µs").group(),
            Column::right("p99").unit("µs"),
        ]);
        t.row(["tokio multi-thread", "12.5", "130.0"]);
        t.row(["smol"]);
        assert_eq!(
            t.render(),
            "runtime            |  p50   p99\n                   |   µs    µs\n\
             tokio multi-thread | 12.5 130.0\nsmol               |\n"
        );
    }

    #[test]
    fn key_value_tables_have_no_header() {
        let mut t = Table::key_value().indent(2);
        t.row(["throughput", "1,000 req/s"]);
        t.row(["errors", "0"]);
        assert_eq!(t.render(), "  throughput 1,000 req/s\n  errors     0\n");
        assert_eq!(json_line(&serde_json::json!({"a": 1})), "JSON {\"a\":1}");
    }
}
