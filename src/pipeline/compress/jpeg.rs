//! The JPEG side of compression: decoding with libjpeg-turbo (gray, RGB, CMYK/YCCK), reading the
//! header segments (EXIF orientation, ICC profile, Adobe marker), and writing an ICC profile.

use image::metadata::Orientation;
use image::{DynamicImage, ImageBuffer};
use turbojpeg::{Colorspace, Decompressor, Image, PixelFormat, ScalingFactor, Subsamp};

use super::budget::{self, Footprint, ICC_LIMIT};
use super::{CompressError, Decoded, ImageKind, Limits, check_size, decode_error, exif, quarter_turn};
use crate::domain::transform::Transform;

pub(super) fn decode_jpeg(input: &[u8], transform: &Transform, limits: &Limits) -> Result<Decoded, CompressError> {
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
    if meta.icc_bytes > ICC_LIMIT {
        return Err(CompressError::MetadataTooLarge { what: "ICC profile", limit: ICC_LIMIT as u64 });
    }
    let orientation = meta.orientation.and_then(Orientation::from_exif).unwrap_or(Orientation::NoTransforms);
    let components: u64 = match header.colorspace {
        Colorspace::Gray => 1,
        Colorspace::CMYK | Colorspace::YCCK => 4,
        Colorspace::RGB | Colorspace::YCbCr => 3,
    };
    // Samples per pixel, times 2: the luma or first plane is full size, the others subsampled.
    let samples_x2 = match header.subsamp {
        Subsamp::Gray => 2,
        Subsamp::Sub2x2 | Subsamp::Sub4x1 | Subsamp::Sub1x4 => 2 + (components - 1),
        Subsamp::Sub2x1 | Subsamp::Sub1x2 => 2 + 2 * (components - 1) / 2,
        _ => 2 * components,
    };
    let footprint = Footprint {
        decoded: format.size() as u64,
        // libjpeg-turbo's whole-image coefficient buffer (2 bytes per sample), which progressive
        // and multi-scan files need; counted for every file, as the header does not say.
        beside: samples_x2,
        held: format.size() as u64,
        gray: format == PixelFormat::GRAY,
        // libjpeg-turbo keeps a copy of every APP2 segment.
        metadata: meta.app2_bytes as u64,
        alpha: false,
    };
    let memory = budget::check(width, height, &footprint, quarter_turn(orientation), transform, limits)?;
    // A small box needs fewer pixels than the file has: libjpeg-turbo decodes at 1/2, 1/4 or 1/8
    // for far less work, and the resize does the rest. (The memory reserved is the full size's.)
    let upright = if quarter_turn(orientation) { (height, width) } else { (width, height) };
    let factor = if limits.full_size_decode { ScalingFactor::ONE } else { scale_for(transform, upright) };
    decompressor.set_scaling_factor(factor).map_err(err)?;
    let scaled = header.scaled(factor);
    let mut out = Image {
        pixels: vec![0u8; scaled.width * scaled.height * format.size()],
        width: scaled.width,
        pitch: scaled.width * format.size(),
        height: scaled.height,
        format,
    };
    decompressor.decompress(input, out.as_deref_mut()).map_err(err)?;
    let mut pixels = out.pixels;
    let (sw, sh) = (scaled.width as u32, scaled.height as u32);
    let image = match format {
        PixelFormat::GRAY => ImageBuffer::from_raw(sw, sh, pixels).map(DynamicImage::ImageLuma8),
        PixelFormat::CMYK => {
            cmyk_to_rgb_in_place(&mut pixels, meta.adobe);
            ImageBuffer::from_raw(sw, sh, pixels).map(DynamicImage::ImageRgb8)
        }
        _ => ImageBuffer::from_raw(sw, sh, pixels).map(DynamicImage::ImageRgb8),
    };
    Ok(Decoded {
        image: image.ok_or_else(|| decode_error(ImageKind::Jpeg, "pixel buffer size mismatch"))?,
        full: (width, height),
        orientation,
        icc: meta.icc,
        _memory: memory,
    })
}

