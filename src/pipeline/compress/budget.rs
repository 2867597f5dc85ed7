//! How much memory one `compress` call needs, computed from the header before any pixel buffer
//! exists, and the caps on metadata that keep the non-pixel part of it small.
//!
//! A call goes through three phases; what is alive in each, per (MCU-padded) pixel:
//!
//! * decoding: the decoder's output (`decoded`) and what sits beside it (`beside`): libjpeg-turbo's
//!   coefficient buffer (2 bytes per sample), the 8-bit copy of a 16-bit PNG, a GIF or WebP frame
//!   and canvas;
//! * turning upright: the 8-bit buffer (`held`, its capacity) and the turned copy (`orient`);
//! * resizing (when the request has a box): the upright buffer, the scaled one and, for `contain`,
//!   the padded canvas (3 bytes per pixel, 1 in gray); encoding then counts the output's size;
//! * encoding: `held`, the encoder's coefficient buffer (Huffman optimisation keeps the whole
//!   image: 3 bytes per pixel at 4:2:0, 2 in gray) and the output buffer, allocated once at
//!   libjpeg-turbo's worst-case size (3 bytes per pixel at 4:2:0, 2 in gray).
//!
//! `needed = max(decoding, turning, encoding) + ROW_BYTES × padded width + 8 × padded height
//!  + FIXED_BYTES + metadata held by the codec`.

use super::{CompressError, Limits, memory::Reservation, orient};
use crate::domain::transform::Transform;

/// Largest ICC profile accepted, inflated (PNG) or reassembled (JPEG).
pub(super) const ICC_LIMIT: usize = 1 << 20;
/// Largest EXIF block accepted (PNG `eXIf`, WebP `EXIF`; a JPEG's is at most 64 KiB anyway).
pub(super) const EXIF_LIMIT: usize = 1 << 20;
/// Most bytes of PNG text chunks (`tEXt`, `zTXt`, `iTXt`) accepted, over all of them.
pub(super) const TEXT_LIMIT: usize = 1 << 20;
/// What the png crate may allocate besides the image (`png::Limits`): chunk buffers, text, the
/// ICC profile and one output row. With the caps above its use stays under 6 MiB.
pub(super) const PNG_DECODER_BYTES: u64 = 8 << 20;
/// Bytes per pixel of image width for row buffers: libjpeg-turbo's strips (up to 16 rows ×
/// 4 components, with context rows), the png crate's unfiltering window (5 rows of 8 bytes).
const ROW_BYTES: u64 = 256;
/// Everything not proportional to pixels: the png crate's budget, codec tables, and the ICC
/// profile held while encoding and again in the output.
pub const FIXED_BYTES: u64 = PNG_DECODER_BYTES + 2 * ICC_LIMIT as u64 + (2 << 20);

/// Bytes per pixel each buffer of one decode takes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Footprint {
    /// The decoder's output buffer.
    pub(super) decoded: u64,
    /// Buffers alive next to it while decoding or converting to 8 bits.
    pub(super) beside: u64,
    /// The 8-bit buffer kept until the JPEG is written (its capacity, not its length).
    pub(super) held: u64,
    /// The output is gray (1 byte per pixel) rather than RGB (3).
    pub(super) gray: bool,
    /// Bytes the codec holds apart from pixels (saved markers, extension data).
    pub(super) metadata: u64,
    /// Alpha is kept (RGBA, 4 bytes per pixel, from decoding to the output).
    pub(super) alpha: bool,
}

impl Footprint {
    /// The footprint of an 8-bit or 16-bit image decoded by the `image` crate as
    /// `bytes_per_pixel`, with `channels` channels; 16-bit images get an 8-bit copy.
    pub(super) fn converted(bytes_per_pixel: u64, channels: u64, beside: u64) -> Self {
        let sixteen = bytes_per_pixel == 2 * channels;
        let eight_bit = if sixteen { channels } else { bytes_per_pixel };
        Self {
            decoded: bytes_per_pixel,
            beside: beside + if sixteen { eight_bit } else { 0 },
            held: eight_bit,
            gray: channels <= 2,
            metadata: 0,
            alpha: false,
        }
    }
}

/// The bytes one `compress` call needs for a `width`×`height` image, as the module doc says, when
/// it is resized as `transform` places it (after it is turned upright).
pub(super) fn needed(width: u32, height: u32, f: &Footprint, quarter_turn: bool, transform: &Transform) -> u64 {
    // JPEG MCUs are at most 32×32 pixels; every codec's buffers fit in this padding.
    let (w, h) = (u64::from(width).next_multiple_of(32), u64::from(height).next_multiple_of(32));
    let px = w * h;
    let out = match (f.alpha, f.gray) {
        (true, _) => 4,
        (false, true) => 1,
        (false, false) => 3,
    };
    let decoding = px * (f.decoded + f.beside);
    let turning = px * f.held + if quarter_turn { orient::turn_extra(px * out, px) } else { 0 };
    // Coefficients and the worst-case output: 2 + 2 bytes per pixel in gray, 3 + 3 in RGB; libwebp's
    // YUVA planes and output, or the PNG encoder's filtered rows and output, take no more.
    let coded = if f.gray && !f.alpha { 4 } else { 6 };
    let (upright_w, upright_h) = if quarter_turn { (height, width) } else { (width, height) };
    let (resizing, encoded_px, encoded_held) = match transform.is_identity() {
        true => (0, px, f.held),
        false => {
            let placed = transform.place(upright_w, upright_h);
            let area = |(w, h): (u32, u32)| u64::from(w).next_multiple_of(32) * u64::from(h).next_multiple_of(32);
            let (scaled, output) = (area(placed.scaled), area(placed.output));
            // The upright image, the scaled one and, to pad it (`contain`), the canvas.
            let canvas = if placed.scaled == placed.output { 0 } else { output };
            (px * f.held + (scaled + canvas) * out, output, out)
        }
    };
    let encoding = encoded_px * (encoded_held + coded) + 2048;
    decoding.max(turning).max(resizing).max(encoding) + ROW_BYTES * w + 8 * h + FIXED_BYTES + f.metadata
}

/// Refuses an image whose decode would need more than `limits.max_alloc_bytes`; else reserves
/// what it needs from the limits' pool (waiting for it), held by the returned reservation.
pub(super) fn check(
    width: u32,
    height: u32,
    f: &Footprint,
    quarter_turn: bool,
    transform: &Transform,
    limits: &Limits,
) -> Result<Reservation, CompressError> {
    let needed = needed(width, height, f, quarter_turn, transform);
    if needed > limits.max_alloc_bytes {
        return Err(CompressError::TooMuchMemory { needed, limit: limits.max_alloc_bytes });
    }
    Ok(limits.pool.as_ref().map(|pool| pool.reserve(needed)).unwrap_or_default())
}
