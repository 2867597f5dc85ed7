//! Decode → orient → flatten → encode: turns one downloaded image into a compressed JPEG.
//! Pure and synchronous; the caller runs it on the blocking pool under a semaphore.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageBuffer, ImageDecoder, ImageError, ImageFormat, ImageReader};
use turbojpeg::{Colorspace, Compressor, Decompressor, Image, PixelFormat, Subsamp};

use super::exif;

/// Decoding limits applied before any pixel buffer is allocated.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted width × height.
    pub max_pixels: u64,
    /// Largest accepted decoded pixel buffer, in bytes.
    pub max_alloc_bytes: u64,
}

/// Input formats recognised by their leading bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// JPEG/JFIF/EXIF (`FF D8 FF`).
    Jpeg,
    /// PNG (`89 50 4E 47 0D 0A 1A 0A`).
    Png,
    /// GIF87a or GIF89a; only the first frame is used.
    Gif,
    /// WebP (`RIFF....WEBP`), lossy or lossless.
    WebP,
}

impl ImageKind {
    /// Recognises the format from the magic bytes at the start of `bytes`.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [0xFF, 0xD8, 0xFF, ..] => Some(Self::Jpeg),
            [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some(Self::Png),
            [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some(Self::Gif),
            [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some(Self::WebP),
            _ => None,
        }
    }

    /// The format's usual name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
            Self::Gif => "GIF",
            Self::WebP => "WebP",
        }
    }
}

/// The result of compressing one image.
#[derive(Debug, Clone)]
pub struct Compressed {
    /// The JPEG to store.
    pub bytes: Vec<u8>,
    /// Width after EXIF orientation.
    pub width: u32,
    /// Height after EXIF orientation.
    pub height: u32,
    /// The format the input was recognised as.
    pub input_kind: ImageKind,
    /// true when the input JPEG was already smaller and was kept as is
    pub kept_input: bool,
}

/// Why an image cannot be compressed. Every variant is permanent (retrying will not help).
#[derive(Debug, thiserror::Error)]
pub enum CompressError {
    /// The leading bytes match none of the supported formats.
    #[error("not a supported image (expected JPEG, PNG, GIF or WebP)")]
    NotAnImage,
    /// The image is larger than the limits allow.
    #[error("image is {width}x{height} = {pixels} pixels, over the limit of {limit}")]
    TooManyPixels {
        /// Stored width, before orientation.
        width: u32,
        /// Stored height, before orientation.
        height: u32,
        /// `width × height`.
        pixels: u64,
        /// The effective limit: `max_pixels`, or fewer when `max_alloc_bytes` at this image's
        /// bytes per pixel allows fewer.
        limit: u64,
    },
    /// The data is truncated, corrupt or uses an unsupported variant of the format.
    #[error("cannot decode {kind} image: {reason}")]
    Decode {
        /// The format's name, as [`ImageKind::name`] gives it.
        kind: &'static str,
        /// The decoder's message.
        reason: String,
    },
    /// The encoder failed.
    #[error("cannot encode JPEG: {0}")]
    Encode(String),
}

/// Decodes `input`, applies EXIF orientation, flattens alpha onto white and encodes a JPEG at
/// `quality` (1-100, clamped). A JPEG input whose re-encoding is not smaller is returned as is.
pub fn compress(input: &[u8], quality: u8, limits: &Limits) -> Result<Compressed, CompressError> {
    let kind = ImageKind::sniff(input).ok_or(CompressError::NotAnImage)?;
    let Decoded { mut image, orientation, icc } = match kind {
        ImageKind::Jpeg => decode_jpeg(input, limits)?,
        _ => decode_with_image(input, kind, limits)?,
    };
    image.apply_orientation(orientation);
    let (width, height) = (image.width(), image.height());
    let icc = icc.filter(|p| icc_matches(p, &image));
    let bytes = encode(&image, quality, icc.as_deref())?;
    drop(image);
    let kept_input = kind == ImageKind::Jpeg && bytes.len() >= input.len();
    let bytes = if kept_input { input.to_vec() } else { bytes };
    Ok(Compressed { bytes, width, height, input_kind: kind, kept_input })
}

