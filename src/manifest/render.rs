//! Writing the output CSV the merchant downloads once a batch is done.

use super::header::Column;

/// Header text of the column holding the compressed images' URLs.
pub const OUTPUT_IMAGE_URLS: &str = "Output Image Urls";

/// One product of the output CSV: its inputs and, in the same order and count, its outputs (None for a failed image).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRow<'a> {
    /// The product's `S. No.`.
    pub serial_number: i64,
    /// The product's name.
    pub product_name: &'a str,
    /// The input image URLs, as in the manifest.
    pub input_urls: Vec<&'a str>,
    /// For each input URL, the compressed image's URL, or None when that image failed.
    pub output_urls: Vec<Option<&'a str>>,
}

/// Renders the output CSV: header `S. No.,Product Name,Input Image Urls,Output Image Urls`, rows in the given order, URLs comma-separated (a failed slot empty, so `a,,c`).
pub fn render<'a>(rows: impl IntoIterator<Item = OutputRow<'a>>) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header = Column::ALL.map(Column::title);
    // Writing into a Vec cannot fail, so neither can the csv writer on top of it.
    let written = "writing CSV into memory cannot fail";
    writer.write_record(header.iter().chain([&OUTPUT_IMAGE_URLS])).expect(written);
    for row in rows {
        let outputs: Vec<&str> = row.output_urls.iter().map(|u| u.unwrap_or("")).collect();
        writer
            .write_record([
                row.serial_number.to_string().as_str(),
                row.product_name,
                &row.input_urls.join(","),
                &outputs.join(","),
            ])
            .expect(written);
    }
    writer.into_inner().expect(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_back(bytes: &[u8]) -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes)
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn header_is_the_input_header_plus_output_image_urls() {
        let out = render([]);
        assert_eq!(String::from_utf8(out).unwrap(), "S. No.,Product Name,Input Image Urls,Output Image Urls\n");
    }

    #[test]
    fn failed_slots_are_left_empty_between_commas() {
        let row = OutputRow {
            serial_number: 1,
            product_name: "Shoe",
            input_urls: vec!["http://a/1", "http://a/2", "http://a/3"],
            output_urls: vec![Some("http://o/1"), None, Some("http://o/3")],
        };
        let text = String::from_utf8(render([row])).unwrap();
        assert_eq!(
            text.lines().nth(1).unwrap(),
            "1,Shoe,\"http://a/1,http://a/2,http://a/3\",\"http://o/1,,http://o/3\""
        );
    }

    #[test]
    fn round_trip_keeps_names_and_url_lists_aligned() {
        let rows = vec![
            OutputRow {
                serial_number: 7,
                product_name: "Sofa, \"Deluxe\"\nTwo lines",
                input_urls: vec!["https://in/a.jpg", "https://in/b.jpg"],
                output_urls: vec![None, Some("https://out/b.jpg")],
            },
            OutputRow {
                serial_number: 3,
                product_name: "Lamp",
                input_urls: vec!["https://in/c.png"],
                output_urls: vec![Some("https://out/c.png")],
            },
        ];
        let records = read_back(&render(rows.clone()));
        assert_eq!(records.len(), 3);
        for (row, record) in rows.iter().zip(&records[1..]) {
            assert_eq!(record[0], row.serial_number.to_string());
            assert_eq!(record[1], row.product_name);
            let inputs: Vec<&str> = record[2].split(',').collect();
            let outputs: Vec<&str> = record[3].split(',').collect();
            assert_eq!(inputs, row.input_urls);
            assert_eq!(inputs.len(), outputs.len());
            let expected: Vec<&str> = row.output_urls.iter().map(|u| u.unwrap_or("")).collect();
            assert_eq!(outputs, expected);
        }
    }
}
