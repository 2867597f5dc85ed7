//! Strategies for uploaded files: files valid by construction (with the products they must parse
//! to), CSV-shaped files that may be wrong anywhere, and raw bytes. The upload endpoint's property
//! test includes this file by path, so it uses nothing but std and proptest.

use proptest::{collection::vec, prelude::*, sample::select};

/// A product as generated: what the parser must give back for its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub line: u64,
    pub serial: i64,
    pub name: String,
    pub urls: Vec<String>,
}

/// A file valid by construction, and the products it holds in file order.
#[derive(Debug, Clone)]
pub struct ValidFile {
    pub bytes: Vec<u8>,
    pub products: Vec<Expected>,
}

const TITLES: [&str; 3] = ["S. No.", "Product Name", "Input Image Urls"];

/// How many lines `bytes` has as the parser counts them: a line ends at LF, CRLF or a lone CR
/// (which some spreadsheet exports still write), so `a\rb` has two.
pub fn line_count(bytes: &[u8]) -> u64 {
    let lone_cr = |i: usize| bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n');
    1 + (0..bytes.len()).filter(|&i| bytes[i] == b'\n' || lone_cr(i)).count() as u64
}

/// Writes one cell: quoted when asked, or when its text cannot be written bare.
fn cell(text: &str, quoted: bool) -> String {
    if quoted || text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn line_end() -> impl Strategy<Value = &'static str> {
    select(&["\n", "\n", "\r\n", "\r"][..])
}

/// A line the parser skips: nothing, or only whitespace and commas.
fn blank_line() -> impl Strategy<Value = &'static str> {
    select(&["", "", " ", "\t", ",,", " , , "][..])
}

/// A column title in any case, with spaces anywhere (the header is matched ignoring both).
fn title(title: &'static str) -> impl Strategy<Value = String> {
    let marks = vec((any::<bool>(), select(&["", "", "", " ", "\t"][..])), title.len());
    marks.prop_map(move |marks| {
        let letters = title.chars().zip(marks);
        letters
            .map(|(c, (upper, space))| {
                format!("{space}{}", if upper { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
            })
            .collect()
    })
}

/// The three required columns in some order (the order of each row's cells), and their titles.
fn header() -> impl Strategy<Value = (Vec<usize>, String)> {
    let titles = (title(TITLES[0]), title(TITLES[1]), title(TITLES[2]));
    (Just(vec![0, 1, 2]).prop_shuffle(), titles, vec(any::<bool>(), 3)).prop_map(|(order, (s, n, u), quoted)| {
        let titles = [s, n, u];
        let cells: Vec<String> = order.iter().zip(quoted).map(|(&c, q)| cell(&titles[c], q)).collect();
        (order, cells.join(","))
    })
}

/// A name that is valid once trimmed: not blank, no NUL, at most 1,000 characters.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[ \t]{0,2}[A-Za-z0-9éü漢🙂][A-Za-z0-9 éü漢🙂,\"'.\n\r-]{0,24}[ \t]{0,2}",
        1 => (990usize..=1000).prop_map(|n| "n".repeat(n)),
    ]
}

/// An absolute http(s) URL the parser accepts, up to its limit of 2,048 bytes.
fn url() -> impl Strategy<Value = String> {
    let scheme = select(&["http", "https", "HTTPS"][..]);
    let host = select(&["a.test", "cdn.example.com", "127.0.0.1:8765", "[::1]", "xn--bcher-kva.example"][..]);
    let query = proptest::option::of("[a-z]{1,5}=[0-9]{1,3}");
    prop_oneof![
        8 => (scheme, host, "[A-Za-z0-9._~/-]{0,30}", query).prop_map(|(scheme, host, path, query)| {
            let query = query.map(|q| format!("?{q}")).unwrap_or_default();
            format!("{scheme}://{host}/{path}{query}")
        }),
        1 => (2000usize..=2033).prop_map(|n| format!("https://a.test/{}", "p".repeat(n))),
    ]
}

/// One or more URLs in one cell, with the spacing and trailing comma merchants write.
fn url_cell() -> impl Strategy<Value = (String, Vec<String>)> {
    let separators = vec(select(&[",", ", ", " ,", " , "][..]), 3);
    (vec(url(), 1..4), separators, select(&["", "", ",", " "][..])).prop_map(|(urls, separators, tail)| {
        let mut text = urls[0].clone();
        for (url, separator) in urls[1..].iter().zip(separators) {
            text.push_str(separator);
            text.push_str(url);
        }
        text.push_str(tail);
        (text, urls)
    })
}

/// A serial number written in any way that still reads as `n`.
fn serial(n: i64) -> impl Strategy<Value = String> {
    select(&["{}", " {} ", "+{}", "00{}"][..]).prop_map(move |form| form.replace("{}", &n.to_string()))
}

/// One data row's three cells in column order, with its product, the blank lines after it and
/// its line ending.
type Row = ([String; 3], Expected, Vec<&'static str>, &'static str);

fn row(n: i64) -> impl Strategy<Value = Row> {
    let cells = (serial(n), name(), url_cell(), vec(any::<bool>(), 3));
    (cells, vec(blank_line(), 0..3), line_end()).prop_map(
        move |((serial, name, (urls_text, urls), quoted), blanks, end)| {
            let expected = Expected { line: 0, serial: n, name: name.trim().to_owned(), urls };
            let cells = [cell(&serial, quoted[0]), cell(&name, quoted[1]), cell(&urls_text, quoted[2])];
            (cells, expected, blanks, end)
        },
    )
}

