//! Properties of the parser over generated input: it never panics, every problem is placed
//! inside the file, a valid file gives back exactly what was written, and how the bytes are
//! split into reads changes nothing.

use proptest::{collection::vec, prelude::*};

use super::{
    generate::{self, Expected},
    *,
};

/// Limits small enough that the row and image limits are reached too.
fn limits() -> impl Strategy<Value = Limits> {
    (1usize..30, 1usize..60).prop_map(|(max_rows, max_images)| Limits { max_rows, max_images })
}

/// Limits no generated valid file reaches.
const ROOMY: Limits = Limits { max_rows: 1000, max_images: 10_000 };

/// Regressions are kept as plain unit tests in `tests`, so a failing run writes no file into the
/// source tree.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// The outcome as comparable values; an in-memory reader cannot fail, so `Io` is a bug.
fn outcome(parsed: Result<Manifest, ManifestError>) -> Result<Manifest, Vec<CsvProblem>> {
    match parsed {
        Ok(manifest) => Ok(manifest),
        Err(ManifestError::Invalid(problems)) => Err(problems),
        Err(ManifestError::Io(err)) => panic!("reading from memory failed: {err}"),
    }
}

/// What must hold of any answer: a manifest within the limits with rows in file order, or
/// between one and MAX_PROBLEMS problems, sorted, each on a line of the file.
fn well_formed(input: &[u8], limits: Limits) -> Result<(), TestCaseError> {
    let lines = generate::line_count(input);
    match outcome(parse(input, limits)) {
        Ok(manifest) => {
            let rows: Vec<u64> = manifest.products.iter().map(|p| p.line).collect();
            prop_assert!(!rows.is_empty(), "a manifest without products");
            prop_assert!(rows.len() <= limits.max_rows && manifest.image_count() <= limits.max_images);
            prop_assert!(rows.windows(2).all(|w| w[0] < w[1]), "rows out of order: {rows:?}");
            // The header takes a line, so no row is on line 1.
            prop_assert!(rows.iter().all(|line| (2..=lines).contains(line)), "rows {rows:?} of {lines} lines");
        }
        Err(problems) => {
            prop_assert!(!problems.is_empty(), "invalid without a problem");
            prop_assert!(problems.len() <= MAX_PROBLEMS, "{} problems", problems.len());
            prop_assert!(problems.windows(2).all(|w| w[0].line <= w[1].line), "unsorted: {problems:?}");
            for problem in &problems {
                prop_assert!((1..=lines).contains(&problem.line), "{problem:?} in a file of {lines} lines");
                prop_assert!(problem.column.is_none_or(|c| c >= 1), "{problem:?}");
            }
        }
    }
    Ok(())
}

/// Hands out the input in the given sizes in turn, so rows, CRLFs, BOMs and UTF-8 sequences
/// straddle read boundaries.
struct Chunked<'a> {
    input: &'a [u8],
    sizes: Vec<usize>,
    reads: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.sizes[self.reads % self.sizes.len()];
        self.reads += 1;
        let n = size.min(buf.len()).min(self.input.len());
        let (head, rest) = self.input.split_at(n);
        buf[..n].copy_from_slice(head);
        self.input = rest;
        Ok(n)
    }
}

fn as_expected(product: &Product) -> Expected {
    Expected {
        line: product.line,
        serial: product.serial_number.get(),
        name: product.name.as_str().to_owned(),
        urls: product.image_urls.iter().map(|url| url.as_str().to_owned()).collect(),
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_bytes_never_panic_and_any_problems_are_well_formed(
        input in generate::arbitrary_bytes(),
        limits in limits(),
    ) {
        well_formed(&input, limits)?;
    }

    #[test]
    fn csv_shaped_text_never_panics_and_any_problems_are_well_formed(
        input in generate::csv_shaped(),
        limits in limits(),
    ) {
        well_formed(&input, limits)?;
    }

    #[test]
    fn a_valid_file_parses_to_exactly_the_products_written(file in generate::valid_file()) {
        let parsed = outcome(parse(&file.bytes[..], ROOMY));
        let text = String::from_utf8_lossy(&file.bytes);
        let manifest = parsed.map_err(|problems| TestCaseError::fail(format!("{text:?} refused: {problems:?}")))?;
        let products: Vec<Expected> = manifest.products.iter().map(as_expected).collect();
        prop_assert_eq!(products, file.products, "{:?}", text);
    }

    #[test]
    fn reading_in_small_chunks_gives_the_same_result_as_reading_whole(
        input in generate::upload(),
        sizes in vec(1usize..=16, 1..8),
        limits in limits(),
    ) {
        let whole = outcome(parse(&input[..], limits));
        let chunked = outcome(parse(Chunked { input: &input, sizes, reads: 0 }, limits));
        prop_assert_eq!(chunked, whole);
    }
}
