//! Finding the required columns in the header row, however the merchant spaced or cased them.

use super::problem::CsvProblem;

/// A column the manifest must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    /// `S. No.`: the merchant's serial number for the product.
    SerialNumber,
    /// `Product Name`.
    ProductName,
    /// `Input Image Urls`: one or more comma-separated image URLs.
    InputImageUrls,
}

impl Column {
    /// Every required column, in canonical order.
    pub const ALL: [Column; 3] = [Column::SerialNumber, Column::ProductName, Column::InputImageUrls];

    /// The column's canonical header text.
    pub fn title(self) -> &'static str {
        match self {
            Column::SerialNumber => "S. No.",
            Column::ProductName => "Product Name",
            Column::InputImageUrls => "Input Image Urls",
        }
    }

    fn from_header_cell(cell: &str) -> Option<Self> {
        let key = normalize(cell);
        Self::ALL.into_iter().find(|c| normalize(c.title()) == key)
    }
}

/// Where each required column sits in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderMap {
    indices: [usize; 3],
    width: usize,
}

impl HeaderMap {
    /// The 0-based index of `column` in every row.
    pub fn index(&self, column: Column) -> usize {
        self.indices[column as usize]
    }

    /// How many cells the header row has.
    pub fn width(&self) -> usize {
        self.width
    }
}

/// Matches a header row, returning the map whenever all required columns were found,
/// together with every problem (unknown or duplicate columns leave the map usable).
pub fn inspect_header(record: &csv::StringRecord) -> (Option<HeaderMap>, Vec<CsvProblem>) {
    let mut found: [Option<usize>; 3] = [None; 3];
    let mut problems = Vec::new();
    // A byte order mark was already taken off the stream by the parser.
    for (index, cell) in record.iter().enumerate() {
        let column = Some(index as u64 + 1);
        let message = match Column::from_header_cell(cell) {
            Some(c) if found[c as usize].is_none() => {
                found[c as usize] = Some(index);
                continue;
            }
            Some(c) => format!("duplicate column \"{}\"", c.title()),
            None if cell.trim().is_empty() => {
                format!("column has no name; expected {}", expected())
            }
            None => format!("unknown column \"{}\"; expected {}", cell.trim(), expected()),
        };
        problems.push(CsvProblem { line: 1, column, message });
    }
    for c in Column::ALL {
        if found[c as usize].is_none() {
            problems.push(CsvProblem { line: 1, column: None, message: format!("missing column \"{}\"", c.title()) });
        }
    }
    let map = match found {
        [Some(s), Some(n), Some(u)] => Some(HeaderMap { indices: [s, n, u], width: record.len() }),
        _ => None,
    };
    (map, problems)
}

fn expected() -> String {
    Column::ALL.map(Column::title).join(", ")
}

fn normalize(cell: &str) -> String {
    cell.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn match_header(record: &csv::StringRecord) -> Result<HeaderMap, Vec<CsvProblem>> {
        match inspect_header(record) {
            (Some(map), problems) if problems.is_empty() => Ok(map),
            (_, problems) => Err(problems),
        }
    }

    fn header(cells: &[&str]) -> csv::StringRecord {
        csv::StringRecord::from(cells.to_vec())
    }

    fn problem(column: Option<u64>, message: &str) -> CsvProblem {
        CsvProblem { line: 1, column, message: message.to_owned() }
    }

    #[test]
    fn canonical_header_maps_in_order() {
        let map = match_header(&header(&["S. No.", "Product Name", "Input Image Urls"])).unwrap();
        assert_eq!(map.index(Column::SerialNumber), 0);
        assert_eq!(map.index(Column::ProductName), 1);
        assert_eq!(map.index(Column::InputImageUrls), 2);
        assert_eq!(map.width(), 3);
    }

    #[test]
    fn reordered_cased_and_spaced_header_matches() {
        let map = match_header(&header(&["InputImageUrls", " S. NO. ", "product name"])).unwrap();
        assert_eq!(map.index(Column::InputImageUrls), 0);
        assert_eq!(map.index(Column::SerialNumber), 1);
        assert_eq!(map.index(Column::ProductName), 2);
        assert!(match_header(&header(&["s.no.", "PRODUCT NAME", "INPUT IMAGE URLS"])).is_ok());
    }

    #[test]
    fn unknown_column_is_reported_at_its_position_but_keeps_the_map() {
        let record = header(&["S. No.", "Foo", "Product Name", "Input Image Urls"]);
        let expected = problem(Some(2), "unknown column \"Foo\"; expected S. No., Product Name, Input Image Urls");
        assert_eq!(match_header(&record).unwrap_err(), vec![expected.clone()]);
        let (map, problems) = inspect_header(&record);
        assert_eq!(map.unwrap().index(Column::InputImageUrls), 3);
        assert_eq!(problems, vec![expected]);
    }

    #[test]
    fn duplicate_column_is_reported_at_the_second_occurrence() {
        let record = header(&["S. No.", "Product Name", "product name", "Input Image Urls"]);
        assert_eq!(match_header(&record).unwrap_err(), vec![problem(Some(3), "duplicate column \"Product Name\"")]);
    }

    #[test]
    fn missing_columns_are_reported_without_a_column_and_leave_no_map() {
        let (map, problems) = inspect_header(&header(&["S. No."]));
        assert!(map.is_none());
        assert_eq!(
            problems,
            vec![
                problem(None, "missing column \"Product Name\""),
                problem(None, "missing column \"Input Image Urls\""),
            ]
        );
    }

    #[test]
    fn blank_header_cell_is_reported_as_unnamed() {
        let record = header(&["S. No.", "Product Name", "Input Image Urls", " "]);
        let problems = match_header(&record).unwrap_err();
        assert_eq!(problems[0].column, Some(4));
        assert!(problems[0].message.starts_with("column has no name"));
    }
}
