//! Values of one product row, each parsed once at the edge and trusted after.

use url::Url;

/// Longest product name accepted, in characters.
pub const MAX_PRODUCT_NAME_CHARS: usize = 1000;

/// Longest URL accepted, in bytes: what browsers and CDNs reliably handle, and far more than an
/// image URL needs.
pub const MAX_URL_BYTES: usize = 2048;

/// Longest part of a rejected value quoted back in an error, in characters.
const MAX_QUOTED_CHARS: usize = 200;

/// The merchant's `S. No.` for a product: a positive integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SerialNumber(i64);

impl SerialNumber {
    /// Parses a serial number, ignoring surrounding whitespace.
    pub fn parse(s: &str) -> Result<Self, String> {
        let trimmed = s.trim();
        match trimmed.parse::<i64>() {
            Ok(n) if n > 0 => Ok(Self(n)),
            _ => Err(format!("S. No. must be a positive integer, got {}", quote(trimmed))),
        }
    }

    /// The number itself.
    pub fn get(self) -> i64 {
        self.0
    }
}

/// A product's name: not blank, at most [`MAX_PRODUCT_NAME_CHARS`] characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProductName(String);

impl ProductName {
    /// Parses a product name, trimming surrounding whitespace.
    pub fn parse(s: &str) -> Result<Self, String> {
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err("Product Name must not be blank".to_owned());
        }
        // No database stores NUL in text (PostgreSQL refuses it), and no name needs one.
        if trimmed.contains('\0') {
            return Err("Product Name must not contain NUL characters".to_owned());
        }
        let chars = trimmed.chars().count();
        if chars > MAX_PRODUCT_NAME_CHARS {
            return Err(format!("Product Name must be at most {MAX_PRODUCT_NAME_CHARS} characters, got {chars}"));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An absolute `http` or `https` URL with a host, where an input image is fetched from. It keeps
/// the merchant's text, so the output CSV gives back exactly what was uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageUrl(String);

impl ImageUrl {
    /// Parses an image URL, trimming surrounding whitespace.
    pub fn parse(s: &str) -> Result<Self, String> {
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err("image URL must not be blank".to_owned());
        }
        let shown = quote(&redacted(trimmed));
        // The URL parser would quietly drop control characters (a NUL before the scheme, say), but
        // the merchant's text is what is stored and given back, and no database keeps a NUL.
        if trimmed.chars().any(char::is_control) {
            return Err(format!(
                "image URL {} must not contain control characters",
                quote(&trimmed.escape_debug().to_string())
            ));
        }
        check_url(trimmed).map_err(|why| format!("image URL {shown} {why}"))?;
        Ok(Self(trimmed.to_owned()))
    }

    /// The URL as the merchant wrote it (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks that `s` is an absolute http(s) URL of at most [`MAX_URL_BYTES`], with a host and no
/// user name or password (which would be sent as credentials to the image server, and echoed in
/// answers); says why not. Image and webhook URLs both go through it.
pub fn check_url(s: &str) -> Result<Url, String> {
    if s.len() > MAX_URL_BYTES {
        return Err(format!("is {} bytes long; the limit is {MAX_URL_BYTES}", s.len()));
    }
    let url = Url::parse(s).map_err(|e| format!("is not a valid absolute URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must start with http:// or https://".to_owned());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password".to_owned());
    }
    Ok(url)
}

/// A URL as it may be shown back: a user name and password replaced by `***`.
fn redacted(s: &str) -> String {
    match Url::parse(s) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_password(None);
            let _ = url.set_username("***");
            url.to_string()
        }
        _ => s.to_owned(),
    }
}

