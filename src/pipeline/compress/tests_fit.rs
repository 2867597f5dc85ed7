//! Fitting images to a request's box: exact output sizes for every fit, on landscape, portrait and
//! EXIF-rotated inputs, white padding, and the memory a box may take.

use super::tests::{LIMITS, decode_rgb, exif_orientation_segment, insert_after_soi, noisy, png, q, rgb_jpeg};
use super::*;
use crate::domain::transform::{Fit, OutputFormat};

fn boxed(width: u32, height: u32, fit: Fit) -> Transform {
    Transform { width: Some(width), height: Some(height), fit, format: OutputFormat::Jpeg }
}

fn size_of(input: &[u8], t: &Transform) -> (u32, u32) {
    let out = compress_to(input, q(80), t, &LIMITS).unwrap();
    let decoded = decode_rgb(&out.bytes);
    assert_eq!((out.width, out.height), decoded.dimensions(), "the reported size is the JPEG's");
    decoded.dimensions()
}

#[test]
fn every_fit_gives_its_exact_size_on_landscape_portrait_and_rotated_inputs() {
    let landscape = rgb_jpeg(&noisy(400, 300), 90, Subsamp::Sub2x2);
    let portrait = rgb_jpeg(&noisy(300, 400), 90, Subsamp::Sub2x2);
    // Stored 400×300 with EXIF orientation 6: upright it is 300×400, a portrait.
    let rotated = insert_after_soi(&landscape, &exif_orientation_segment(6));
    for (name, input, upright) in
        [("landscape", &landscape, (400, 300)), ("portrait", &portrait, (300, 400)), ("rotated", &rotated, (300, 400))]
    {
        let portrait_like = upright.1 > upright.0;
        let inside = size_of(input, &boxed(200, 200, Fit::Inside));
        assert_eq!(inside, if portrait_like { (150, 200) } else { (200, 150) }, "{name} inside");
        assert_eq!(size_of(input, &boxed(64, 64, Fit::Cover)), (64, 64), "{name} cover");
        assert_eq!(size_of(input, &boxed(120, 80, Fit::Cover)), (120, 80), "{name} cover, another ratio");
        assert_eq!(size_of(input, &boxed(200, 200, Fit::Contain)), (200, 200), "{name} contain");
        assert_eq!(size_of(input, &boxed(1000, 1000, Fit::Inside)), upright, "{name}: never scaled up");
        let only_width = Transform { width: Some(100), height: None, fit: Fit::Inside, format: OutputFormat::Jpeg };
        assert_eq!(size_of(input, &only_width).0, 100, "{name}: only the width bounds");
    }
}

#[test]
fn contain_pads_with_white_and_keeps_the_image_centred() {
    let red = image::RgbImage::from_pixel(200, 100, image::Rgb([200, 0, 0]));
    let input = rgb_jpeg(&red, 95, Subsamp::None);
    let out = compress_to(&input, q(95), &boxed(100, 100, Fit::Contain), &LIMITS).unwrap();
    let img = decode_rgb(&out.bytes);
    assert_eq!(img.dimensions(), (100, 100));
    let near = |p: &image::Rgb<u8>, want: [u8; 3]| p.0.iter().zip(want).all(|(a, b)| a.abs_diff(b) < 24);
    assert!(near(img.get_pixel(50, 5), [255, 255, 255]), "top band is white: {:?}", img.get_pixel(50, 5));
    assert!(near(img.get_pixel(50, 94), [255, 255, 255]), "bottom band is white");
    assert!(near(img.get_pixel(50, 50), [200, 0, 0]), "the image is in the middle: {:?}", img.get_pixel(50, 50));
}

#[test]
fn a_png_is_fitted_too_and_a_kept_size_keeps_a_smaller_jpeg_as_is() {
    let input = png(&DynamicImage::ImageRgb8(noisy(90, 60)), None, None);
    assert_eq!(size_of(&input, &boxed(30, 30, Fit::Cover)), (30, 30));
    let small = rgb_jpeg(&noisy(64, 48), 30, Subsamp::Sub2x2);
    let out = compress_to(&small, q(95), &boxed(32, 32, Fit::Inside), &LIMITS).unwrap();
    assert!(!out.kept_input, "a resized image is never the input");
}

#[test]
fn a_box_whose_pixels_would_pass_the_memory_limit_is_refused_before_decoding() {
    let tiny = rgb_jpeg(&noisy(16, 16), 90, Subsamp::Sub2x2);
    let err = compress_to(&tiny, q(80), &boxed(10_000, 10_000, Fit::Cover), &LIMITS).unwrap_err();
    assert!(matches!(err, CompressError::TooMuchMemory { .. }), "{err}");
}

fn as_format(format: OutputFormat, fit: Option<(u32, u32, Fit)>) -> Transform {
    let (width, height, fit) = fit.map_or((None, None, Fit::Inside), |(w, h, f)| (Some(w), Some(h), f));
    Transform { width, height, fit, format }
}

/// A 60×40 PNG, transparent on its left half and opaque red on its right.
fn half_transparent() -> Vec<u8> {
    let img = image::RgbaImage::from_fn(60, 40, |x, _| {
        if x < 30 { image::Rgba([0, 0, 255, 0]) } else { image::Rgba([220, 0, 0, 255]) }
    });
    png(&DynamicImage::ImageRgba8(img), None, None)
}