/// Sets glibc malloc thresholds so libjpeg-turbo's large buffers are reused instead of freshly
/// mmap'd and page-faulted on every image; call once at start-up. A no-op off glibc.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning parameters; it is safe to call at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}

struct Decoded {
    image: DynamicImage,
    orientation: Orientation,
    icc: Option<Vec<u8>>,
}

fn decode_error(kind: ImageKind, reason: impl ToString) -> CompressError {
    CompressError::Decode { kind: kind.name(), reason: reason.to_string() }
}

fn check_size(width: u32, height: u32, bytes_per_pixel: u64, limits: &Limits) -> Result<(), CompressError> {
    let pixels = u64::from(width) * u64::from(height);
    let limit = limits.max_pixels.min(limits.max_alloc_bytes / bytes_per_pixel.max(1));
    if pixels > limit {
        return Err(CompressError::TooManyPixels { width, height, pixels, limit });
    }
    Ok(())
}

fn decode_jpeg(input: &[u8], limits: &Limits) -> Result<Decoded, CompressError> {
    let err = |e: turbojpeg::Error| decode_error(ImageKind::Jpeg, e);
    let mut decompressor = Decompressor::new().map_err(err)?;
    // Bounds the CPU a hostile progressive JPEG can burn; real files have about ten scans.
    decompressor.set_scan_limit(500).map_err(err)?;
    let header = decompressor.read_header(input).map_err(err)?;
    let (width, height) = match (u32::try_from(header.width), u32::try_from(header.height)) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 => (w, h),
        _ => return Err(decode_error(ImageKind::Jpeg, "invalid dimensions")),
    };
    let format = match header.colorspace {
        Colorspace::Gray => PixelFormat::GRAY,
        Colorspace::CMYK | Colorspace::YCCK => PixelFormat::CMYK,
        Colorspace::RGB | Colorspace::YCbCr => PixelFormat::RGB,
    };
    check_size(width, height, format.size() as u64, limits)?;
    let meta = read_jpeg_markers(input);
    let mut out = Image {
        pixels: vec![0u8; header.width * header.height * format.size()],
        width: header.width,
        pitch: header.width * format.size(),
        height: header.height,
        format,
    };
    decompressor.decompress(input, out.as_deref_mut()).map_err(err)?;
    let mut pixels = out.pixels;
    let image = match format {
        PixelFormat::GRAY => ImageBuffer::from_raw(width, height, pixels).map(DynamicImage::ImageLuma8),
        PixelFormat::CMYK => {
            cmyk_to_rgb_in_place(&mut pixels, meta.adobe);
            ImageBuffer::from_raw(width, height, pixels).map(DynamicImage::ImageRgb8)
        }
        _ => ImageBuffer::from_raw(width, height, pixels).map(DynamicImage::ImageRgb8),
    };
    Ok(Decoded {
        image: image.ok_or_else(|| decode_error(ImageKind::Jpeg, "pixel buffer size mismatch"))?,
        orientation: meta.orientation.and_then(Orientation::from_exif).unwrap_or(Orientation::NoTransforms),
        icc: meta.icc,
    })
}

/// Converts 4-byte CMYK pixels to 3-byte RGB within the same buffer.
fn cmyk_to_rgb_in_place(pixels: &mut Vec<u8>, adobe_inverted: bool) {
    let n = pixels.len() / 4;
    for i in 0..n {
        let [c, m, y, k] = [0, 1, 2, 3].map(|j| u32::from(pixels[i * 4 + j]));
        // Photoshop writes Adobe-marked CMYK inverted (255 = no ink).
        let (c, m, y, k) = if adobe_inverted { (c, m, y, k) } else { (255 - c, 255 - m, 255 - y, 255 - k) };
        for (j, v) in [c, m, y].into_iter().enumerate() {
            pixels[i * 3 + j] = ((v * k + 127) / 255) as u8;
        }
    }
    pixels.truncate(n * 3);
}

