//! Reading an uploaded manifest into products, or into every problem a merchant must fix.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read};

use super::header::{Column, HeaderMap, inspect_header};
use crate::domain::product::{ImageUrl, ProductName, SerialNumber};

/// Most problems reported for one file; reading stops once this many are found.
pub const MAX_PROBLEMS: usize = 100;

/// One problem found in an uploaded CSV.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CsvProblem {
    /// 1-based line of the file; the header is line 1.
    pub line: u64,
    /// 1-based column, when the problem is in one cell.
    pub column: Option<u64>,
    /// What is wrong, in words a merchant understands.
    pub message: String,
}

/// One data row of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// 1-based line of the file where the row starts.
    pub line: u64,
    /// The row's `S. No.`, unique in the file.
    pub serial_number: SerialNumber,
    /// The row's `Product Name`.
    pub name: ProductName,
    /// The row's `Input Image Urls`, in the order given; never empty.
    pub image_urls: Vec<ImageUrl>,
}

/// A valid manifest: products in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Every data row, in file order.
    pub products: Vec<Product>,
}

impl Manifest {
    /// How many input images the manifest names, over all products.
    pub fn image_count(&self) -> usize {
        self.products.iter().map(|p| p.image_urls.len()).sum()
    }
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file is not a valid manifest; every problem found, up to MAX_PROBLEMS.
    #[error("the CSV is invalid ({} problems)", .0.len())]
    Invalid(Vec<CsvProblem>),
    /// Reading the underlying stream failed (not the merchant's fault).
    #[error("reading the upload failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Parses a manifest from a stream, row by row, never holding the raw file in memory.
pub fn parse<R: Read>(reader: R, max_rows: usize) -> Result<Manifest, ManifestError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::None)
        .from_reader(LineTracker::new(reader));
    let mut check = Checker::default();
    let mut header: Option<(u64, HeaderMap)> = None;
    let mut record = csv::ByteRecord::new();
    let mut first_record = true;
    let mut rows = 0usize;
    while check.problems.len() < MAX_PROBLEMS {
        match csv.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(err) => {
                let line = err.position().map(|p| csv.get_mut().line_at(p.byte()));
                if let csv::ErrorKind::Io(io) = err.into_kind() {
                    return Err(ManifestError::Io(io));
                }
                let message = "this line could not be read as CSV".to_owned();
                check.problem(line.unwrap_or(1), None, message);
                break;
            }
        }
        let line = csv.get_mut().line_at(record.position().map_or(0, |p| p.byte()));
        if std::mem::take(&mut first_record) {
            strip_bom(&mut record);
        }
        let row = match csv::StringRecord::from_byte_record(std::mem::take(&mut record)) {
            Ok(row) => row,
            Err(_) => {
                check.problem(line, None, "line is not valid UTF-8".to_owned());
                if header.is_none() {
                    break;
                }
                continue;
            }
        };
        if row.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        let Some((_, map)) = header else {
            let (map, problems) = inspect_header(&row);
            check.problems.extend(problems.into_iter().map(|p| CsvProblem { line, ..p }));
            match map {
                Some(map) => header = Some((line, map)),
                // Without all required columns no row can be checked.
                None => break,
            }
            continue;
        };
        rows += 1;
        if rows > max_rows {
            check.problem(line, None, format!("too many rows: the limit is {max_rows}"));
            break;
        }
        check.row(line, &row, &map);
    }
    match header {
        None if check.problems.is_empty() => check.problem(
            1,
            None,
            "the file is empty; expected a header row: S. No.,Product Name,Input Image Urls".to_owned(),
        ),
        Some((line, _)) if rows == 0 => check.problem(line, None, "the file has no data rows".to_owned()),
        _ => {}
    }
    if check.problems.is_empty() {
        return Ok(Manifest { products: check.products });
    }
    let mut problems = check.problems;
    problems.sort_by_key(|p| (p.line, p.column));
    problems.truncate(MAX_PROBLEMS);
    Err(ManifestError::Invalid(problems))
}

fn strip_bom(record: &mut csv::ByteRecord) {
    if let Some(rest) = record.get(0).and_then(|c| c.strip_prefix(b"\xEF\xBB\xBF")) {
        let mut stripped = csv::ByteRecord::from(vec![rest]);
        stripped.extend(record.iter().skip(1));
        *record = stripped;
    }
}

