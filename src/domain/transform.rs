//! What a request asks done to each image besides recompressing it: the box to fit it in, how,
//! and the output format. Checked once where it enters (an upload's fields) and trusted after.

use std::{fmt, str::FromStr};

use sea_orm::DeriveValueType;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The largest box side accepted.
pub const MAX_BOX_SIDE: u32 = 10_000;

/// How an image goes into its box.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, DeriveValueType)]
#[serde(rename_all = "snake_case")]
#[sea_orm(value_type = "String")]
pub enum Fit {
    /// Scaled down to fit inside the box, aspect ratio kept, never scaled up.
    #[default]
    Inside,
    /// Scaled and centre-cropped to exactly the box (a thumbnail).
    Cover,
    /// Fitted inside the box (never scaled up) and padded with white to exactly the box.
    Contain,
}

/// A stored or given name that is not one of the known ones.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct BadOption(pub String);

impl Fit {
    /// The name as given and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inside => "inside",
            Self::Cover => "cover",
            Self::Contain => "contain",
        }
    }
}

impl FromStr for Fit {
    type Err = BadOption;
    fn from_str(s: &str) -> Result<Self, BadOption> {
        match s.trim() {
            "inside" => Ok(Self::Inside),
            "cover" => Ok(Self::Cover),
            "contain" => Ok(Self::Contain),
            other => Err(BadOption(format!("fit must be one of inside, cover, contain, got {other:?}"))),
        }
    }
}

impl fmt::Display for Fit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The format images are written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, DeriveValueType)]
#[serde(rename_all = "snake_case")]
#[sea_orm(value_type = "String")]
pub enum OutputFormat {
    /// Baseline JPEG through libjpeg-turbo; alpha is flattened onto white.
    #[default]
    Jpeg,
    /// Lossy WebP through libwebp; alpha is kept.
    Webp,
    /// PNG; lossless, alpha kept, `quality` not used.
    Png,
}

impl OutputFormat {
    /// The name as given and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Webp => "webp",
            Self::Png => "png",
        }
    }

    /// The file extension of its outputs.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Webp => "webp",
            Self::Png => "png",
        }
    }

    /// The format of a file extension.
    pub fn from_extension(ext: &str) -> Option<Self> {
        [Self::Jpeg, Self::Webp, Self::Png].into_iter().find(|f| f.extension() == ext)
    }

    /// Its media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
            Self::Png => "image/png",
        }
    }

    /// True when transparency survives it.
    pub fn keeps_alpha(self) -> bool {
        self != Self::Jpeg
    }
}

impl FromStr for OutputFormat {
    type Err = BadOption;
    fn from_str(s: &str) -> Result<Self, BadOption> {
        match s.trim() {
            "jpeg" | "jpg" => Ok(Self::Jpeg),
            "webp" => Ok(Self::Webp),
            "png" => Ok(Self::Png),
            other => Err(BadOption(format!("format must be one of jpeg, webp, png, got {other:?}"))),
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The box, fit and format of a request; no box leaves images their size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"width": 800, "height": null, "fit": "inside", "format": "webp"}))]
pub struct Transform {
    /// Box width.
    pub width: Option<u32>,
    /// Box height.
    pub height: Option<u32>,
    /// How the image goes into the box.
    pub fit: Fit,
    /// What it is written as.
    pub format: OutputFormat,
}

/// The form fields a transform is read from (absent ones are `None`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Fields<'a> {
    /// `width`.
    pub width: Option<&'a str>,
    /// `height`.
    pub height: Option<&'a str>,
    /// `fit`.
    pub fit: Option<&'a str>,
    /// `format`.
    pub format: Option<&'a str>,
}

/// Where a `w`×`h` image (upright) ends up: scaled to `scaled` (cropped to `cropped_to` when it
/// overflows, for `cover`), then placed centred on a white `canvas` (for `contain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// The size the image is scaled to.
    pub scaled: (u32, u32),
    /// The part of the source, centred, that is scaled (all of it but for `cover`).
    pub source: (u32, u32, u32, u32),
    /// The output's size.
    pub output: (u32, u32),
}

impl Transform {
    /// Reads the fields of a form; the error names the field and what it may be.
    pub fn from_fields(fields: Fields<'_>) -> Result<Self, BadOption> {
        let Fields { width, height, fit, format } = fields;
        let side = |name: &str, v: Option<&str>| -> Result<Option<u32>, BadOption> {
            let Some(v) = v else { return Ok(None) };
            match v.trim().parse::<u32>() {
                Ok(n) if (1..=MAX_BOX_SIDE).contains(&n) => Ok(Some(n)),
                _ => Err(BadOption(format!("{name} must be a whole number from 1 to {MAX_BOX_SIDE}, got {v:?}"))),
            }
        };
        let t = Self {
            width: side("width", width)?,
            height: side("height", height)?,
            fit: fit.map(str::parse).transpose()?.unwrap_or_default(),
            format: format.map(str::parse).transpose()?.unwrap_or_default(),
        };
        if t.fit != Fit::Inside && (t.width.is_none() || t.height.is_none()) {
            return Err(BadOption(format!("fit={} needs both width and height", t.fit)));
        }
        Ok(t)
    }

    /// True when images keep their size.
    pub fn is_identity(&self) -> bool {
        self.width.is_none() && self.height.is_none()
    }

