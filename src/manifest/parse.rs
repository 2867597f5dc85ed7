//! Reading an uploaded manifest into products, or into every problem a merchant must fix.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read};

use self::bom::SkipBom;
use super::{
    header::{Column, HeaderMap, inspect_header},
    problem::{CsvProblem, MAX_PROBLEMS},
};
use crate::domain::product::{ImageUrl, ProductName, SerialNumber};

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

/// How much one manifest may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Data rows.
    pub max_rows: usize,
    /// Image URLs over all rows.
    pub max_images: usize,
}

/// Parses a manifest from a stream, row by row, never holding the raw file in memory.
pub fn parse<R: Read>(reader: R, limits: Limits) -> Result<Manifest, ManifestError> {
    let Limits { max_rows, max_images } = limits;
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::None)
        .from_reader(LineTracker::new(SkipBom::new(reader)));
    let mut check = Checker::default();
    let mut header: Option<(u64, HeaderMap)> = None;
    let mut record = csv::ByteRecord::new();
    let mut rows = 0usize;
    let mut images = 0usize;
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
        let before = check.products.len();
        check.row(line, &row, &map);
        images += check.products.get(before).map_or(0, |p| p.image_urls.len());
        if images > max_images {
            let column = Some(map.index(Column::InputImageUrls) as u64 + 1);
            check.problem(line, column, format!("too many images: the limit is {max_images} per upload"));
            break;
        }
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

mod bom;
#[cfg(test)]
mod generate;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
