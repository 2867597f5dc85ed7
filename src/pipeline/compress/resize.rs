//! Fitting an upright image to its request's box: SIMD resizing (`fast_image_resize`, Lanczos3)
//! of the whole image or, for `cover`, of its centred part, then for `contain` padding with white.

use fast_image_resize::{
    FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer,
    images::{Image as FirImage, ImageRef},
};
use image::{DynamicImage, ImageBuffer};

use super::CompressError;
use crate::domain::transform::Placement;

/// `image` (8-bit gray, RGB or RGBA, upright) placed as `placed` says; padding is opaque white.
/// `placed` was worked out on the image at its `full` (upright) size: one decoded smaller has the
/// source area scaled to match.
pub(super) fn fit(image: DynamicImage, placed: Placement, full: (u32, u32)) -> Result<DynamicImage, CompressError> {
    let (w, h) = (image.width(), image.height());
    if placed.scaled == (w, h) && placed.output == (w, h) {
        return Ok(image);
    }
    let (pixel_type, channels) = match &image {
        DynamicImage::ImageLuma8(_) => (PixelType::U8, 1),
        // Resized premultiplied, so that transparent pixels lend no colour to their neighbours.
        DynamicImage::ImageRgba8(_) => (PixelType::U8x4, 4),
        _ => (PixelType::U8x3, 3),
    };
    let err = |e: &dyn std::fmt::Display| CompressError::Encode(format!("resizing: {e}"));
    let scaled = {
        let src = ImageRef::new(w, h, image.as_bytes(), pixel_type).map_err(|e| err(&e))?;
        let (sw, sh) = placed.scaled;
        let mut dst = FirImage::new(sw, sh, pixel_type);
        let (x, y, cw, ch) = placed.source;
        let (kx, ky) = (f64::from(w) / f64::from(full.0.max(1)), f64::from(h) / f64::from(full.1.max(1)));
        let (cx, cy) = (f64::from(x) * kx, f64::from(y) * ky);
        let (cw, ch) = ((f64::from(cw) * kx).min(f64::from(w) - cx), (f64::from(ch) * ky).min(f64::from(h) - cy));
        let options =
            ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3)).crop(cx, cy, cw, ch);
        Resizer::new().resize(&src, &mut dst, &options).map_err(|e| err(&e))?;
        dst.into_vec()
    };
    drop(image);
    let (sw, sh) = placed.scaled;
    let (ow, oh) = placed.output;
    let pixels = match placed.output == placed.scaled {
        true => scaled,
        false => pad(&scaled, (sw, sh), (ow, oh), channels),
    };
    let made = match channels {
        1 => ImageBuffer::from_raw(ow, oh, pixels).map(DynamicImage::ImageLuma8),
        4 => ImageBuffer::from_raw(ow, oh, pixels).map(DynamicImage::ImageRgba8),
        _ => ImageBuffer::from_raw(ow, oh, pixels).map(DynamicImage::ImageRgb8),
    };
    made.ok_or_else(|| err(&"pixel buffer size mismatch"))
}

/// `pixels` (`size`) centred on a white canvas of `canvas`.
fn pad(pixels: &[u8], size: (u32, u32), canvas: (u32, u32), channels: usize) -> Vec<u8> {
    let (w, h) = (size.0 as usize, size.1 as usize);
    let (cw, ch) = (canvas.0 as usize, canvas.1 as usize);
    let mut out = vec![255u8; cw * ch * channels];
    let (x0, y0) = ((cw - w) / 2, (ch - h) / 2);
    for row in 0..h {
        let from = &pixels[row * w * channels..(row + 1) * w * channels];
        let at = ((y0 + row) * cw + x0) * channels;
        out[at..at + w * channels].copy_from_slice(from);
    }
    out
}
