//! Tests of the decoding limits with hostile files made in code: a PNG whose ICC profile
//! inflates to 1 GiB, headers claiming huge images in every format, oversized metadata.

use std::io::Cursor;
use std::time::{Duration, Instant};

use super::jpeg::with_icc;
use super::*;
use image::codecs::{gif::GifEncoder, png::PngEncoder, webp::WebPEncoder};
use image::{ExtendedColorType, Frame, ImageDecoder, ImageEncoder, ImageFormat, Rgba, RgbaImage};

pub(super) fn q() -> Quality {
    Quality::new(50).unwrap()
}

/// Each of `cores` decodes at once with an equal share of the budget, at the default pixel limit.
pub(super) fn share(cores: u64) -> Limits {
    Limits {
        max_pixels: 50_000_000,
        max_alloc_bytes: DECODE_MEMORY_BUDGET / cores,
        pool: None,
        full_size_decode: false,
    }
}

/// Limits of 256 MiB per decode.
pub(super) fn two_cores() -> Limits {
    share(2)
}

pub(super) fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

pub(super) fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let body = [&kind[..], data].concat();
    [&(data.len() as u32).to_be_bytes()[..], &body, &crc32(&body).to_be_bytes()].concat()
}

/// A PNG of `image` with `extra` chunks inserted right after IHDR.
pub(super) fn png_with(image: &DynamicImage, extra: &[Vec<u8>]) -> Vec<u8> {
    let mut png = Vec::new();
    let color = ExtendedColorType::from(image.color());
    PngEncoder::new(&mut png).write_image(image.as_bytes(), image.width(), image.height(), color).unwrap();
    [&png[..33], &extra.concat(), &png[33..]].concat()
}

struct BitWriter {
    out: Vec<u8>,
    bits: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, n: u32) {
        for i in 0..n {
            if self.bits.is_multiple_of(8) {
                self.out.push(0);
            }
            *self.out.last_mut().unwrap() |= (((value >> i) & 1) as u8) << (self.bits % 8);
            self.bits = (self.bits + 1) % 8;
        }
    }

    /// A Huffman code, written from its most significant bit.
    fn code(&mut self, code: u32, len: u32) {
        (0..len).rev().for_each(|i| self.put(code >> i & 1, 1));
    }
}

/// A zlib stream inflating to `total` zero bytes (`total` ≡ 1 mod 258): one literal, then
/// matches of 258 at distance 1 coded in 2 bits each, DEFLATE's best ratio (1032:1).
pub(super) fn zlib_bomb(total: u64) -> Vec<u8> {
    assert_eq!(total % 258, 1);
    let mut w = BitWriter { out: vec![0x78, 0x01], bits: 0 };
    w.put(1, 1); // last block
    w.put(2, 2); // dynamic Huffman codes
    w.put(286 - 257, 5);
    w.put(2 - 1, 5);
    w.put(18 - 4, 4);
    // Code-length code: 18 → 0, 1 → 10, 2 → 11, in the order DEFLATE sends the lengths.
    for symbol in [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1] {
        w.put(
            match symbol {
                18 => 1,
                1 | 2 => 2,
                _ => 0,
            },
            3,
        );
    }
    // Literal/length lengths: 0 → 2, 256 → 2, 285 → 1; distance codes 0 and 1 → 1.
    w.code(0b11, 2); // length 2 (literal 0)
    for run in [138, 117] {
        w.code(0, 1);
        w.put(run - 11, 7);
    }
    w.code(0b11, 2); // length 2 (end of block)
    w.code(0, 1);
    w.put(28 - 11, 7);
    (0..3).for_each(|_| w.code(0b10, 2)); // length 1: 285, distance 0, distance 1
    // Codes: 285 → 0, literal 0 → 10, end → 11; distance 1 → 0.
    w.code(0b10, 2);
    for _ in 0..total / 258 {
        w.put(0, 2);
    }
    w.code(0b11, 2);
    let adler = (((total % 65_521) as u32) << 16) | 1;
    [w.out, adler.to_be_bytes().to_vec()].concat()
}

pub(super) fn iccp(zlib: &[u8]) -> Vec<u8> {
    chunk(b"iCCP", &[b"bomb\0\0".as_slice(), zlib].concat())
}

pub(super) fn tiny_rgb() -> DynamicImage {
    DynamicImage::ImageRgb8(image::RgbImage::from_fn(8, 8, |x, y| image::Rgb([x as u8 * 30, y as u8 * 30, 9])))
}

/// A 1×1 16-bit RGBA PNG whose header says `width`×`height`.
pub(super) fn claimed_rgba16_png(width: u32, height: u32) -> Vec<u8> {
    let one = DynamicImage::ImageRgba16(image::ImageBuffer::from_pixel(1, 1, Rgba([1u16, 2, 3, 4])));
    let png = png_with(&one, &[]);
    let ihdr = [&width.to_be_bytes()[..], &height.to_be_bytes(), &png[24..29]].concat();
    [&png[..8], &chunk(b"IHDR", &ihdr), &png[33..]].concat()
}