/// The smallest scaling factor whose decode still has at least as many pixels as the box takes
/// from the source (an `upright` image placed by `transform`), so that what is left is a downscale.
pub(super) fn scale_for(transform: &Transform, upright: (u32, u32)) -> ScalingFactor {
    if transform.is_identity() {
        return ScalingFactor::ONE;
    }
    let placed = transform.place(upright.0, upright.1);
    let (_, _, cw, ch) = placed.source;
    let (sw, sh) = placed.scaled;
    [(ScalingFactor::ONE_EIGHTH, 8), (ScalingFactor::ONE_QUARTER, 4), (ScalingFactor::ONE_HALF, 2)]
        .into_iter()
        .find(|&(_, denom)| cw / denom >= sw && ch / denom >= sh)
        .map_or(ScalingFactor::ONE, |(factor, _)| factor)
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

/// What the header segments of a JPEG say.
pub(super) struct JpegMarkers {
    /// EXIF orientation, 1–8.
    pub(super) orientation: Option<u8>,
    /// The ICC profile, reassembled from its APP2 chunks.
    pub(super) icc: Option<Vec<u8>>,
    /// An Adobe APP14 marker is present (CMYK stored inverted).
    pub(super) adobe: bool,
    /// Bytes of ICC profile chunks, complete or not.
    pub(super) icc_bytes: usize,
    /// Bytes of all APP2 segments.
    pub(super) app2_bytes: usize,
}

const ICC_SIGNATURE: &[u8] = b"ICC_PROFILE\0";
pub(super) const ICC_CHUNK: usize = 65_519;

/// Walks the header segments up to the first scan, collecting EXIF orientation, the ICC
/// profile and whether an Adobe APP14 marker is present. Stops quietly at malformed data. A
/// profile over [`ICC_LIMIT`] is measured but not reassembled.
pub(super) fn read_jpeg_markers(data: &[u8]) -> JpegMarkers {
    let mut found = JpegMarkers { orientation: None, icc: None, adobe: false, icc_bytes: 0, app2_bytes: 0 };
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
                found.app2_bytes += payload.len();
                if let Some([seq, count, rest @ ..]) = payload.strip_prefix(ICC_SIGNATURE) {
                    found.icc_bytes += rest.len();
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
    if complete && found.icc_bytes <= ICC_LIMIT {
        found.icc = Some(chunks.iter().flat_map(|c| c.2.iter().copied()).collect());
    }
    found
}

/// Bytes the APP2 ICC_PROFILE segments carrying `profile` take.
pub(super) fn icc_segments_len(profile: &[u8]) -> usize {
    profile.len() + profile.len().div_ceil(ICC_CHUNK) * (4 + ICC_SIGNATURE.len() + 2)
}

/// Writes `profile` as APP2 ICC_PROFILE segments filling `out` ([`icc_segments_len`] bytes).
pub(super) fn write_icc_segments(out: &mut [u8], profile: &[u8]) {
    let count = profile.len().div_ceil(ICC_CHUNK);
    let mut at = 0;
    for (i, chunk) in profile.chunks(ICC_CHUNK).enumerate() {
        let len = (2 + ICC_SIGNATURE.len() + 2 + chunk.len()) as u16;
        for part in [&[0xFF, 0xE2][..], &len.to_be_bytes(), ICC_SIGNATURE, &[(i + 1) as u8, count as u8], chunk] {
            out[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
    }
}

/// Copies `jpeg`, inserting `profile` as APP2 ICC_PROFILE segments right after SOI.
pub(super) fn with_icc(jpeg: &[u8], profile: &[u8]) -> Vec<u8> {
    let mut segments = vec![0; icc_segments_len(profile)];
    write_icc_segments(&mut segments, profile);
    [&jpeg[..2.min(jpeg.len())], &segments, &jpeg[2.min(jpeg.len())..]].concat()
}