#[derive(Default)]
struct Checker {
    problems: Vec<CsvProblem>,
    products: Vec<Product>,
    serial_lines: HashMap<SerialNumber, u64>,
}

impl Checker {
    fn problem(&mut self, line: u64, column: Option<u64>, message: String) {
        self.problems.push(CsvProblem { line, column, message });
    }

    fn row(&mut self, line: u64, row: &csv::StringRecord, map: &HeaderMap) {
        if row.len() > map.width() {
            let message = format!("row has {} cells; the header has {}", row.len(), map.width());
            self.problem(line, Some(map.width() as u64 + 1), message);
        }
        let mut cell = |column: Column| {
            let index = map.index(column);
            let cell = row.get(index).map(|text| (text, Some(index as u64 + 1)));
            if cell.is_none() {
                let message = format!("missing \"{}\" cell", column.title());
                self.problem(line, Some(index as u64 + 1), message);
            }
            cell
        };
        let (serial, name, urls) =
            (cell(Column::SerialNumber), cell(Column::ProductName), cell(Column::InputImageUrls));
        let serial = serial.and_then(|(text, col)| self.serial_number(line, col, text));
        let name = name.and_then(|(text, col)| self.ok(line, col, ProductName::parse(text)));
        let urls = urls.and_then(|(text, col)| self.image_urls(line, col, text));
        if let (Some(serial_number), Some(name), Some(image_urls)) = (serial, name, urls) {
            let product = Product { line, serial_number, name, image_urls };
            self.products.push(product);
        }
    }

    fn ok<T>(&mut self, line: u64, column: Option<u64>, parsed: Result<T, String>) -> Option<T> {
        parsed.map_err(|message| self.problem(line, column, message)).ok()
    }

    fn serial_number(&mut self, line: u64, column: Option<u64>, text: &str) -> Option<SerialNumber> {
        let serial = self.ok(line, column, SerialNumber::parse(text))?;
        if let Some(&first) = self.serial_lines.get(&serial) {
            let message = format!("S. No. {} already used on line {first}", serial.get());
            self.problem(line, column, message);
            return None;
        }
        self.serial_lines.insert(serial, line);
        Some(serial)
    }

    fn image_urls(&mut self, line: u64, column: Option<u64>, text: &str) -> Option<Vec<ImageUrl>> {
        let pieces = text.split(',').map(str::trim).filter(|piece| !piece.is_empty());
        let parsed: Vec<_> = pieces.map(|piece| self.ok(line, column, ImageUrl::parse(piece))).collect();
        if parsed.is_empty() {
            let message = "Input Image Urls must hold at least one URL".to_owned();
            self.problem(line, column, message);
            return None;
        }
        parsed.into_iter().collect()
    }
}

/// Passes bytes through while noting the line of every line's first byte, so a record's line
/// can be looked up by the byte offset where the csv reader started it. The csv reader's own
/// record positions lag behind after blank lines and CRLF endings, so they cannot be used.
struct LineTracker<R> {
    inner: R,
    offset: u64,
    line: u64,
    at_line_start: bool,
    after_cr: bool,
    /// `(byte offset, line)` of line starts the csv reader has not yet gone past.
    starts: VecDeque<(u64, u64)>,
}

impl<R> LineTracker<R> {
    fn new(inner: R) -> Self {
        Self { inner, offset: 0, line: 1, at_line_start: true, after_cr: false, starts: VecDeque::new() }
    }

    /// The line of the first content at or after `byte`, skipping the blank lines there.
    fn line_at(&mut self, byte: u64) -> u64 {
        while self.starts.front().is_some_and(|&(offset, _)| offset < byte) {
            self.starts.pop_front();
        }
        self.starts.front().map_or(self.line, |&(_, line)| line)
    }
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &byte in &buf[..n] {
            match byte {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.line += 1;
                    self.at_line_start = true;
                    self.after_cr = byte == b'\r';
                }
                _ => {
                    if self.at_line_start {
                        self.starts.push_back((self.offset, self.line));
                    }
                    self.at_line_start = false;
                    self.after_cr = false;
                }
            }
            self.offset += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "S. No.,Product Name,Input Image Urls\n";

    fn problems(input: &[u8], max_rows: usize) -> Vec<(u64, Option<u64>, String)> {
        match parse(input, max_rows) {
            Err(ManifestError::Invalid(problems)) => {
                problems.into_iter().map(|p| (p.line, p.column, p.message)).collect()
            }
            other => panic!("expected problems, got {other:?}"),
        }
    }