fn icc(len: usize) -> Vec<u8> {
    let mut profile: Vec<u8> = (0..len).map(|i| (i % 7) as u8).collect();
    profile[16..20].copy_from_slice(b"RGB ");
    profile
}

fn small_jpeg(subsamp: Subsamp) -> Vec<u8> {
    let pixels = tiny_rgb().into_rgb8().into_raw();
    let mut c = Compressor::new().unwrap();
    c.set_subsamp(subsamp).unwrap();
    c.compress_to_vec(Image { pixels: &pixels[..], width: 8, pitch: 24, height: 8, format: PixelFormat::RGB }).unwrap()
}

pub(super) fn claimed_jpeg(width: u16, height: u16) -> Vec<u8> {
    let mut jpeg = small_jpeg(Subsamp::None);
    let sof = jpeg.windows(2).position(|m| m == [0xFF, 0xC0]).unwrap();
    jpeg[sof + 5..sof + 9].copy_from_slice(&[height.to_be_bytes(), width.to_be_bytes()].concat());
    jpeg
}

pub(super) fn claimed_gif(width: u16, height: u16) -> Vec<u8> {
    let mut gif = Vec::new();
    GifEncoder::new(&mut gif).encode_frames([Frame::new(RgbaImage::from_pixel(4, 4, Rgba([9, 9, 9, 255])))]).unwrap();
    gif[6..10].copy_from_slice(&[width.to_le_bytes(), height.to_le_bytes()].concat());
    gif
}

fn lossless_webp() -> Vec<u8> {
    let mut webp = Vec::new();
    WebPEncoder::new_lossless(&mut webp).write_image(&[7; 4 * 4 * 3], 4, 4, ExtendedColorType::Rgb8).unwrap();
    webp
}

pub(super) fn claimed_webp(width: u32, height: u32) -> Vec<u8> {
    let mut webp = lossless_webp();
    assert_eq!(&webp[12..16], b"VP8L");
    let bits = u32::from_le_bytes(webp[21..25].try_into().unwrap()) & !((1 << 28) - 1);
    webp[21..25].copy_from_slice(&(bits | (width - 1) | ((height - 1) << 14)).to_le_bytes());
    webp
}

fn timed(input: &[u8], limits: &Limits) -> (CompressError, Duration) {
    let start = Instant::now();
    let err = compress(input, q(), limits).unwrap_err();
    (err, start.elapsed())
}

#[test]
fn the_inflated_size_counter_agrees_with_the_png_crate() {
    // The bomb builder makes a stream the png crate inflates to exactly its size.
    let zlib = zlib_bomb(258 * 1_000 + 1);
    let png = png_with(&tiny_rgb(), &[iccp(&zlib)]);
    let mut decoder = image::ImageReader::with_format(Cursor::new(&png), ImageFormat::Png).into_decoder().unwrap();
    assert_eq!(decoder.icc_profile().unwrap().map(|p| p.len()), Some(258_001));
    assert!(inflate::inflates_beyond(&zlib, 258_000) && !inflate::inflates_beyond(&zlib, 258_001));
    // And a real encoder's dynamic Huffman stream, from the png crate's own compressor.
    let mut real = Vec::new();
    let mut encoder = PngEncoder::new(&mut real);
    encoder.set_icc_profile(icc(70_000)).unwrap();
    encoder.write_image(tiny_rgb().as_bytes(), 8, 8, ExtendedColorType::Rgb8).unwrap();
    let at = real.windows(4).position(|w| w == b"iCCP").unwrap();
    let len = u32::from_be_bytes(real[at - 4..at].try_into().unwrap()) as usize;
    let data = &real[at + 4..at + 4 + len];
    let zlib = &data[data.iter().position(|&b| b == 0).unwrap() + 2..];
    assert!(inflate::inflates_beyond(zlib, 69_999) && !inflate::inflates_beyond(zlib, 70_000));
    assert!(!inflate::inflates_beyond(&zlib[..zlib.len() / 2], 70_000), "a truncated stream is not over");
}

#[test]
fn a_png_whose_icc_profile_inflates_to_1_gib_is_refused_before_inflating() {
    let zlib = zlib_bomb(258 * 4_161_791 + 1);
    assert!(zlib.len() < 1_050_000, "{} bytes of zlib", zlib.len());
    let png = png_with(&tiny_rgb(), &[iccp(&zlib)]);
    let (err, took) = timed(&png, &two_cores());
    assert!(matches!(err, CompressError::MetadataTooLarge { what: "ICC profile", .. }), "{err}");
    assert_eq!(err.to_string(), "the image's ICC profile is larger than 1 MiB");
    // Inflating 1 GiB takes seconds even optimised; refusing takes a scan of the chunk headers.
    println!("1 GiB iCCP bomb ({} bytes) refused in {took:?}", png.len());
    assert!(took < Duration::from_millis(500), "{took:?}");
}