struct JpegMarkers {
    orientation: Option<u8>,
    icc: Option<Vec<u8>>,
    adobe: bool,
}

const ICC_SIGNATURE: &[u8] = b"ICC_PROFILE\0";
const ICC_CHUNK: usize = 65_519;

/// Walks the header segments up to the first scan, collecting EXIF orientation, the ICC
/// profile and whether an Adobe APP14 marker is present. Stops quietly at malformed data.
fn read_jpeg_markers(data: &[u8]) -> JpegMarkers {
    let mut found = JpegMarkers { orientation: None, icc: None, adobe: false };
    let mut chunks: Vec<(u8, u8, &[u8])> = Vec::new();
    let mut at = 2;
    while at + 4 <= data.len() && data[at] == 0xFF {
        let marker = data[at + 1];
        if marker == 0xFF {
            at += 1;
            continue;
        }
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            at += 2;
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            break;
        }
        let len = usize::from(u16::from_be_bytes([data[at + 2], data[at + 3]]));
        let Some(payload) = data.get(at + 4..at + 2 + len).filter(|_| len >= 2) else {
            break;
        };
        match marker {
            0xE1 if found.orientation.is_none() => {
                found.orientation = payload.strip_prefix(b"Exif\0\0").and_then(exif::orientation);
            }
            0xE2 => {
                if let Some([seq, count, rest @ ..]) = payload.strip_prefix(ICC_SIGNATURE) {
                    chunks.push((*seq, *count, rest));
                }
            }
            0xEE if payload.starts_with(b"Adobe") => found.adobe = true,
            _ => {}
        }
        at += 2 + len;
    }
    chunks.sort_by_key(|c| c.0);
    let complete = !chunks.is_empty()
        && chunks.iter().enumerate().all(|(i, c)| usize::from(c.0) == i + 1 && usize::from(c.1) == chunks.len());
    if complete {
        found.icc = Some(chunks.iter().flat_map(|c| c.2.iter().copied()).collect());
    }
    found
}

fn decode_with_image(input: &[u8], kind: ImageKind, limits: &Limits) -> Result<Decoded, CompressError> {
    let err = |e: ImageError| decode_error(kind, e);
    let format = match kind {
        ImageKind::Png => ImageFormat::Png,
        ImageKind::Gif => ImageFormat::Gif,
        _ => ImageFormat::WebP,
    };
    let mut reader = ImageReader::with_format(Cursor::new(input), format);
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(limits.max_alloc_bytes);
    reader.limits(image_limits);
    let mut decoder = reader.into_decoder().map_err(err)?;
    let (width, height) = decoder.dimensions();
    check_size(width, height, u64::from(decoder.color_type().bytes_per_pixel()), limits)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let image = DynamicImage::from_decoder(decoder).map_err(err)?;
    let image = into_opaque(image).ok_or_else(|| decode_error(kind, "pixel buffer size mismatch"))?;
    Ok(Decoded { image, orientation, icc })
}

/// Reduces any decoded image to 8-bit gray or RGB, compositing alpha onto white.
fn into_opaque(image: DynamicImage) -> Option<DynamicImage> {
    let (w, h) = (image.width(), image.height());
    let (flat, gray) = match image {
        DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => return Some(image),
        DynamicImage::ImageLumaA8(buf) => (flatten_alpha(buf.into_raw(), 2), true),
        DynamicImage::ImageLuma16(_) => return Some(DynamicImage::ImageLuma8(image.into_luma8())),
        DynamicImage::ImageLumaA16(_) => (flatten_alpha(image.into_luma_alpha8().into_raw(), 2), true),
        other if other.color().has_alpha() => (flatten_alpha(other.into_rgba8().into_raw(), 4), false),
        other => return Some(DynamicImage::ImageRgb8(other.into_rgb8())),
    };
    if gray {
        ImageBuffer::from_raw(w, h, flat).map(DynamicImage::ImageLuma8)
    } else {
        ImageBuffer::from_raw(w, h, flat).map(DynamicImage::ImageRgb8)
    }
}

