//! The one EXIF fact the compressor needs: the orientation tag of a JPEG's APP1 block.

const ORIENTATION_TAG: u16 = 0x0112;
const TYPE_SHORT: u16 = 3;

/// Reads the orientation (1-8) from the TIFF structure of an EXIF block, the bytes after
/// `Exif\0\0`. Returns `None` when the tag is missing, out of range or the data is malformed.
pub fn orientation(tiff: &[u8]) -> Option<u8> {
    let big_endian = match tiff.get(..2)? {
        b"II" => false,
        b"MM" => true,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if big_endian { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    };
    if u16_at(2)? != 42 {
        return None;
    }
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let entries = usize::from(u16_at(ifd)?);
    (0..entries).map(|i| ifd + 2 + i * 12).find(|&entry| u16_at(entry) == Some(ORIENTATION_TAG)).and_then(|entry| {
        // A SHORT with count 1 sits left-aligned in the 4-byte value field.
        if u16_at(entry + 2)? != TYPE_SHORT || u32_at(entry + 4)? != 1 {
            return None;
        }
        u8::try_from(u16_at(entry + 8)?).ok().filter(|v| (1..=8).contains(v))
    })
}

#[cfg(test)]
mod tests {
    use super::orientation;

    /// Builds a TIFF header with IFD0 at offset 8 holding the given (tag, type, count, value) entries.
    fn tiff(big_endian: bool, entries: &[(u16, u16, u32, u16)]) -> Vec<u8> {
        let u16b = |v: u16| {
            if big_endian { v.to_be_bytes() } else { v.to_le_bytes() }
        };
        let u32b = |v: u32| {
            if big_endian { v.to_be_bytes() } else { v.to_le_bytes() }
        };
        let mut out = if big_endian { b"MM".to_vec() } else { b"II".to_vec() };
        out.extend(u16b(42));
        out.extend(u32b(8));
        out.extend(u16b(entries.len() as u16));
        for &(tag, typ, count, value) in entries {
            out.extend(u16b(tag));
            out.extend(u16b(typ));
            out.extend(u32b(count));
            out.extend(u16b(value));
            out.extend([0, 0]);
        }
        out.extend(u32b(0));
        out
    }

    #[test]
    fn little_endian_orientation_is_read() {
        let data = tiff(false, &[(0x010f, 2, 4, 0), (0x0112, 3, 1, 6)]);
        assert_eq!(orientation(&data), Some(6));
    }

    #[test]
    fn big_endian_orientation_is_read() {
        let data = tiff(true, &[(0x0112, 3, 1, 8), (0x011a, 5, 1, 0)]);
        assert_eq!(orientation(&data), Some(8));
    }

    #[test]
    fn missing_tag_gives_none() {
        assert_eq!(orientation(&tiff(false, &[(0x010f, 2, 4, 0)])), None);
        assert_eq!(orientation(&tiff(true, &[])), None);
    }

    #[test]
    fn out_of_range_or_mistyped_values_are_ignored() {
        assert_eq!(orientation(&tiff(false, &[(0x0112, 3, 1, 0)])), None);
        assert_eq!(orientation(&tiff(false, &[(0x0112, 3, 1, 9)])), None);
        assert_eq!(orientation(&tiff(false, &[(0x0112, 4, 1, 6)])), None);
        assert_eq!(orientation(&tiff(true, &[(0x0112, 3, 2, 6)])), None);
    }

    #[test]
    fn malformed_headers_give_none() {
        assert_eq!(orientation(b""), None);
        assert_eq!(orientation(b"XX\0*\0\0\0\x08"), None);
        assert_eq!(orientation(b"II\x2b\0\x08\0\0\0"), None);
        // IFD offset past the end.
        assert_eq!(orientation(b"II\x2a\0\xff\xff\xff\xff"), None);
    }

    #[test]
    fn truncated_data_gives_none_until_the_value_is_complete() {
        let data = tiff(true, &[(0x010f, 2, 4, 0), (0x0112, 3, 1, 3)]);
        // Header 8 + count 2 + first entry 12 + second entry up to its value 10.
        let value_end = 32;
        for len in 0..=data.len() {
            let want = (len >= value_end).then_some(3);
            assert_eq!(orientation(&data[..len]), want, "length {len}");
        }
    }
}