/// How many byte order marks open a file: mostly none or one, sometimes two (a file saved twice).
fn marks() -> impl Strategy<Value = usize> {
    select(&[0, 0, 1, 1, 2][..])
}

/// A valid file: BOMs or not, blank lines anywhere, a header in any order, case and spacing, and
/// rows with quoted and bare cells, names with commas, quotes and newlines, and long names and URLs.
pub fn valid_file() -> impl Strategy<Value = ValidFile> {
    let serials = prop::collection::btree_set(1i64.., 1..8).prop_map(Vec::from_iter).prop_shuffle();
    let rows = serials.prop_flat_map(|serials| serials.into_iter().map(row).collect::<Vec<_>>());
    let lead = vec((blank_line(), line_end()), 0..3);
    (marks(), lead, header(), line_end(), rows, any::<bool>()).prop_map(
        |(marks, lead, (order, header), header_end, rows, trailing_end)| {
            let mut text = "\u{feff}".repeat(marks);
            for (blank, end) in lead {
                text.push_str(blank);
                text.push_str(end);
            }
            text.push_str(&header);
            text.push_str(header_end);
            let mut products = Vec::new();
            for (cells, mut expected, blanks, end) in rows {
                expected.line = line_count(text.as_bytes());
                let in_order: Vec<&str> = order.iter().map(|&c| cells[c].as_str()).collect();
                text.push_str(&in_order.join(","));
                for blank in blanks {
                    text.push_str(end);
                    text.push_str(blank);
                }
                text.push_str(end);
                products.push(expected);
            }
            if !trailing_end {
                text.truncate(text.trim_end_matches(['\r', '\n']).len());
            }
            ValidFile { bytes: text.into_bytes(), products }
        },
    )
}

/// A cell of any kind, right or wrong for any column.
fn any_cell() -> impl Strategy<Value = String> {
    let bad_serial = select(&["0", "-1", "1.5", "abc", "99999999999999999999", "1e3", " "][..]);
    let bad_name = select(&["", "   ", "a\0b", "\u{feff}"][..]);
    let bad_url = select(
        &[
            "ftp://x/a.jpg",
            "/images/a.jpg",
            "https://user:pw@a.test/x.jpg",
            "http://",
            "not a url",
            "https://a.test/a.jpg, ftp://b",
            " , ",
        ][..],
    );
    let text = prop_oneof![
        "[1-9][0-9]{0,2}",
        bad_serial.prop_map(str::to_owned),
        name(),
        bad_name.prop_map(str::to_owned),
        (1001usize..1100).prop_map(|n| "m".repeat(n)),
        url_cell().prop_map(|(text, _)| text),
        bad_url.prop_map(str::to_owned),
        (2040usize..2100).prop_map(|n| format!("https://a.test/{}", "q".repeat(n))),
        (4000usize..20_000).prop_map(|n| "long, \"cell\"\n".chars().cycle().take(n).collect()),
    ];
    (text, any::<bool>()).prop_map(|(text, quoted)| cell(&text, quoted))
}

/// A header that may lack, repeat or misname columns.
fn any_header() -> impl Strategy<Value = String> {
    let word = select(&["S. No.", "product name", "INPUT IMAGE URLS", "Price", "", " ", "s.no."][..]);
    prop_oneof![3 => header().prop_map(|(_, line)| line), 1 => vec(word, 0..6).prop_map(|words| words.join(","))]
}

/// Bytes that break CSV and UTF-8 where they land.
fn noise() -> impl Strategy<Value = &'static [u8]> {
    const NOISE: [&[u8]; 9] = [b"\"", b"\"\"", b"\xff", b"\xc3", b"\xef\xbb\xbf", b"\r", b"\n", b"\0", b","];
    select(&NOISE[..])
}

/// CSV-shaped bytes that may be wrong anywhere: a valid file or one assembled from any header and
/// any cells, with stray quotes, invalid UTF-8 and line breaks dropped in at random places.
pub fn csv_shaped() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![3 => vec(any_cell(), 0..5).prop_map(|cells| cells.join(",")), 1 => blank_line().prop_map(str::to_owned)];
    let ends = vec(line_end(), 1..4);
    let assembled = (marks(), any_header(), vec(line, 0..10), ends).prop_map(|(marks, header, lines, ends)| {
        let mut text = "\u{feff}".repeat(marks);
        for (i, line) in std::iter::once(header).chain(lines).enumerate() {
            text.push_str(&line);
            text.push_str(ends[i % ends.len()]);
        }
        text.into_bytes()
    });
    let base = prop_oneof![valid_file().prop_map(|file| file.bytes), assembled];
    (base, vec((any::<prop::sample::Index>(), noise()), 0..4)).prop_map(|(mut bytes, noise)| {
        for (at, piece) in noise {
            let at = at.index(bytes.len() + 1);
            bytes.splice(at..at, piece.iter().copied());
        }
        bytes
    })
}

/// Any bytes at all, and bytes drawn from what CSV is made of, so quotes and line ends are dense.
pub fn arbitrary_bytes() -> impl Strategy<Value = Vec<u8>> {
    let csv_bytes = select(&b"\"\r\n,, aS.1\xff\xef\xbb\xbf:/h"[..]);
    prop_oneof![vec(any::<u8>(), 0..1024), vec(csv_bytes, 0..512)]
}

/// Any upload: raw bytes, CSV-shaped text or a valid file.
pub fn upload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![arbitrary_bytes(), csv_shaped(), valid_file().prop_map(|file| file.bytes)]
}
