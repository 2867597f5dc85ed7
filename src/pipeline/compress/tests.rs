//! Tests of `compress`, with every fixture made in code.

use super::jpeg::read_jpeg_markers;
use super::*;
use image::codecs::{gif::GifEncoder, png::PngEncoder, webp::WebPEncoder};
use image::{ExtendedColorType, Frame, ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};
use turbojpeg::Colorspace;

pub(super) fn q(n: i64) -> Quality {
    Quality::new(n).unwrap()
}

pub(super) const LIMITS: Limits =
    Limits { max_pixels: 50_000_000, max_alloc_bytes: 512 << 20, pool: None, full_size_decode: false };

pub(super) fn noisy(width: u32, height: u32) -> RgbImage {
    let mut seed = 0x2545_F491_u32;
    RgbImage::from_fn(width, height, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        Rgb([(x * 2) as u8, (y as u8) ^ (seed >> 24) as u8, (seed >> 16) as u8])
    })
}

fn jpeg(pixels: &[u8], width: usize, height: usize, format: PixelFormat, quality: i32, subsamp: Subsamp) -> Vec<u8> {
    let mut c = Compressor::new().unwrap();
    c.set_quality(quality).unwrap();
    c.set_subsamp(subsamp).unwrap();
    let image = Image { pixels, width, pitch: width * format.size(), height, format };
    c.compress_to_vec(image).unwrap()
}

pub(super) fn rgb_jpeg(image: &RgbImage, quality: i32, subsamp: Subsamp) -> Vec<u8> {
    jpeg(image.as_raw(), image.width() as usize, image.height() as usize, PixelFormat::RGB, quality, subsamp)
}