    /// Where an upright `w`×`h` image ends up.
    pub fn place(&self, w: u32, h: u32) -> Placement {
        let whole = (0, 0, w, h);
        let (bw, bh) = (self.width.unwrap_or(u32::MAX), self.height.unwrap_or(u32::MAX));
        let fit_inside = || {
            let scale = (f64::from(bw) / f64::from(w)).min(f64::from(bh) / f64::from(h)).min(1.0);
            let side = |n: u32, limit: u32| ((f64::from(n) * scale).round() as u32).clamp(1, limit.max(1));
            (side(w, bw), side(h, bh))
        };
        match self.fit {
            _ if self.is_identity() => Placement { scaled: (w, h), source: whole, output: (w, h) },
            Fit::Inside => {
                let scaled = fit_inside();
                Placement { scaled, source: whole, output: scaled }
            }
            Fit::Contain => Placement { scaled: fit_inside(), source: whole, output: (bw, bh) },
            Fit::Cover => {
                // The largest centred part of the source with the box's aspect ratio.
                let (sw, sh) = if u64::from(w) * u64::from(bh) > u64::from(h) * u64::from(bw) {
                    (((u64::from(h) * u64::from(bw)) / u64::from(bh)).max(1) as u32, h)
                } else {
                    (w, ((u64::from(w) * u64::from(bh)) / u64::from(bw)).max(1) as u32)
                };
                let source = ((w - sw) / 2, (h - sh) / 2, sw, sh);
                Placement { scaled: (bw, bh), source, output: (bw, bh) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(w: Option<u32>, h: Option<u32>, fit: Fit) -> Transform {
        Transform { width: w, height: h, fit, format: OutputFormat::Jpeg }
    }

    fn from(width: Option<&str>, height: Option<&str>, fit: Option<&str>) -> Result<Transform, BadOption> {
        Transform::from_fields(Fields { width, height, fit, format: None })
    }

    #[test]
    fn options_are_checked_and_name_what_is_allowed() {
        assert_eq!(from(None, None, None).unwrap(), Transform::default());
        assert_eq!(from(Some("800"), None, None).unwrap().width, Some(800));
        let webp = Transform::from_fields(Fields { format: Some("webp"), ..Default::default() }).unwrap();
        assert_eq!(
            (webp.format, webp.format.extension(), webp.format.content_type()),
            (OutputFormat::Webp, "webp", "image/webp")
        );
        let bad = Transform::from_fields(Fields { format: Some("gif"), ..Default::default() }).unwrap_err().0;
        assert_eq!(bad, "format must be one of jpeg, webp, png, got \"gif\"");
        let e = |w, h, f| from(w, h, f).unwrap_err().0;
        assert_eq!(e(Some("0"), None, None), "width must be a whole number from 1 to 10000, got \"0\"");
        assert_eq!(e(None, Some("10001"), None), "height must be a whole number from 1 to 10000, got \"10001\"");
        assert!(e(Some("1.5"), None, None).starts_with("width must be"));
        assert_eq!(e(Some("10"), Some("10"), Some("fill")), "fit must be one of inside, cover, contain, got \"fill\"");
        assert_eq!(e(Some("10"), None, Some("cover")), "fit=cover needs both width and height");
    }

    #[test]
    fn inside_scales_down_only_and_keeps_the_aspect_ratio() {
        let inside = t(Some(800), Some(800), Fit::Inside);
        assert_eq!(inside.place(4000, 3000).output, (800, 600));
        assert_eq!(inside.place(3000, 4000).output, (600, 800));
        assert_eq!(inside.place(400, 300).output, (400, 300), "never scaled up");
        assert_eq!(t(Some(1000), None, Fit::Inside).place(4000, 3000).output, (1000, 750));
        assert_eq!(t(None, Some(100), Fit::Inside).place(4000, 3000).output, (133, 100));
        assert_eq!(t(Some(1), Some(1), Fit::Inside).place(5000, 10).output, (1, 1), "never below one pixel");
        assert_eq!(Transform::default().place(123, 45).output, (123, 45));
    }

    #[test]
    fn cover_crops_the_centre_to_exactly_the_box_and_contain_pads_to_it() {
        let cover = t(Some(256), Some(256), Fit::Cover);
        let p = cover.place(4000, 3000);
        assert_eq!((p.output, p.scaled, p.source), ((256, 256), (256, 256), (500, 0, 3000, 3000)));
        assert_eq!(cover.place(3000, 4000).source, (0, 500, 3000, 3000));
        assert_eq!(cover.place(100, 50).output, (256, 256), "a small image is scaled up to fill the box");
        let contain = t(Some(300), Some(300), Fit::Contain);
        let p = contain.place(4000, 3000);
        assert_eq!((p.output, p.scaled), ((300, 300), (300, 225)));
        assert_eq!(contain.place(100, 50).scaled, (100, 50), "never scaled up, only padded");
    }

    proptest::proptest! {
        #[test]
        fn no_output_is_larger_than_its_box(w in 1u32..20_000, h in 1u32..20_000, bw in 1u32..=10_000, bh in 1u32..=10_000, fit in 0..3u8) {
            let fit = [Fit::Inside, Fit::Cover, Fit::Contain][fit as usize];
            let p = t(Some(bw), Some(bh), fit).place(w, h);
            proptest::prop_assert!(p.output.0 <= bw && p.output.1 <= bh);
            proptest::prop_assert!(p.scaled.0 <= p.output.0 && p.scaled.1 <= p.output.1);
            proptest::prop_assert!(p.scaled.0 >= 1 && p.scaled.1 >= 1);
            let (x, y, sw, sh) = p.source;
            proptest::prop_assert!(x + sw <= w && y + sh <= h && sw >= 1 && sh >= 1);
        }
    }
}