/// Quotes a value for an error message, cutting it short so one huge cell cannot flood the report.
fn quote(value: &str) -> String {
    match value.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("\"{}…\"", &value[..cut]),
        None => format!("\"{value}\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_number_accepts_a_positive_integer_with_whitespace() {
        assert_eq!(SerialNumber::parse(" 42 ").unwrap().get(), 42);
        assert_eq!(SerialNumber::parse(&i64::MAX.to_string()).unwrap().get(), i64::MAX);
    }

    #[test]
    fn serial_number_rejects_zero_negatives_fractions_words_and_overflow() {
        for bad in ["0", "-1", "1.5", "abc", "", "9223372036854775808"] {
            assert!(SerialNumber::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(SerialNumber::parse(" abc ").unwrap_err(), "S. No. must be a positive integer, got \"abc\"");
    }

    #[test]
    fn product_name_is_trimmed() {
        let name = ProductName::parse("  Red Shoe \t").unwrap();
        assert_eq!(name.as_str(), "Red Shoe");
    }

    #[test]
    fn product_name_rejects_blank() {
        assert_eq!(ProductName::parse(" \t ").unwrap_err(), "Product Name must not be blank");
    }

    #[test]
    fn product_name_allows_1000_characters_but_not_1001() {
        assert!(ProductName::parse(&"é".repeat(1000)).is_ok());
        let err = ProductName::parse(&"é".repeat(1001)).unwrap_err();
        assert_eq!(err, "Product Name must be at most 1000 characters, got 1001");
    }

    #[test]
    fn image_url_accepts_http_and_https() {
        let url = ImageUrl::parse(" https://cdn.example.com/a.jpg ").unwrap();
        assert_eq!(url.as_str(), "https://cdn.example.com/a.jpg");
        assert!(ImageUrl::parse("http://127.0.0.1:8080/x.png").is_ok());
    }

    #[test]
    fn image_url_rejects_relative_urls_with_the_value_quoted() {
        let err = ImageUrl::parse("images/a.jpg").unwrap_err();
        assert!(err.starts_with("image URL \"images/a.jpg\" is not a valid absolute URL"));
    }

    #[test]
    fn image_url_rejects_other_schemes() {
        for bad in ["ftp://example.com/a.jpg", "file:///etc/passwd", "data:image/png;base64,AA"] {
            let err = ImageUrl::parse(bad).unwrap_err();
            assert!(err.contains("must start with http:// or https://"), "{err}");
        }
    }

    #[test]
    fn image_urls_with_credentials_or_over_2048_bytes_are_rejected() {
        let err = ImageUrl::parse("http://user:pass@cdn.example.com/a.jpg").unwrap_err();
        assert!(err.ends_with("must not contain a user name or password"), "{err}");
        assert!(err.contains("http://***@cdn.example.com/a.jpg") && !err.contains(":pass"), "{err}");
        assert!(ImageUrl::parse("https://user@cdn.example.com/a.jpg").is_err());
        let long = format!("https://cdn.example.com/{}", "a".repeat(2048));
        assert!(ImageUrl::parse(&long).unwrap_err().contains("bytes long; the limit is 2048"));
        assert!(ImageUrl::parse(&long[..2048]).is_ok());
    }

    #[test]
    fn image_urls_with_control_characters_are_rejected() {
        let err = ImageUrl::parse(" \0HTTPS://cdn.example.com/a.jpg").unwrap_err();
        assert!(err.ends_with("must not contain control characters"), "{err}");
        assert!(err.contains("\\0HTTPS"), "the character is shown escaped: {err}");
        assert!(ImageUrl::parse("https://cdn.example.com/a\tb.jpg").is_err());
    }

    #[test]
    fn product_names_with_nul_are_rejected() {
        assert_eq!(ProductName::parse("Red\0Shoe").unwrap_err(), "Product Name must not contain NUL characters");
    }

    #[test]
    fn image_url_rejects_blank() {
        assert_eq!(ImageUrl::parse("  ").unwrap_err(), "image URL must not be blank");
    }

    #[test]
    fn long_values_are_cut_to_200_characters_in_errors() {
        let long = format!("ftp://{}", "x".repeat(500));
        let err = ImageUrl::parse(&long).unwrap_err();
        let quoted = err.split('"').nth(1).unwrap();
        assert_eq!(quoted.chars().count(), 201);
        assert!(quoted.ends_with('…'));
    }
}
