//! Tests of the manifest parser: line and column of every kind of problem.

use super::*;

fn rows(max_rows: usize) -> Limits {
    Limits { max_rows, max_images: 1000 }
}

const HEADER: &str = "S. No.,Product Name,Input Image Urls\n";

fn problems(input: &[u8], max_rows: usize) -> Vec<(u64, Option<u64>, String)> {
    match parse(input, rows(max_rows)) {
        Err(ManifestError::Invalid(problems)) => problems.into_iter().map(|p| (p.line, p.column, p.message)).collect(),
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
    let manifest = parse(input.as_bytes(), rows(10)).unwrap();
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
    let found: Vec<_> = problems(input.as_bytes(), 10).into_iter().map(|(line, column, _)| (line, column)).collect();
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
    assert_eq!(parse(input.as_bytes(), rows(4)).unwrap_err().to_string(), "the CSV is invalid (3 problems)");
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
    match parse(FailingReader { served: false }, rows(10)) {
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
    let input =
        "\r\nS. No.,Product Name,Input Image Urls\r\n\r\n1,\"A\r\nB\",https://a.test/1.jpg\r\n2,C,https://a.test/2.jpg";
    let manifest = parse(Trickle(input.as_bytes()), rows(10)).unwrap();
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

#[test]
fn images_over_the_limit_are_reported_on_the_row_that_passes_it() {
    let u = "https://a.test/1.jpg";
    let input = format!("{HEADER}1,A,\"{u},{u}\"\n2,B,\"{u},{u}\"\n");
    let err = parse(input.as_bytes(), Limits { max_rows: 10, max_images: 3 }).unwrap_err();
    let ManifestError::Invalid(problems) = err else { panic!("expected problems") };
    assert_eq!((problems[0].line, problems[0].column), (3, Some(3)));
    assert!(problems[0].message.contains("too many images"), "{:?}", problems[0]);
}

#[test]
fn byte_order_mark_split_across_reads_still_lets_a_quoted_first_header_cell_open() {
    let input = "\u{feff}\"s. no.\",product name,input image urls\n1,A,https://a.test/1.jpg\n";
    let manifest = parse(Trickle(input.as_bytes()), rows(10)).unwrap();
    assert_eq!(manifest.products[0].serial_number.get(), 1);
}

#[test]
fn a_file_shorter_than_a_byte_order_mark_is_read_as_it_is() {
    let expected = at(1, None, "the file is empty; expected a header row: S. No.,Product Name,Input Image Urls");
    assert_eq!(only_problem("\u{feff}"), expected);
    let found = problems(b"\xef\xbb", 10);
    assert_eq!(found[0].0, 1);
}

#[test]
fn a_doubled_byte_order_mark_is_dropped_however_the_stream_is_split() {
    let input = "\u{feff}\u{feff}S. No.,Product Name,Input Image Urls\n1,A,https://a.test/1.jpg\n";
    assert_eq!(parse(input.as_bytes(), rows(10)).unwrap().products.len(), 1);
    assert_eq!(parse(Trickle(input.as_bytes()), rows(10)).unwrap().products.len(), 1);
}