#[test]
fn an_icc_profile_of_1_mib_is_kept_and_one_byte_more_is_refused() {
    let jpeg = small_jpeg(Subsamp::Sub2x2);
    let png = |profile: Vec<u8>| {
        let mut out = Vec::new();
        let mut encoder = PngEncoder::new(&mut out);
        encoder.set_icc_profile(profile).unwrap();
        encoder.write_image(tiny_rgb().as_bytes(), 8, 8, ExtendedColorType::Rgb8).unwrap();
        out
    };
    for input in [png(icc(1 << 20)), with_icc(&jpeg, &icc(1 << 20))] {
        let out = compress(&input, q(), &two_cores()).unwrap();
        assert_eq!(jpeg::read_jpeg_markers(&out.bytes).icc, Some(icc(1 << 20)));
    }
    for input in [png(icc((1 << 20) + 1)), with_icc(&jpeg, &icc((1 << 20) + 1))] {
        let err = compress(&input, q(), &two_cores()).unwrap_err();
        assert_eq!(err.to_string(), "the image's ICC profile is larger than 1 MiB");
    }
}

#[test]
fn a_16_bit_rgba_png_claiming_the_pixel_limit_is_refused_before_decoding() {
    let png = claimed_rgba16_png(10_000, 5_000);
    // One core's share (512 MiB) holds the 400 MB decoded buffer but not its 8-bit copy and the
    // encoder's buffers: 8 + 4 bytes per pixel.
    let (err, took) = timed(&png, &share(1));
    let CompressError::TooMuchMemory { needed, limit } = err else { panic!("{err}") };
    assert!(needed >= 12 * 50_000_000 && limit == 512 << 20, "{needed} {limit}");
    assert_eq!(err.to_string(), format!("decoding needs {needed} bytes; the limit is {limit}"));
    assert!(took < Duration::from_millis(100), "{took:?}");
    // Smaller shares do not even hold the decoded buffer: refused as too many pixels for them.
    for cores in [2, 16] {
        let (err, took) = timed(&png, &share(cores));
        assert!(matches!(err, CompressError::TooManyPixels { pixels: 50_000_000, .. }), "{err}");
        assert!(took < Duration::from_millis(100), "{took:?}");
    }
}

#[test]
fn headers_claiming_too_much_memory_are_refused_in_every_format() {
    let inputs = [claimed_jpeg(7_000, 7_000), claimed_gif(7_000, 7_000), claimed_webp(7_000, 7_000)];
    for input in &inputs {
        let (err, took) = timed(input, &two_cores());
        assert!(matches!(err, CompressError::TooMuchMemory { limit: 268_435_456, .. }), "{err}");
        assert!(took < Duration::from_millis(100), "{took:?}");
    }
    // With room, the same files get past the check: the JPEG and WebP then fail on their
    // missing data, the GIF (one small frame on a large screen) is valid.
    let roomy = Limits { max_alloc_bytes: 1 << 40, ..two_cores() };
    for input in &inputs {
        let err = compress(input, q(), &roomy).err();
        assert!(!matches!(err, Some(CompressError::TooMuchMemory { .. })), "{err:?}");
    }
}

#[test]
fn oversized_metadata_is_refused_in_png_webp_and_jpeg() {
    let big = vec![b'x'; (1 << 20) + 1];
    let exif = png_with(&tiny_rgb(), &[chunk(b"eXIf", &big)]);
    let text = png_with(&tiny_rgb(), &[chunk(b"tEXt", &big[..600_000]), chunk(b"zTXt", &big[..600_000])]);
    let webp = lossless_webp();
    // A WebP ICCP chunk that declares 1 GiB and carries nothing: refused on the declaration.
    let vp8x = [&b"VP8X"[..], &10u32.to_le_bytes(), &[0x20, 0, 0, 0, 3, 0, 0, 3, 0, 0]].concat();
    let lying = [&webp[..12], &vp8x, b"ICCP", &(1u32 << 30).to_le_bytes(), &webp[12..]].concat();
    let cases = [(exif, "EXIF block"), (text, "text metadata"), (lying, "ICC profile")];
    for (input, what) in cases {
        let (err, took) = timed(&input, &two_cores());
        assert_eq!(err.to_string(), format!("the image's {what} is larger than 1 MiB"));
        assert!(took < Duration::from_millis(100), "{took:?}");
    }
}

#[test]
fn a_pooled_decode_holds_its_estimate_from_the_pool_until_it_is_done() {
    let pool = std::sync::Arc::new(MemoryPool::new(DECODE_MEMORY_BUDGET));
    let limits = Limits::pooled(50_000_000, pool.clone());
    assert_eq!(limits.max_alloc_bytes, DECODE_MEMORY_BUDGET, "one decode may take the whole pool");
    let input = claimed_rgba16_png(10_000, 5_000);
    assert!(matches!(compress(&input, q(), &limits), Err(CompressError::TooMuchMemory { .. })));
    assert_eq!(pool.in_use(), 0, "a refused image holds nothing");
    let mut out = Cursor::new(Vec::new());
    RgbaImage::new(64, 64).write_to(&mut out, ImageFormat::Png).unwrap();
    compress(out.get_ref(), q(), &limits).unwrap();
    assert_eq!(pool.in_use(), 0, "a finished decode gives its memory back");
}