/// Composites pixels whose last channel is alpha onto white, dropping the alpha channel in place.
fn flatten_alpha(mut pixels: Vec<u8>, channels: usize) -> Vec<u8> {
    let n = pixels.len() / channels;
    for i in 0..n {
        let alpha = u32::from(pixels[i * channels + channels - 1]);
        for j in 0..channels - 1 {
            let v = u32::from(pixels[i * channels + j]);
            pixels[i * (channels - 1) + j] = ((v * alpha + 255 * (255 - alpha) + 127) / 255) as u8;
        }
    }
    pixels.truncate(n * (channels - 1));
    pixels
}

/// True when the profile's colour space (header bytes 16..20) fits the pixels being written.
fn icc_matches(profile: &[u8], image: &DynamicImage) -> bool {
    let wanted: &[u8] = if matches!(image, DynamicImage::ImageLuma8(_)) { b"GRAY" } else { b"RGB " };
    profile.get(16..20) == Some(wanted) && profile.len() <= ICC_CHUNK * 255
}

fn encode(image: &DynamicImage, quality: u8, icc: Option<&[u8]>) -> Result<Vec<u8>, CompressError> {
    let err = |e: turbojpeg::Error| CompressError::Encode(e.to_string());
    let (format, subsamp) = match image {
        DynamicImage::ImageLuma8(_) => (PixelFormat::GRAY, Subsamp::Gray),
        _ => (PixelFormat::RGB, Subsamp::Sub2x2),
    };
    let width = image.width() as usize;
    let pixels = image.as_bytes();
    let mut compressor = Compressor::new().map_err(err)?;
    compressor.set_quality(i32::from(quality.clamp(1, 100))).map_err(err)?;
    compressor.set_subsamp(subsamp).map_err(err)?;
    compressor.set_optimize(true).map_err(err)?;
    compressor.set_progressive(false).map_err(err)?;
    let source = Image { pixels, width, pitch: width * format.size(), height: image.height() as usize, format };
    let jpeg = compressor.compress_to_owned(source).map_err(err)?;
    Ok(with_icc(&jpeg, icc.unwrap_or_default()))
}

