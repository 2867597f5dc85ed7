//! Checks of a file's metadata chunks made on the raw bytes, before a decoder copies or inflates
//! them: PNG iCCP (inflated size), eXIf and text chunks; WebP ICCP and EXIF (declared size).

use super::budget::{EXIF_LIMIT, ICC_LIMIT, TEXT_LIMIT};
use super::{CompressError, inflate};

fn too_large(what: &'static str, limit: usize) -> CompressError {
    CompressError::MetadataTooLarge { what, limit: limit as u64 }
}

/// Width and height from a PNG's IHDR, which must come first.
pub(super) fn png_dimensions(input: &[u8]) -> Option<(u32, u32)> {
    let ihdr = input.get(8..24).filter(|h| &h[4..8] == b"IHDR")?;
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&ihdr[8..12]), be(&ihdr[12..16])))
}

/// Refuses a PNG whose ICC profile inflates beyond [`ICC_LIMIT`], whose EXIF block is over
/// [`EXIF_LIMIT`] or whose text chunks add up to more than [`TEXT_LIMIT`]. Stops quietly at a
/// truncated chunk: the decoder reports it.
pub(super) fn check_png(input: &[u8]) -> Result<(), CompressError> {
    let (mut at, mut text, mut icc_seen, mut idat_seen) = (8usize, 0usize, false, false);
    while let Some(head) = input.get(at..at + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let Some(data) = input.get(at + 8..).and_then(|rest| rest.get(..len)) else {
            break;
        };
        match &head[4..8] {
            b"IDAT" => idat_seen = true,
            // The png crate inflates only the first profile, and only before the image data.
            b"iCCP" if !icc_seen && !idat_seen => {
                icc_seen = true;
                let name = data.iter().position(|&b| b == 0).unwrap_or(data.len());
                let zlib = data.get(name + 2..).unwrap_or_default();
                if inflate::inflates_beyond(zlib, ICC_LIMIT as u64) {
                    return Err(too_large("ICC profile", ICC_LIMIT));
                }
            }
            b"eXIf" if len > EXIF_LIMIT => return Err(too_large("EXIF block", EXIF_LIMIT)),
            b"tEXt" | b"zTXt" | b"iTXt" => {
                text += len;
                if text > TEXT_LIMIT {
                    return Err(too_large("text metadata", TEXT_LIMIT));
                }
            }
            b"IEND" => break,
            _ => {}
        }
        at += 12 + len;
    }
    Ok(())
}

/// Refuses a WebP whose ICCP or EXIF chunk declares more than its limit: the decoder allocates
/// the declared size before reading, so a lying header alone could cost gigabytes.
pub(super) fn check_webp(input: &[u8]) -> Result<(), CompressError> {
    let mut at = 12usize;
    while let Some(head) = input.get(at..at + 8) {
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        match &head[..4] {
            b"ICCP" if len > ICC_LIMIT => return Err(too_large("ICC profile", ICC_LIMIT)),
            b"EXIF" if len > EXIF_LIMIT => return Err(too_large("EXIF block", EXIF_LIMIT)),
            _ => {}
        }
        at = at.saturating_add(8).saturating_add(len.next_multiple_of(2));
    }
    Ok(())
}
