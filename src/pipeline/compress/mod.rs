//! Decode → orient → flatten → fit to the box → encode: turns one downloaded image into a
//! compressed JPEG.
//! Pure and synchronous; the caller runs it on the blocking pool under a semaphore. JPEG input
//! goes through libjpeg-turbo (`jpeg`), the other formats through the `image` crate.

mod budget;
mod exif;
mod formats;
mod inflate;
mod jpeg;
pub mod memory;
mod orient;
mod resize;
mod scan;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fit;
#[cfg(test)]
mod tests_limits;
#[cfg(test)]
mod tests_memory;
mod webpmux;

use std::sync::Arc;

use image::DynamicImage;
use image::metadata::Orientation;
use turbojpeg::{Compressor, Image, PixelFormat, Subsamp};

pub use self::budget::FIXED_BYTES;
use self::formats::decode_with_image;
#[cfg(test)]
use self::formats::flatten_alpha;
use self::jpeg::{ICC_CHUNK, decode_jpeg, with_icc};
pub use self::memory::MemoryPool;
use self::memory::Reservation;
use crate::domain::{
    quality::Quality,
    transform::{OutputFormat, Transform},
};

/// Memory all decodes of one process may use together: see [`Limits`].
pub const DECODE_MEMORY_BUDGET: u64 = 512 << 20;

/// Longest side accepted, in pixels: JPEG's own maximum, applied to every format.
pub const MAX_SIDE: u32 = 65_535;

/// Decoding limits applied before any pixel buffer is allocated.
///
/// The memory bound. `compress` runs only while holding a permit of the CPU gate
/// (`AppState::cpu`: one permit per core, `available_parallelism`), so however many images are
/// in flight (`IMGBATCH_CONCURRENCY`: the others are downloading, waiting or storing, holding
/// only their bytes), at most `cores` calls decode at once. Each call works out from the header
/// alone an upper bound of what it will allocate, `needed = max(decoding, turning, encoding) +
/// 256 × width + FIXED_BYTES + metadata`, each phase being `width × height ×` its bytes per pixel
/// (see `budget.rs`: 5 for gray, 9 for RGB, 10 for RGBA or GIF, 12 for 16-bit RGBA PNG, CMYK
/// JPEG or WebP with alpha), and refuses the image when `needed > max_alloc_bytes`. So
///
/// With a [`MemoryPool`] (as the service runs: [`Limits::pooled`], one pool of
/// `DECODE_MEMORY_BUDGET` = 512 MiB per process), each call then reserves `needed` from the pool
/// before it allocates, waiting while other decodes hold it, so
///
/// `decoding memory ≤ DECODE_MEMORY_BUDGET`, whatever the number of cores, and the largest image
/// is about `(DECODE_MEMORY_BUDGET − FIXED_BYTES) / bytes per pixel` (58 MP of RGB): a large image
/// decodes alone, small ones side by side. Without a pool, `cores × max_alloc_bytes` bounds it.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest accepted width × height.
    pub max_pixels: u64,
    /// Most memory one `compress` call may need, estimated before decoding; the decoded pixel
    /// buffer alone must fit too (checked first, as a pixel limit).
    pub max_alloc_bytes: u64,
    /// Where decodes reserve their memory, if anywhere.
    pub pool: Option<Arc<MemoryPool>>,
    /// Decode JPEGs at full size even where a box allows libjpeg-turbo's 1/2, 1/4 or 1/8: only
    /// to measure what scaled decoding saves (the compress bench); the service never sets it.
    pub full_size_decode: bool,
}