#[test]
fn webp_and_png_keep_alpha_and_jpeg_flattens_it() {
    let input = half_transparent();
    for format in [OutputFormat::Webp, OutputFormat::Png] {
        let out = compress_to(&input, q(80), &as_format(format, Some((30, 20, Fit::Inside))), &LIMITS).unwrap();
        assert_eq!(out.format, format);
        let kind = if format == OutputFormat::Png { image::ImageFormat::Png } else { image::ImageFormat::WebP };
        let decoded = image::load_from_memory_with_format(&out.bytes, kind).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (30, 20), "{format}");
        assert!(decoded.color().has_alpha(), "{format} keeps alpha");
        let rgba = decoded.to_rgba8();
        assert!(rgba.get_pixel(2, 10).0[3] < 16, "{format}: the left stays transparent: {:?}", rgba.get_pixel(2, 10));
        assert!(rgba.get_pixel(27, 10).0[3] > 240, "{format}: the right stays opaque");
        assert!(rgba.get_pixel(27, 10).0[0] > 180, "{format}: and red: {:?}", rgba.get_pixel(27, 10));
    }
    let jpeg = compress_to(&input, q(90), &as_format(OutputFormat::Jpeg, None), &LIMITS).unwrap();
    let flat = decode_rgb(&jpeg.bytes);
    assert!(flat.get_pixel(5, 20).0.iter().all(|&c| c > 240), "transparent becomes white in JPEG");
}

#[test]
fn jpeg_and_gray_inputs_become_webp_and_png() {
    let photo = rgb_jpeg(&noisy(120, 80), 90, Subsamp::Sub2x2);
    let webp = compress_to(&photo, q(60), &as_format(OutputFormat::Webp, Some((64, 64, Fit::Cover))), &LIMITS).unwrap();
    assert_eq!(&webp.bytes[8..12], b"WEBP");
    let decoded = image::load_from_memory_with_format(&webp.bytes, image::ImageFormat::WebP).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (64, 64));
    let gray = png(&DynamicImage::ImageLuma8(image::GrayImage::from_pixel(10, 10, image::Luma([90]))), None, None);
    for format in [OutputFormat::Webp, OutputFormat::Png] {
        let out = compress_to(&gray, q(80), &as_format(format, None), &LIMITS).unwrap();
        let kind = if format == OutputFormat::Png { image::ImageFormat::Png } else { image::ImageFormat::WebP };
        let decoded = image::load_from_memory_with_format(&out.bytes, kind).unwrap().to_rgb8();
        assert!(
            decoded.get_pixel(5, 5).0.iter().all(|&c| c.abs_diff(90) < 8),
            "{format}: {:?}",
            decoded.get_pixel(5, 5)
        );
    }
}

#[test]
fn small_boxes_decode_a_jpeg_at_the_smallest_scale_that_still_covers_them() {
    use turbojpeg::ScalingFactor;
    let scale = |w, h, t: Transform| super::jpeg::scale_for(&t, (w, h));
    assert_eq!(scale(4000, 3000, boxed(256, 256, Fit::Cover)), ScalingFactor::ONE_EIGHTH);
    assert_eq!(scale(4000, 3000, boxed(1024, 1024, Fit::Inside)), ScalingFactor::ONE_HALF);
    assert_eq!(scale(4000, 3000, boxed(600, 600, Fit::Inside)), ScalingFactor::ONE_QUARTER);
    assert_eq!(scale(4000, 3000, boxed(3000, 3000, Fit::Inside)), ScalingFactor::ONE);
    assert_eq!(scale(4000, 3000, Transform::default()), ScalingFactor::ONE);
}

/// Peak signal-to-noise ratio of two same-size 8-bit buffers, in dB.
fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mse = a.iter().zip(b).map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2)).sum::<f64>() / a.len() as f64;
    10.0 * (255.0 * 255.0 / mse.max(1e-9)).log10()
}

#[test]
fn a_thumbnail_from_a_scaled_decode_matches_the_full_size_path() {
    // Smooth, with edges: what photographs are made of, rather than noise.
    let picture = image::RgbImage::from_fn(1600, 1200, |x, y| {
        let ring = ((x as f64 - 800.0).hypot(y as f64 - 600.0) / 40.0).sin();
        image::Rgb([(x / 7) as u8, (y / 5) as u8, (127.0 + 120.0 * ring) as u8])
    });
    let input = rgb_jpeg(&picture, 92, Subsamp::Sub2x2);
    for t in [boxed(256, 256, Fit::Cover), boxed(300, 300, Fit::Inside), boxed(200, 200, Fit::Contain)] {
        let fast = decode_rgb(&compress_to(&input, q(95), &t, &LIMITS).unwrap().bytes);
        let full = turbojpeg::decompress(&input, PixelFormat::RGB).unwrap();
        let full = image::RgbImage::from_raw(full.width as u32, full.height as u32, full.pixels).unwrap();
        let slow = resize::fit(DynamicImage::ImageRgb8(full), t.place(1600, 1200), (1600, 1200)).unwrap();
        let slow = decode_rgb(&encode(&slow, q(95), None).unwrap());
        assert_eq!(fast.dimensions(), slow.dimensions(), "{t:?}");
        let db = psnr(fast.as_raw(), slow.as_raw());
        assert!(db > 35.0, "{t:?}: {db:.1} dB against the full-size path");
    }
}