/// Copies `jpeg`, inserting `profile` as APP2 ICC_PROFILE segments right after SOI.
fn with_icc(jpeg: &[u8], profile: &[u8]) -> Vec<u8> {
    let count = profile.len().div_ceil(ICC_CHUNK);
    let mut out = Vec::with_capacity(jpeg.len() + profile.len() + count * 18);
    out.extend_from_slice(&jpeg[..2.min(jpeg.len())]);
    for (i, chunk) in profile.chunks(ICC_CHUNK).enumerate() {
        let len = (2 + ICC_SIGNATURE.len() + 2 + chunk.len()) as u16;
        out.extend_from_slice(&[0xFF, 0xE2]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(ICC_SIGNATURE);
        out.extend_from_slice(&[(i + 1) as u8, count as u8]);
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&jpeg[2.min(jpeg.len())..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::codecs::{gif::GifEncoder, png::PngEncoder, webp::WebPEncoder};
    use image::{ExtendedColorType, Frame, ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};

    const LIMITS: Limits = Limits { max_pixels: 50_000_000, max_alloc_bytes: 512 << 20 };

    fn noisy(width: u32, height: u32) -> RgbImage {
        let mut seed = 0x2545_F491_u32;
        RgbImage::from_fn(width, height, |x, y| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            Rgb([(x * 2) as u8, (y as u8) ^ (seed >> 24) as u8, (seed >> 16) as u8])
        })
    }

    fn jpeg(
        pixels: &[u8],
        width: usize,
        height: usize,
        format: PixelFormat,
        quality: i32,
        subsamp: Subsamp,
    ) -> Vec<u8> {
        let mut c = Compressor::new().unwrap();
        c.set_quality(quality).unwrap();
        c.set_subsamp(subsamp).unwrap();
        let image = Image { pixels, width, pitch: width * format.size(), height, format };
        c.compress_to_vec(image).unwrap()
    }

    fn rgb_jpeg(image: &RgbImage, quality: i32, subsamp: Subsamp) -> Vec<u8> {
        jpeg(image.as_raw(), image.width() as usize, image.height() as usize, PixelFormat::RGB, quality, subsamp)
    }

    fn png(image: &DynamicImage, icc: Option<Vec<u8>>, exif: Option<Vec<u8>>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = PngEncoder::new(&mut out);
        if let Some(profile) = icc {
            encoder.set_icc_profile(profile).unwrap();
        }
        if let Some(exif) = exif {
            encoder.set_exif_metadata(exif).unwrap();
        }
        let color = ExtendedColorType::from(image.color());
        encoder.write_image(image.as_bytes(), image.width(), image.height(), color).unwrap();
        out
    }

    fn insert_after_soi(jpeg: &[u8], segment: &[u8]) -> Vec<u8> {
        [&jpeg[..2], segment, &jpeg[2..]].concat()
    }

    fn decode_rgb(jpeg: &[u8]) -> RgbImage {
        let image: turbojpeg::Image<Vec<u8>> = turbojpeg::decompress(jpeg, PixelFormat::RGB).unwrap();
        RgbImage::from_raw(image.width as u32, image.height as u32, image.pixels).unwrap()
    }

    fn assert_close(actual: &[u8], expected: &[u8]) {
        let close = actual.iter().zip(expected).all(|(a, e)| a.abs_diff(*e) <= 6);
        assert!(close, "got {actual:?}, expected about {expected:?}");
    }

    fn exif_orientation_segment(orientation: u8) -> Vec<u8> {
        let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0".to_vec();
        tiff.extend([orientation, 0, 0, 0, 0, 0, 0]);
        let payload = [b"Exif\0\0".as_slice(), &tiff].concat();
        [&[0xFF, 0xE1][..], &((payload.len() + 2) as u16).to_be_bytes(), &payload].concat()
    }

    fn rgb_profile(len: usize) -> Vec<u8> {
        let mut profile: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        profile[16..20].copy_from_slice(b"RGB ");
        profile
    }

    #[test]
    fn formats_are_recognised_by_magic_bytes_only() {
        assert_eq!(ImageKind::sniff(b"\xFF\xD8\xFF\xE0"), Some(ImageKind::Jpeg));
        assert_eq!(ImageKind::sniff(b"\x89PNG\r\n\x1a\n...."), Some(ImageKind::Png));
        assert_eq!(ImageKind::sniff(b"GIF89a.."), Some(ImageKind::Gif));
        assert_eq!(ImageKind::sniff(b"GIF87a.."), Some(ImageKind::Gif));
        assert_eq!(ImageKind::sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(ImageKind::WebP));
        for other in [&b""[..], b"\xFF\xD8", b"<html>", b"RIFF\0\0\0\0WAVEfmt ", b"GIF88a"] {
            assert_eq!(ImageKind::sniff(other), None);
        }
        assert_eq!(ImageKind::WebP.name(), "WebP");
        assert!(matches!(compress(b"<html></html>", 50, &LIMITS), Err(CompressError::NotAnImage)));
    }

    #[test]
    fn a_jpeg_is_reencoded_as_baseline_4_2_0_with_optimised_huffman_tables() {
        let input = rgb_jpeg(&noisy(160, 120), 95, Subsamp::None);
        let out = compress(&input, 50, &LIMITS).unwrap();
        assert!(!out.kept_input && out.bytes.len() < input.len());
        assert_eq!((out.width, out.height, out.input_kind), (160, 120, ImageKind::Jpeg));
        let header = turbojpeg::read_header(&out.bytes).unwrap();
        assert_eq!((header.subsamp, header.is_progressive), (Subsamp::Sub2x2, false));
        let plain = rgb_jpeg(&decode_rgb(&out.bytes), 50, Subsamp::Sub2x2);
        assert!(out.bytes.len() < plain.len(), "optimised Huffman tables should beat the standard ones");
    }

    #[test]
    fn a_jpeg_that_would_grow_is_kept_as_is() {
        let input = rgb_jpeg(&noisy(64, 64), 20, Subsamp::Sub2x2);
        let out = compress(&input, 95, &LIMITS).unwrap();
        assert!(out.kept_input);
        assert_eq!(out.bytes, input);
        assert_eq!((out.width, out.height), (64, 64));
    }

    #[test]
    fn a_grayscale_jpeg_stays_grayscale() {
        let gray: Vec<u8> = (0..64 * 48).map(|i| (i % 256) as u8).collect();
        let input = jpeg(&gray, 64, 48, PixelFormat::GRAY, 100, Subsamp::Gray);
        let out = compress(&input, 50, &LIMITS).unwrap();
        assert!(!out.kept_input);
        assert_eq!(turbojpeg::read_header(&out.bytes).unwrap().colorspace, Colorspace::Gray);
    }

    #[test]
    fn exif_orientation_6_turns_a_jpeg_upright_and_drops_the_exif() {
        // Stored 64x32: top half red, bottom half blue. Orientation 6 means rotate 90° clockwise.
        let stored = RgbImage::from_fn(64, 32, |_, y| if y < 16 { Rgb([255, 0, 0]) } else { Rgb([0, 0, 255]) });
        let input = insert_after_soi(&rgb_jpeg(&stored, 100, Subsamp::None), &exif_orientation_segment(6));
        let out = compress(&input, 90, &LIMITS).unwrap();
        assert_eq!((out.width, out.height, out.kept_input), (32, 64, false));
        assert!(!out.bytes.windows(6).any(|w| w == b"Exif\0\0"));
        let upright = decode_rgb(&out.bytes);
        assert_close(&upright.get_pixel(28, 32).0, &[255, 0, 0]);
        assert_close(&upright.get_pixel(3, 32).0, &[0, 0, 255]);
    }

    #[test]
    fn an_adobe_cmyk_jpeg_is_converted_from_inverted_values() {
        // Adobe-inverted storage: C=255, M=0, Y=0, K=255 is full magenta and yellow ink, i.e. red.
        let cmyk = [255u8, 0, 0, 255].repeat(32 * 32);
        let input = jpeg(&cmyk, 32, 32, PixelFormat::CMYK, 100, Subsamp::None);
        assert_eq!(turbojpeg::read_header(&input).unwrap().colorspace, Colorspace::YCCK);
        let out = compress(&input, 90, &LIMITS).unwrap();
        assert_close(&decode_rgb(&out.bytes).get_pixel(16, 16).0, &[255, 0, 0]);
    }

    #[test]
    fn a_cmyk_jpeg_without_adobe_marker_uses_plain_ink_values() {
        let cmyk = [0u8, 255, 255, 0].repeat(32 * 32);
        let mut c = Compressor::new().unwrap();
        c.set_quality(100).unwrap();
        c.set_subsamp(Subsamp::None).unwrap();
        c.set_colorspace(Colorspace::CMYK).unwrap();
        let image = Image { pixels: &cmyk[..], width: 32, pitch: 128, height: 32, format: PixelFormat::CMYK };
        let with_adobe = c.compress_to_vec(image).unwrap();
        let app14 = with_adobe.windows(7).position(|w| w[..2] == [0xFF, 0xEE] && &w[4..] == b"Ado").unwrap();
        let len = usize::from(u16::from_be_bytes([with_adobe[app14 + 2], with_adobe[app14 + 3]]));
        let input = [&with_adobe[..app14], &with_adobe[app14 + 2 + len..]].concat();
        assert_eq!(turbojpeg::read_header(&input).unwrap().colorspace, Colorspace::CMYK);
        let out = compress(&input, 90, &LIMITS).unwrap();
        assert_close(&decode_rgb(&out.bytes).get_pixel(16, 16).0, &[255, 0, 0]);
    }

    #[test]
    fn a_jpeg_icc_profile_is_copied_to_the_output_byte_for_byte() {
        let profile = rgb_profile(70_000);
        let input = with_icc(&rgb_jpeg(&noisy(200, 150), 95, Subsamp::None), &profile);
        assert_eq!(read_jpeg_markers(&input).icc.as_deref(), Some(&profile[..]));
        let out = compress(&input, 50, &LIMITS).unwrap();
        assert!(!out.kept_input);
        assert_eq!(out.bytes[..4], [0xFF, 0xD8, 0xFF, 0xE2]);
        assert_eq!(read_jpeg_markers(&out.bytes).icc, Some(profile));
        decode_rgb(&out.bytes);
    }

    #[test]
    fn a_png_icc_profile_is_copied_and_a_mismatched_one_is_dropped() {
        let image = DynamicImage::ImageRgb8(noisy(40, 30));
        let profile = rgb_profile(3_000);
        let out = compress(&png(&image, Some(profile.clone()), None), 80, &LIMITS).unwrap();
        assert_eq!(read_jpeg_markers(&out.bytes).icc, Some(profile.clone()));
        let gray = DynamicImage::ImageLuma8(image.to_luma8());
        let out = compress(&png(&gray, Some(profile), None), 80, &LIMITS).unwrap();
        assert_eq!(read_jpeg_markers(&out.bytes).icc, None);
    }

    #[test]
    fn a_fully_transparent_png_becomes_white() {
        let image = DynamicImage::ImageRgba8(RgbaImage::from_pixel(24, 24, Rgba([0, 0, 0, 0])));
        let out = compress(&png(&image, None, None), 90, &LIMITS).unwrap();
        assert_eq!((out.input_kind, out.width, out.kept_input), (ImageKind::Png, 24, false));
        assert!(decode_rgb(&out.bytes).pixels().all(|p| p.0.iter().all(|&v| v >= 250)));
    }

    #[test]
    fn a_half_transparent_black_pixel_becomes_mid_grey() {
        let image = DynamicImage::ImageRgba8(RgbaImage::from_pixel(16, 16, Rgba([0, 0, 0, 128])));
        let out = compress(&png(&image, None, None), 95, &LIMITS).unwrap();
        assert_close(&decode_rgb(&out.bytes).get_pixel(8, 8).0, &[127, 127, 127]);
        assert_eq!(flatten_alpha(vec![0, 128, 200, 255, 10, 0], 2), vec![127, 200, 255]);
    }

    #[test]
    fn a_png_exif_orientation_is_applied() {
        let stored = RgbImage::from_fn(64, 32, |_, y| if y < 16 { Rgb([255, 0, 0]) } else { Rgb([0, 0, 255]) });
        let exif = exif_orientation_segment(8)[10..].to_vec();
        let out = compress(&png(&stored.into(), None, Some(exif)), 90, &LIMITS).unwrap();
        assert_eq!((out.width, out.height), (32, 64));
        // Orientation 8 rotates 90° counter-clockwise, so the stored top lands on the left.
        assert_close(&decode_rgb(&out.bytes).get_pixel(3, 32).0, &[255, 0, 0]);
    }

    #[test]
    fn a_gif_is_encoded_from_its_first_frame() {
        let mut gif = Vec::new();
        let frames = [[255, 0, 0, 255], [0, 0, 255, 255]].map(|c| Frame::new(RgbaImage::from_pixel(16, 16, Rgba(c))));
        GifEncoder::new(&mut gif).encode_frames(frames).unwrap();
        let out = compress(&gif, 90, &LIMITS).unwrap();
        assert_eq!(out.input_kind, ImageKind::Gif);
        assert_close(&decode_rgb(&out.bytes).get_pixel(8, 8).0, &[255, 0, 0]);
    }

    #[test]
    fn a_lossless_webp_is_decoded() {
        let image = noisy(30, 20);
        let mut webp = Vec::new();
        WebPEncoder::new_lossless(&mut webp).write_image(image.as_raw(), 30, 20, ExtendedColorType::Rgb8).unwrap();
        let out = compress(&webp, 90, &LIMITS).unwrap();
        assert_eq!((out.input_kind, out.width, out.height), (ImageKind::WebP, 30, 20));
    }

    #[test]
    fn images_over_the_limits_are_refused_before_decoding() {
        let jpeg = rgb_jpeg(&noisy(100, 100), 80, Subsamp::Sub2x2);
        let png = png(&DynamicImage::ImageRgb8(noisy(100, 100)), None, None);
        let few_pixels = Limits { max_pixels: 9_999, max_alloc_bytes: 1 << 30 };
        let little_memory = Limits { max_pixels: 1 << 30, max_alloc_bytes: 29_999 };
        for input in [&jpeg, &png] {
            let err = compress(input, 50, &few_pixels).unwrap_err();
            assert!(matches!(err, CompressError::TooManyPixels { pixels: 10_000, limit: 9_999, .. }), "{err}");
            let err = compress(input, 50, &little_memory).unwrap_err();
            assert!(matches!(err, CompressError::TooManyPixels { limit: 9_999, .. }), "{err}");
        }
    }

    #[test]
    fn truncated_corrupt_and_random_inputs_give_errors_not_panics() {
        let rgba = DynamicImage::ImageRgba8(RgbaImage::from_fn(40, 30, |x, y| Rgba([x as u8, y as u8, 9, 200])));
        let mut gif = Vec::new();
        GifEncoder::new(&mut gif).encode_frames([Frame::new(rgba.to_rgba8())]).unwrap();
        let mut webp = Vec::new();
        WebPEncoder::new_lossless(&mut webp).write_image(rgba.as_bytes(), 40, 30, ExtendedColorType::Rgba8).unwrap();
        let jpeg = insert_after_soi(&rgb_jpeg(&noisy(40, 30), 90, Subsamp::Sub2x2), &exif_orientation_segment(6));
        for file in [jpeg.clone(), png(&rgba, None, None), gif, webp] {
            for len in (0..file.len()).step_by(7) {
                let _ = compress(&file[..len], 50, &LIMITS);
            }
            let mut corrupt = file.clone();
            for i in (file.len() / 3..file.len()).step_by(5) {
                corrupt[i] ^= 0x5A;
            }
            let _ = compress(&corrupt, 50, &LIMITS);
        }
        let half = compress(&jpeg[..jpeg.len() / 2], 50, &LIMITS).unwrap_err();
        assert!(matches!(half, CompressError::Decode { kind: "JPEG", .. }), "{half}");
        let mut seed = 7u64;
        for round in 0..400 {
            let noise: Vec<u8> = (0..round * 3)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (seed >> 56) as u8
                })
                .collect();
            let magic: &[u8] =
                [&b"\xFF\xD8\xFF"[..], b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\0\0\0\0WEBP", b""][round % 5];
            assert!(compress(&[magic, &noise].concat(), 50, &LIMITS).is_err());
        }
    }
}