impl Limits {
    /// `max_pixels`, and every decode's memory from `pool`: one decode may need all of it.
    pub fn pooled(max_pixels: u64, pool: Arc<MemoryPool>) -> Self {
        Self { max_pixels, max_alloc_bytes: pool.capacity(), pool: Some(pool), full_size_decode: false }
    }
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
    /// The image to store, in `format`.
    pub bytes: Vec<u8>,
    /// What `bytes` are.
    pub format: OutputFormat,
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
    /// Decoding the image would need more memory than one decode may use.
    #[error("decoding needs {needed} bytes; the limit is {limit}")]
    TooMuchMemory {
        /// The estimate, from the header, of what decoding, turning and encoding allocate.
        needed: u64,
        /// `Limits::max_alloc_bytes`.
        limit: u64,
    },
    /// A metadata block (ICC profile, EXIF, text) is over its size limit.
    #[error("the image's {what} is larger than {} MiB", .limit >> 20)]
    MetadataTooLarge {
        /// Which block: "ICC profile", "EXIF block" or "text metadata".
        what: &'static str,
        /// Its limit, in bytes.
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
    #[error("cannot encode the image: {0}")]
    Encode(String),
}

/// Decodes `input`, applies EXIF orientation, flattens alpha onto white and encodes a JPEG at
/// `quality`, full size. A JPEG input whose re-encoding is not smaller is returned as is.
pub fn compress(input: &[u8], quality: Quality, limits: &Limits) -> Result<Compressed, CompressError> {
    compress_to(input, quality, &Transform::default(), limits)
}

/// As [`compress`], with the upright image fitted to `transform`'s box before it is encoded. An
/// input is kept as is only when it keeps its size.
pub fn compress_to(
    input: &[u8],
    quality: Quality,
    transform: &Transform,
    limits: &Limits,
) -> Result<Compressed, CompressError> {
    let kind = ImageKind::sniff(input).ok_or(CompressError::NotAnImage)?;
    // `_memory` holds the decode's reservation until the output is made.
    let Decoded { image, full, orientation, icc, _memory } = match kind {
        ImageKind::Jpeg => decode_jpeg(input, transform, limits)?,
        _ => decode_with_image(input, kind, transform, limits)?,
    };
    let upright = if quarter_turn(orientation) { (full.1, full.0) } else { full };
    let image = orient::orient(image, orientation);
    let image = resize::fit(image, transform.place(upright.0, upright.1), upright)?;
    let (width, height) = (image.width(), image.height());
    let icc = icc.filter(|p| icc_matches(p, &image));
    let format = transform.format;
    let bytes = match format {
        OutputFormat::Jpeg => encode(&image, quality, icc.as_deref())?,
        OutputFormat::Webp => webpmux::encode_webp(&image, quality, icc.as_deref())?,
        OutputFormat::Png => encode_png(&image, icc)?,
    };
    drop(image);
    let kept_input = kind == ImageKind::Jpeg
        && format == OutputFormat::Jpeg
        && upright == (width, height)
        && bytes.len() >= input.len();
    let bytes = if kept_input {
        drop(bytes);
        input.to_vec()
    } else {
        bytes
    };
    Ok(Compressed { bytes, format, width, height, input_kind: kind, kept_input })
}

/// The freed memory each of glibc's heaps keeps for reuse before handing it back, once
/// [`tune_allocator`] has run (256 MiB: a 20 MP photograph's buffers, reused for the next).
pub const ALLOCATOR_KEEPS: u64 = 256 << 20;

/// The heaps glibc may keep at most, once [`tune_allocator`] has run.
pub const ALLOCATOR_HEAPS: u64 = 2;

/// Whether `GLIBC_TUNABLES` sets malloc's own tunables, in which case [`tune_allocator`] leaves
/// malloc as the operator set it.
pub fn malloc_tuned_by_environment() -> bool {
    std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc."))
}

/// Sets glibc malloc thresholds so libjpeg-turbo's large buffers are reused instead of freshly
/// mmap'd and page-faulted on every image, and caps glibc's per-thread heaps (each of which would
/// otherwise keep its own freed buffers: 725 MiB peak against 520 MiB with two, at the same
/// speed); call once at start-up. A no-op off glibc, and when `GLIBC_TUNABLES` sets malloc's own
/// tunables (the operator's choice wins).
pub fn tune_allocator() {
    if malloc_tuned_by_environment() {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning parameters; it is safe to call at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, ALLOCATOR_KEEPS as i32);
        libc::mallopt(libc::M_ARENA_MAX, ALLOCATOR_HEAPS as i32);
    }
}

struct Decoded {
    image: DynamicImage,
    /// The stored size, before orientation; the image may have been decoded smaller (a JPEG at a
    /// scaling factor), and the box is placed by this size.
    full: (u32, u32),
    orientation: Orientation,
    icc: Option<Vec<u8>>,
    _memory: Reservation,
}

fn quarter_turn(orientation: Orientation) -> bool {
    use Orientation::{Rotate90, Rotate90FlipH, Rotate270, Rotate270FlipH};
    matches!(orientation, Rotate90 | Rotate90FlipH | Rotate270 | Rotate270FlipH)
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
    // libjpeg-turbo's own buffer: it starts at the worst-case size (counted in the memory
    // estimate) and is touched only as far as the output goes. A zeroed buffer of that size
    // cost a quarter of the throughput in page faults and memset.
    let jpeg = compressor.compress_to_owned(source).map_err(err)?;
    Ok(with_icc(&jpeg, icc.unwrap_or_default()))
}

/// PNG (lossless), gray, RGB or RGBA as the image is, with its ICC profile.
fn encode_png(image: &DynamicImage, icc: Option<Vec<u8>>) -> Result<Vec<u8>, CompressError> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    let mut encoder = image::codecs::png::PngEncoder::new(&mut out);
    if let Some(profile) = icc {
        // A profile the encoder will not take is left out rather than failing the image.
        let _ = encoder.set_icc_profile(profile);
    }
    let color = image.color().into();
    encoder
        .write_image(image.as_bytes(), image.width(), image.height(), color)
        .map_err(|e| CompressError::Encode(format!("PNG: {e}")))?;
    Ok(out)
}
