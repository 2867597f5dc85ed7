//! Lossy WebP through libwebp, with the ICC profile kept. libwebp's simple encoder writes no
//! profile, so the container is extended here (RIFF chunks, as the WebP container specification
//! lays them out): a `VP8X` header with the ICC flag, then an `ICCP` chunk before the image data.

use image::DynamicImage;

use super::CompressError;
use crate::domain::quality::Quality;

/// The ICC flag of a `VP8X` chunk's first byte.
const ICC_FLAG: u8 = 0x20;

/// Lossy WebP at `quality`, with alpha when the image has it and `icc` when given (an RGB
/// profile: libwebp takes RGB or RGBA, so a gray image is widened first and a gray profile would
/// no longer fit it).
pub(super) fn encode_webp(
    image: &DynamicImage,
    quality: Quality,
    icc: Option<&[u8]>,
) -> Result<Vec<u8>, CompressError> {
    let (w, h) = (image.width(), image.height());
    let widened;
    let encoder = match image {
        DynamicImage::ImageRgba8(buf) => webp::Encoder::from_rgba(buf.as_raw(), w, h),
        DynamicImage::ImageRgb8(buf) => webp::Encoder::from_rgb(buf.as_raw(), w, h),
        other => {
            widened = other.to_rgb8();
            webp::Encoder::from_rgb(widened.as_raw(), w, h)
        }
    };
    let out = encoder
        .encode_simple(false, f32::from(quality.get()))
        .map_err(|e| CompressError::Encode(format!("WebP: {e:?}")))?;
    let icc = icc.filter(|p| p.get(16..20) == Some(b"RGB "));
    Ok(match icc {
        Some(profile) => with_icc(&out, profile, (w, h)),
        None => out.to_vec(),
    })
}

/// `webp` (a file libwebp wrote) with an `ICCP` chunk holding `profile`; the file as it was if
/// its chunks are not as libwebp writes them. libwebp extends the file itself when it writes
/// alpha (`VP8X`, `ALPH`, `VP8 `); a plain `VP8 ` file has none, even from RGBA pixels that were
/// all opaque, so the header made for it never claims alpha.
fn with_icc(webp: &[u8], profile: &[u8], (width, height): (u32, u32)) -> Vec<u8> {
    let Some(body) = webp.strip_prefix(b"RIFF").and_then(|b| b.get(4..)).and_then(|b| b.strip_prefix(b"WEBP")) else {
        return webp.to_vec();
    };
    let mut chunks = Vec::with_capacity(webp.len() + profile.len() + 32);
    let rest = match body.strip_prefix(b"VP8X") {
        // Already extended (lossy with alpha: VP8X, ALPH, VP8): flag the profile, and put it
        // right after the header, where the specification orders it.
        Some(_) if body.len() >= 18 => {
            let mut header = body[..18].to_vec();
            header[8] |= ICC_FLAG;
            chunks.extend_from_slice(&header);
            &body[18..]
        }
        Some(_) => return webp.to_vec(),
        None => {
            let mut payload = [0u8; 10];
            payload[0] = ICC_FLAG;
            payload[4..7].copy_from_slice(&(width - 1).to_le_bytes()[..3]);
            payload[7..10].copy_from_slice(&(height - 1).to_le_bytes()[..3]);
            push_chunk(&mut chunks, b"VP8X", &payload);
            body
        }
    };
    push_chunk(&mut chunks, b"ICCP", profile);
    chunks.extend_from_slice(rest);
    let mut out = Vec::with_capacity(chunks.len() + 12);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&((chunks.len() + 4) as u32).to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend_from_slice(&chunks);
    out
}

/// Appends a RIFF chunk: its name, its size, its payload, padded to an even length.
fn push_chunk(out: &mut Vec<u8>, name: &[u8; 4], payload: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    if payload.len() % 2 == 1 {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use image::{ImageDecoder, RgbImage, RgbaImage};

    use super::*;

    fn profile(len: usize) -> Vec<u8> {
        let mut p: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        p[16..20].copy_from_slice(b"RGB ");
        p
    }

    /// The profile a decoder reads back, and the decoded size and channels.
    fn read_back(webp: &[u8]) -> (Option<Vec<u8>>, (u32, u32), bool) {
        let mut decoder = image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(webp)).unwrap();
        let icc = decoder.icc_profile().unwrap();
        let dims = decoder.dimensions();
        let image = DynamicImage::from_decoder(decoder).expect("the file decodes");
        (icc, dims, image.color().has_alpha())
    }

    #[test]
    fn an_opaque_webp_carries_its_profile_and_still_decodes() {
        let image =
            DynamicImage::ImageRgb8(RgbImage::from_fn(33, 17, |x, y| image::Rgb([x as u8 * 7, y as u8 * 13, 90])));
        let p = profile(601);
        let out = encode_webp(&image, Quality::new(60).unwrap(), Some(&p)).unwrap();
        assert_eq!(read_back(&out), (Some(p), (33, 17), false));
        assert_eq!(u32::from_le_bytes(out[4..8].try_into().unwrap()) as usize, out.len() - 8, "RIFF size");
        assert!(webp::Decoder::new(&out).decode().is_some(), "libwebp reads it too");
    }

    #[test]
    fn a_webp_with_alpha_keeps_alpha_and_profile() {
        let image = DynamicImage::ImageRgba8(RgbaImage::from_fn(20, 30, |x, _| {
            image::Rgba([200, 10, 10, if x < 10 { 0 } else { 255 }])
        }));
        let p = profile(400);
        let out = encode_webp(&image, Quality::new(60).unwrap(), Some(&p)).unwrap();
        assert_eq!(read_back(&out), (Some(p), (20, 30), true));
    }

    #[test]
    fn opaque_rgba_pixels_get_no_alpha_flag() {
        let image = DynamicImage::ImageRgba8(RgbaImage::from_pixel(12, 12, image::Rgba([1, 2, 3, 255])));
        let out = encode_webp(&image, Quality::new(60).unwrap(), Some(&profile(100))).unwrap();
        let flags = out[20];
        assert_eq!(&out[12..16], b"VP8X");
        assert_eq!(flags & 0x10 != 0, out.windows(4).any(|w| w == b"ALPH"), "alpha flagged only with alpha data");
        assert!(read_back(&out).0.is_some());
    }

    #[test]
    fn a_gray_profile_is_not_written_on_widened_pixels() {
        let image = DynamicImage::ImageLuma8(image::GrayImage::from_pixel(8, 8, image::Luma([77])));
        let mut gray = profile(300);
        gray[16..20].copy_from_slice(b"GRAY");
        let out = encode_webp(&image, Quality::new(60).unwrap(), Some(&gray)).unwrap();
        assert_eq!(read_back(&out).0, None);
    }
}
