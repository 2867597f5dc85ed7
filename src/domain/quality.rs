//! JPEG and WebP quality, 1–100: checked once where it enters (an upload, a setting, a stored row)
//! and trusted after.

use std::fmt;

use sea_orm::{
    ColIdx, QueryResult, TryGetError, TryGetable, Value,
    sea_query::{ArrayType, ColumnType, Nullable, ValueType, ValueTypeErr},
};
use serde::{Deserialize, Serialize};

/// An encoder quality from 1 (smallest) to 100 (best).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "i64")]
pub struct Quality(u8);

impl From<Quality> for u8 {
    fn from(q: Quality) -> u8 {
        q.0
    }
}

impl TryFrom<i64> for Quality {
    type Error = String;
    fn try_from(n: i64) -> Result<Self, String> {
        Self::new(n).ok_or_else(|| format!("quality must be from 1 to 100, got {n}"))
    }
}

impl Quality {
    /// A quality, if `n` is from 1 to 100.
    pub fn new(n: i64) -> Option<Self> {
        (1..=100).contains(&n).then_some(Self(n as u8))
    }

    /// Parses a form field such as `"60"`.
    pub fn parse(s: &str) -> Result<Self, String> {
        s.trim()
            .parse::<i64>()
            .ok()
            .and_then(Self::new)
            .ok_or_else(|| format!("quality must be a whole number from 1 to 100, got {s:?}"))
    }

    /// The value, 1–100.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Quality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<Quality> for Value {
    fn from(q: Quality) -> Self {
        Value::Int(Some(i32::from(q.0)))
    }
}

impl TryGetable for Quality {
    fn try_get_by<I: ColIdx>(res: &QueryResult, idx: I) -> Result<Self, TryGetError> {
        let n = i32::try_get_by(res, idx)?;
        Self::new(n.into())
            .ok_or_else(|| TryGetError::DbErr(sea_orm::DbErr::Type(format!("stored quality {n} is not from 1 to 100"))))
    }
}

impl ValueType for Quality {
    fn try_from(v: Value) -> Result<Self, ValueTypeErr> {
        let n = <i32 as ValueType>::try_from(v)?;
        Self::new(n.into()).ok_or(ValueTypeErr)
    }
    fn type_name() -> String {
        "Quality".into()
    }
    fn array_type() -> ArrayType {
        ArrayType::Int
    }
    fn column_type() -> ColumnType {
        ColumnType::Integer
    }
}

impl Nullable for Quality {
    fn null() -> Value {
        Value::Int(None)
    }
}

impl sea_orm::IntoActiveValue<Quality> for Quality {
    fn into_active_value(self) -> sea_orm::ActiveValue<Quality> {
        sea_orm::ActiveValue::Set(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_is_from_1_to_100() {
        assert_eq!(Quality::parse(" 60 ").unwrap().get(), 60);
        assert_eq!(Quality::parse("150").unwrap_err(), "quality must be a whole number from 1 to 100, got \"150\"");
        assert!(Quality::parse("0").is_err());
        assert!(Quality::parse("5.5").is_err());
        assert!(Quality::new(100).is_some());
    }
}
