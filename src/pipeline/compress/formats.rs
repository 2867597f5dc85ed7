//! PNG, GIF and WebP through the `image` crate: metadata checks, decoding under limits, and the
//! reduction of every pixel type to 8-bit gray or RGB.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageBuffer, ImageDecoder, ImageError, ImageFormat, ImageReader};

use super::budget::{self, Footprint};
use super::{CompressError, Decoded, ImageKind, Limits, MAX_SIDE, check_size, decode_error, quarter_turn, scan};
use crate::domain::transform::Transform;

pub(super) fn decode_with_image(
    input: &[u8],
    kind: ImageKind,
    transform: &Transform,
    limits: &Limits,
) -> Result<Decoded, CompressError> {
    let err = |e: ImageError| decode_error(kind, e);
    let (format, beside, metadata) = match kind {
        ImageKind::Png => {
            scan::check_png(input)?;
            if let Some((width, height)) = scan::png_dimensions(input) {
                check_size(width, height, 1, limits)?;
            }
            (ImageFormat::Png, 0, 0)
        }
        // A frame unlike the screen is read into its own buffer (capped below), plus indices;
        // the gif crate copies extension data (XMP, ICC), at most the file.
        ImageKind::Gif => (ImageFormat::Gif, 5, input.len() as u64),
        // An animation's canvas and frame, or a lossless image's RGBA scratch and lossy planes.
        _ => {
            scan::check_webp(input)?;
            (ImageFormat::WebP, 8, 0)
        }
    };
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(MAX_SIDE);
    image_limits.max_image_height = Some(MAX_SIDE);
    // The png crate takes this as its own budget for everything but the image, fixed at
    // construction: metadata, chunk buffers, one row.
    image_limits.max_alloc = Some(budget::PNG_DECODER_BYTES);
    let mut reader = ImageReader::with_format(Cursor::new(input), format);
    reader.limits(image_limits.clone());
    let mut decoder = reader.into_decoder().map_err(err)?;
    let (width, height) = decoder.dimensions();
    let color = decoder.color_type();
    let bytes_per_pixel = u64::from(color.bytes_per_pixel());
    check_size(width, height, bytes_per_pixel, limits)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut footprint = Footprint::converted(bytes_per_pixel, u64::from(color.channel_count()), beside);
    footprint.alpha = color.has_alpha() && transform.format.keeps_alpha();
    if footprint.alpha {
        // Kept as 8-bit RGBA whatever it was decoded as.
        footprint.held = footprint.held.max(4);
    }
    footprint.metadata = metadata;
    let memory = budget::check(width, height, &footprint, quarter_turn(orientation), transform, limits)?;
    // From here on it bounds the decoder's extra buffers (a GIF frame) by the image's size.
    image_limits.max_alloc = Some(u64::from(width) * u64::from(height) * bytes_per_pixel);
    decoder.set_limits(image_limits).map_err(err)?;
    let icc = decoder.icc_profile().ok().flatten();
    if icc.as_ref().is_some_and(|p| p.len() > budget::ICC_LIMIT) {
        return Err(CompressError::MetadataTooLarge { what: "ICC profile", limit: budget::ICC_LIMIT as u64 });
    }
    let image = DynamicImage::from_decoder(decoder).map_err(err)?;
    let image = match transform.format.keeps_alpha() && image.color().has_alpha() {
        true => DynamicImage::ImageRgba8(image.into_rgba8()),
        false => into_opaque(image).ok_or_else(|| decode_error(kind, "pixel buffer size mismatch"))?,
    };
    Ok(Decoded { image, full: (width, height), orientation, icc, _memory: memory })
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
pub(super) fn flatten_alpha(mut pixels: Vec<u8>, channels: usize) -> Vec<u8> {
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