    fn only_problem(input: &str) -> (u64, Option<u64>, String) {
        only_problem_with_limit(input, 1000)
    }

    fn only_problem_with_limit(input: &str, max_rows: usize) -> (u64, Option<u64>, String) {
        let mut all = problems(input.as_bytes(), max_rows);
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    fn at(line: u64, column: Option<u64>, message: &str) -> (u64, Option<u64>, String) {
        (line, column, message.to_owned())
    }

    #[test]
    fn valid_file_with_bom_crlf_reordered_header_quoted_urls_and_blank_lines_parses() {
        let input = "\u{feff}input image urls , s.no.,PRODUCT NAME\r\n\
                     \r\n\
                     \"https://a.test/1.jpg, http://a.test/2.png,\",1, Red Shoe \r\n\
                     \r\n\
                     \r\n\
                     https://a.test/3.jpg,2,Blue Hat\r\n\
                     \x20 , ,\r\n\
                     https://a.test/4.jpg,3,\"Green, Scarf\"";
        let manifest = parse(input.as_bytes(), 10).unwrap();
        let lines: Vec<u64> = manifest.products.iter().map(|p| p.line).collect();
        assert_eq!(lines, [3, 6, 8]);
        let first = &manifest.products[0];
        assert_eq!(first.serial_number.get(), 1);
        assert_eq!(first.name.as_str(), "Red Shoe");
        let urls: Vec<&str> = first.image_urls.iter().map(ImageUrl::as_str).collect();
        assert_eq!(urls, ["https://a.test/1.jpg", "http://a.test/2.png"]);
        assert_eq!(manifest.products[2].name.as_str(), "Green, Scarf");
        assert_eq!(manifest.image_count(), 4);
    }

    #[test]
    fn quoted_multi_line_cell_shifts_later_line_numbers() {
        let input = format!("{HEADER}1,\"Two\nline name\",https://a.test/1.jpg\n\n2,,https://a.test/2.jpg\n");
        assert_eq!(only_problem(&input), at(5, Some(2), "Product Name must not be blank"));
    }

    #[test]
    fn empty_file_is_reported_on_line_one() {
        let expected = at(1, None, "the file is empty; expected a header row: S. No.,Product Name,Input Image Urls");
        for input in ["", "\u{feff}", " \r\n\n\t\n", "\u{feff}\n , \n"] {
            assert_eq!(only_problem(input), expected, "{input:?}");
        }
    }

    #[test]
    fn header_without_data_rows_is_reported_on_line_one() {
        assert_eq!(only_problem(HEADER), at(1, None, "the file has no data rows"));
    }

    #[test]
    fn missing_header_column_stops_before_checking_rows() {
        let input = "S. No.,Input Image Urls\nx,ftp://bad\n";
        assert_eq!(only_problem(input), at(1, None, "missing column \"Product Name\""));
    }

    #[test]
    fn unknown_header_column_still_lets_rows_be_checked() {
        let input = "S. No.,Foo,Product Name,Input Image Urls\n0,x,Shoe,https://a.test/1.jpg\n";
        assert_eq!(
            problems(input.as_bytes(), 10),
            [
                at(1, Some(2), "unknown column \"Foo\"; expected S. No., Product Name, Input Image Urls"),
                at(2, Some(1), "S. No. must be a positive integer, got \"0\""),
            ]
        );
    }

    #[test]
    fn duplicate_serial_number_is_reported_on_its_own_line() {
        let input = format!("{HEADER}1,A,https://a.test/1.jpg\n3,B,https://a.test/2.jpg\n3,C,https://a.test/3.jpg\n");
        assert_eq!(only_problem(&input), at(4, Some(1), "S. No. 3 already used on line 3"));
    }

    #[test]
    fn bad_url_is_reported_in_its_cell_naming_the_url() {
        let input = format!("{HEADER}1,A,\"https://a.test/1.jpg, ftp://a.test/2.jpg\"\n");
        assert_eq!(
            only_problem(&input),
            at(2, Some(3), "image URL \"ftp://a.test/2.jpg\" must start with http:// or https://")
        );
    }

    #[test]
    fn cell_without_urls_is_reported() {
        let input = format!("{HEADER}1,A,\" , \"\n");
        assert_eq!(only_problem(&input), at(2, Some(3), "Input Image Urls must hold at least one URL"));
    }

    #[test]
    fn extra_cells_are_reported_after_the_last_header_column() {
        let input = format!("{HEADER}1,A,https://a.test/1.jpg,extra,more\n");
        assert_eq!(only_problem(&input), at(2, Some(4), "row has 5 cells; the header has 3"));
    }

    #[test]
    fn each_missing_cell_is_reported_at_its_column() {
        let input = format!("{HEADER}1\n");
        assert_eq!(
            problems(input.as_bytes(), 10),
            [at(2, Some(2), "missing \"Product Name\" cell"), at(2, Some(3), "missing \"Input Image Urls\" cell"),]
        );
    }

    #[test]
    fn problems_are_sorted_by_line_then_column() {
        let input = "Input Image Urls,Product Name,S. No.\nnope,,x\n";
        let found: Vec<_> =
            problems(input.as_bytes(), 10).into_iter().map(|(line, column, _)| (line, column)).collect();
        assert_eq!(found, [(2, Some(1)), (2, Some(2)), (2, Some(3))]);
    }

    #[test]
    fn problems_stop_at_one_hundred() {
        let mut input = HEADER.to_owned();
        for _ in 0..150 {
            input.push_str("x,A,https://a.test/1.jpg\n");
        }
        let found = problems(input.as_bytes(), 1000);
        assert_eq!(found.len(), MAX_PROBLEMS);
        assert_eq!(found.last().unwrap().0, 101);
    }

    #[test]
    fn rows_over_the_limit_are_reported_once_and_reading_stops() {
        let mut input = HEADER.to_owned();
        for n in 1..=3 {
            input.push_str(&format!("{n},A,https://a.test/{n}.jpg\n"));
        }
        input.push_str("bad,,\n");
        assert_eq!(only_problem_with_limit(&input, 2), at(4, None, "too many rows: the limit is 2"));
        assert_eq!(parse(input.as_bytes(), 4).unwrap_err().to_string(), "the CSV is invalid (3 problems)");
    }

    #[test]
    fn invalid_utf8_is_reported_on_its_line_and_reading_goes_on() {
        let mut input = HEADER.as_bytes().to_vec();
        input.extend_from_slice(b"1,A,https://a.test/1.jpg\n2,\xff\xfe,https://a.test/2.jpg\n3,,x\n");
        let found = problems(&input, 10);
        assert_eq!(found[0], at(3, None, "line is not valid UTF-8"));
        assert_eq!(found.iter().map(|p| p.0).collect::<Vec<_>>(), [3, 4, 4]);
    }

    struct FailingReader {
        served: bool,
    }

    impl Read for FailingReader {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if std::mem::replace(&mut self.served, true) {
                return Err(io::Error::new(io::ErrorKind::ConnectionReset, "client went away"));
            }
            let head = HEADER.as_bytes();
            buf[..head.len()].copy_from_slice(head);
            Ok(head.len())
        }
    }

