//! Aligned text columns: rows of cells printed with every column as wide as its widest cell.
//!
//! Invariants: widths count characters (the cells are escaped text, so no control character or
//! wide-glyph accounting is needed beyond that); a cell wider than [`MAX_WIDTH`] does not widen
//! its column (it pushes the rest of its own row right instead), so one long cell cannot push
//! every row; the last column is never padded and no line ends in spaces; rows keep the order
//! they were given in.

/// The widest cell that sets its column's width.
pub const MAX_WIDTH: usize = 40;

/// The gap between two columns.
const GAP: &str = "  ";

/// `rows` as lines, each indented by `indent` and ending in a newline.
pub fn render(rows: &[Vec<String>], indent: &str) -> String {
    let widths = column_widths(rows);
    let mut out = String::new();
    for row in rows {
        let mut line = String::from(indent);
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str(GAP);
            }
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The width of each column: its widest cell, in characters.
fn column_widths(rows: &[Vec<String>]) -> Vec<usize> {
    let mut widths = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let width = cell.chars().count();
            let width = if width > MAX_WIDTH { 0 } else { width };
            match widths.get_mut(i) {
                Some(w) if *w < width => *w = width,
                Some(_) => {}
                None => widths.push(width),
            }
        }
    }
    widths
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn columns_align_and_lines_end_clean() {
        let rows = [row(&["a", "number", "x"]), row(&["long_name", "β", ""])];
        assert_eq!(
            render(&rows, "  "),
            "  a          number  x\n  long_name  β\n"
        );
        assert_eq!(render(&[], "  "), "");
        let long = "x".repeat(MAX_WIDTH + 1);
        let rows = [row(&["a", &long, "1"]), row(&["b", "c", "2"])];
        assert_eq!(render(&rows, ""), format!("a  {long}  1\nb  c  2\n"));
    }
}
