//! Decode → orient → flatten → encode: turns one downloaded image into a compressed JPEG.
//! Pure and synchronous; the caller runs it on the blocking pool under a semaphore. JPEG input
//! goes through libjpeg-turbo (`jpeg`), the other formats through the `image` crate.

mod exif;
mod jpeg;
mod orient;
#[cfg(test)]
mod tests;

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageBuffer, ImageDecoder, ImageError, ImageFormat, ImageReader};
use turbojpeg::{Compressor, Image, PixelFormat, Subsamp};

use self::jpeg::{ICC_CHUNK, decode_jpeg, with_icc};
use crate::domain::quality::Quality;

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
/// `quality`. A JPEG input whose re-encoding is not smaller is returned as is.
pub fn compress(input: &[u8], quality: Quality, limits: &Limits) -> Result<Compressed, CompressError> {
    let kind = ImageKind::sniff(input).ok_or(CompressError::NotAnImage)?;
    let Decoded { image, orientation, icc } = match kind {
        ImageKind::Jpeg => decode_jpeg(input, limits)?,
        _ => decode_with_image(input, kind, limits)?,
    };
    let image = orient::orient(image, orientation);
    let (width, height) = (image.width(), image.height());
    let icc = icc.filter(|p| icc_matches(p, &image));
    let bytes = encode(&image, quality, icc.as_deref())?;
    drop(image);
    let kept_input = kind == ImageKind::Jpeg && bytes.len() >= input.len();
    let bytes = if kept_input { input.to_vec() } else { bytes };
    Ok(Compressed { bytes, width, height, input_kind: kind, kept_input })
}

/// Sets glibc malloc thresholds so libjpeg-turbo's large buffers are reused instead of freshly
/// mmap'd and page-faulted on every image, and caps glibc's per-thread heaps (each of which would
/// otherwise keep its own freed buffers: 725 MiB peak against 520 MiB with two, at the same
/// speed); call once at start-up. A no-op off glibc.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning parameters; it is safe to call at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 2);
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

fn encode(image: &DynamicImage, quality: Quality, icc: Option<&[u8]>) -> Result<Vec<u8>, CompressError> {
    let err = |e: turbojpeg::Error| CompressError::Encode(e.to_string());
    let (format, subsamp) = match image {
        DynamicImage::ImageLuma8(_) => (PixelFormat::GRAY, Subsamp::Gray),
        _ => (PixelFormat::RGB, Subsamp::Sub2x2),
    };
    let width = image.width() as usize;
    let pixels = image.as_bytes();
    let mut compressor = Compressor::new().map_err(err)?;
    compressor.set_quality(i32::from(quality.get())).map_err(err)?;
    compressor.set_subsamp(subsamp).map_err(err)?;
    compressor.set_optimize(true).map_err(err)?;
    compressor.set_progressive(false).map_err(err)?;
    let source = Image { pixels, width, pitch: width * format.size(), height: image.height() as usize, format };
    let jpeg = compressor.compress_to_owned(source).map_err(err)?;
    Ok(with_icc(&jpeg, icc.unwrap_or_default()))
}