pub(super) fn png(image: &DynamicImage, icc: Option<Vec<u8>>, exif: Option<Vec<u8>>) -> Vec<u8> {
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

pub(super) fn insert_after_soi(jpeg: &[u8], segment: &[u8]) -> Vec<u8> {
    [&jpeg[..2], segment, &jpeg[2..]].concat()
}

pub(super) fn decode_rgb(jpeg: &[u8]) -> RgbImage {
    let image: turbojpeg::Image<Vec<u8>> = turbojpeg::decompress(jpeg, PixelFormat::RGB).unwrap();
    RgbImage::from_raw(image.width as u32, image.height as u32, image.pixels).unwrap()
}

fn assert_close(actual: &[u8], expected: &[u8]) {
    let close = actual.iter().zip(expected).all(|(a, e)| a.abs_diff(*e) <= 6);
    assert!(close, "got {actual:?}, expected about {expected:?}");
}

pub(super) fn exif_orientation_segment(orientation: u8) -> Vec<u8> {
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
    assert!(matches!(compress(b"<html></html>", q(50), &LIMITS), Err(CompressError::NotAnImage)));
}

#[test]
fn a_jpeg_is_reencoded_as_baseline_4_2_0_with_optimised_huffman_tables() {
    let input = rgb_jpeg(&noisy(160, 120), 95, Subsamp::None);
    let out = compress(&input, q(50), &LIMITS).unwrap();
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
    let out = compress(&input, q(95), &LIMITS).unwrap();
    assert!(out.kept_input);
    assert_eq!(out.bytes, input);
    assert_eq!((out.width, out.height), (64, 64));
}

#[test]
fn a_grayscale_jpeg_stays_grayscale() {
    let gray: Vec<u8> = (0..64 * 48).map(|i| (i % 256) as u8).collect();
    let input = jpeg(&gray, 64, 48, PixelFormat::GRAY, 100, Subsamp::Gray);
    let out = compress(&input, q(50), &LIMITS).unwrap();
    assert!(!out.kept_input);
    assert_eq!(turbojpeg::read_header(&out.bytes).unwrap().colorspace, Colorspace::Gray);
}

#[test]
fn exif_orientation_6_turns_a_jpeg_upright_and_drops_the_exif() {
    // Stored 64x32: top half red, bottom half blue. Orientation 6 means rotate 90° clockwise.
    let stored = RgbImage::from_fn(64, 32, |_, y| if y < 16 { Rgb([255, 0, 0]) } else { Rgb([0, 0, 255]) });
    let input = insert_after_soi(&rgb_jpeg(&stored, 100, Subsamp::None), &exif_orientation_segment(6));
    let out = compress(&input, q(90), &LIMITS).unwrap();
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
    let out = compress(&input, q(90), &LIMITS).unwrap();
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
    let out = compress(&input, q(90), &LIMITS).unwrap();
    assert_close(&decode_rgb(&out.bytes).get_pixel(16, 16).0, &[255, 0, 0]);
}

#[test]
fn a_jpeg_icc_profile_is_copied_to_the_output_byte_for_byte() {
    let profile = rgb_profile(70_000);
    let input = with_icc(&rgb_jpeg(&noisy(200, 150), 95, Subsamp::None), &profile);
    assert_eq!(read_jpeg_markers(&input).icc.as_deref(), Some(&profile[..]));
    let out = compress(&input, q(50), &LIMITS).unwrap();
    assert!(!out.kept_input);
    assert_eq!(out.bytes[..4], [0xFF, 0xD8, 0xFF, 0xE2]);
    assert_eq!(read_jpeg_markers(&out.bytes).icc, Some(profile));
    decode_rgb(&out.bytes);
}

#[test]
fn a_png_icc_profile_is_copied_and_a_mismatched_one_is_dropped() {
    let image = DynamicImage::ImageRgb8(noisy(40, 30));
    let profile = rgb_profile(3_000);
    let out = compress(&png(&image, Some(profile.clone()), None), q(80), &LIMITS).unwrap();
    assert_eq!(read_jpeg_markers(&out.bytes).icc, Some(profile.clone()));
    let gray = DynamicImage::ImageLuma8(image.to_luma8());
    let out = compress(&png(&gray, Some(profile), None), q(80), &LIMITS).unwrap();
    assert_eq!(read_jpeg_markers(&out.bytes).icc, None);
}

#[test]
fn a_fully_transparent_png_becomes_white() {
    let image = DynamicImage::ImageRgba8(RgbaImage::from_pixel(24, 24, Rgba([0, 0, 0, 0])));
    let out = compress(&png(&image, None, None), q(90), &LIMITS).unwrap();
    assert_eq!((out.input_kind, out.width, out.kept_input), (ImageKind::Png, 24, false));
    assert!(decode_rgb(&out.bytes).pixels().all(|p| p.0.iter().all(|&v| v >= 250)));
}

#[test]
fn a_half_transparent_black_pixel_becomes_mid_grey() {
    let image = DynamicImage::ImageRgba8(RgbaImage::from_pixel(16, 16, Rgba([0, 0, 0, 128])));
    let out = compress(&png(&image, None, None), q(95), &LIMITS).unwrap();
    assert_close(&decode_rgb(&out.bytes).get_pixel(8, 8).0, &[127, 127, 127]);
    assert_eq!(flatten_alpha(vec![0, 128, 200, 255, 10, 0], 2), vec![127, 200, 255]);
}

#[test]
fn a_png_exif_orientation_is_applied() {
    let stored = RgbImage::from_fn(64, 32, |_, y| if y < 16 { Rgb([255, 0, 0]) } else { Rgb([0, 0, 255]) });
    let exif = exif_orientation_segment(8)[10..].to_vec();
    let out = compress(&png(&stored.into(), None, Some(exif)), q(90), &LIMITS).unwrap();
    assert_eq!((out.width, out.height), (32, 64));
    // Orientation 8 rotates 90° counter-clockwise, so the stored top lands on the left.
    assert_close(&decode_rgb(&out.bytes).get_pixel(3, 32).0, &[255, 0, 0]);
}

#[test]
fn a_gif_is_encoded_from_its_first_frame() {
    let mut gif = Vec::new();
    let frames = [[255, 0, 0, 255], [0, 0, 255, 255]].map(|c| Frame::new(RgbaImage::from_pixel(16, 16, Rgba(c))));
    GifEncoder::new(&mut gif).encode_frames(frames).unwrap();
    let out = compress(&gif, q(90), &LIMITS).unwrap();
    assert_eq!(out.input_kind, ImageKind::Gif);
    assert_close(&decode_rgb(&out.bytes).get_pixel(8, 8).0, &[255, 0, 0]);
}

#[test]
fn a_lossless_webp_is_decoded() {
    let image = noisy(30, 20);
    let mut webp = Vec::new();
    WebPEncoder::new_lossless(&mut webp).write_image(image.as_raw(), 30, 20, ExtendedColorType::Rgb8).unwrap();
    let out = compress(&webp, q(90), &LIMITS).unwrap();
    assert_eq!((out.input_kind, out.width, out.height), (ImageKind::WebP, 30, 20));
}

#[test]
fn images_over_the_limits_are_refused_before_decoding() {
    let jpeg = rgb_jpeg(&noisy(100, 100), 80, Subsamp::Sub2x2);
    let png = png(&DynamicImage::ImageRgb8(noisy(100, 100)), None, None);
    let few_pixels = Limits { max_pixels: 9_999, max_alloc_bytes: 1 << 30, pool: None, full_size_decode: false };
    let little_memory = Limits { max_pixels: 1 << 30, max_alloc_bytes: 29_999, pool: None, full_size_decode: false };
    for input in [&jpeg, &png] {
        let err = compress(input, q(50), &few_pixels).unwrap_err();
        assert!(matches!(err, CompressError::TooManyPixels { pixels: 10_000, limit: 9_999, .. }), "{err}");
        let err = compress(input, q(50), &little_memory).unwrap_err();
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
            let _ = compress(&file[..len], q(50), &LIMITS);
        }
        let mut corrupt = file.clone();
        for i in (file.len() / 3..file.len()).step_by(5) {
            corrupt[i] ^= 0x5A;
        }
        let _ = compress(&corrupt, q(50), &LIMITS);
    }
    let half = compress(&jpeg[..jpeg.len() / 2], q(50), &LIMITS).unwrap_err();
    assert!(matches!(half, CompressError::Decode { kind: "JPEG", .. }), "{half}");
    let mut seed = 7u64;
    for round in 0..400 {
        let noise: Vec<u8> = (0..round * 3)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (seed >> 56) as u8
            })
            .collect();
        let magic: &[u8] = [&b"\xFF\xD8\xFF"[..], b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\0\0\0\0WEBP", b""][round % 5];
        assert!(compress(&[magic, &noise].concat(), q(50), &LIMITS).is_err());
    }
}