    #[test]
    fn read_failure_is_an_io_error_not_a_csv_problem() {
        match parse(FailingReader { served: false }, 10) {
            Err(ManifestError::Io(err)) => assert_eq!(err.kind(), io::ErrorKind::ConnectionReset),
            other => panic!("expected an I/O error, got {other:?}"),
        }
    }

    /// Hands out one byte per read, so line endings straddle every buffer boundary.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some((first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = *first;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn line_numbers_hold_when_the_stream_arrives_one_byte_at_a_time() {
        let input = "\r\nS. No.,Product Name,Input Image Urls\r\n\r\n1,\"A\r\nB\",https://a.test/1.jpg\r\n2,C,https://a.test/2.jpg";
        let manifest = parse(Trickle(input.as_bytes()), 10).unwrap();
        let lines: Vec<u64> = manifest.products.iter().map(|p| p.line).collect();
        assert_eq!(lines, [4, 6]);
    }

    #[test]
    fn header_after_blank_lines_is_reported_on_its_own_line() {
        assert_eq!(only_problem(&format!("\n\n{HEADER}")), at(3, None, "the file has no data rows"));
    }

    #[test]
    fn lone_carriage_returns_end_lines_too() {
        let input = format!("{}\r1,A,https://a.test/1.jpg\r\r2,,https://a.test/2.jpg", HEADER.trim_end());
        assert_eq!(only_problem(&input), at(4, Some(2), "Product Name must not be blank"));
    }
}
