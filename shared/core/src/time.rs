//! Timestamps: UTC instants written as RFC 3339 with millisecond precision (`2026-05-25T10:00:00.123Z`).

use std::fmt;

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant, serialized as RFC 3339 with milliseconds and a `Z` suffix.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The current time, truncated to milliseconds so it round-trips through text unchanged.
    pub fn now() -> Self {
        let now = Utc::now();
        Self::from_millis(now.timestamp_millis())
    }

    /// From milliseconds since the Unix epoch (clamped to the representable range).
    pub fn from_millis(millis: i64) -> Self {
        Self(DateTime::from_timestamp_millis(millis).unwrap_or_default())
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// This instant plus `duration` (saturating, in whole milliseconds).
    pub fn after(self, duration: std::time::Duration) -> Self {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Self::from_millis(self.millis().saturating_add(millis))
    }

    /// The underlying chrono value.
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// Parses any RFC 3339 string.
    pub fn parse(text: &str) -> Result<Self, chrono::ParseError> {
        DateTime::parse_from_rfc3339(text).map(|t| Self(t.with_timezone(&Utc)))
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(value: DateTime<Utc>) -> Self {
        Self(value)
    }
}

impl Timestamp {
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` written digit by digit (every event carries one or two, so
    /// chrono's general formatter and its `String` were a visible part of serializing them);
    /// `None` outside years 0–9999 and for a leap second, which chrono writes.
    fn fixed_text(&self) -> Option<[u8; 24]> {
        let (date, time) = (self.0.date_naive(), self.0.time());
        let year = u32::try_from(date.year()).ok().filter(|year| *year <= 9999)?;
        let millis = Some(time.nanosecond() / 1_000_000).filter(|millis| *millis < 1000)?;
        let mut text = *b"0000-00-00T00:00:00.000Z";
        let fields = [
            (0..4, year),
            (5..7, date.month()),
            (8..10, date.day()),
            (11..13, time.hour()),
            (14..16, time.minute()),
            (17..19, time.second()),
            (20..23, millis),
        ];
        for (range, mut value) in fields {
            for digit in text[range].iter_mut().rev() {
                *digit = b"0123456789"[(value % 10) as usize];
                value /= 10;
            }
        }
        Some(text)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.fixed_text() {
            Some(text) => f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?),
            None => f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true)),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_millis_and_z() {
        let t = Timestamp::from_millis(1_748_167_200_123);
        assert_eq!(t.to_string(), "2025-05-25T10:00:00.123Z");
        assert_eq!(Timestamp::parse(&t.to_string()).ok(), Some(t));
    }

    #[test]
    fn writes_what_chrono_writes() {
        let chrono_text = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
        // Every field's width and carry: the epoch, a leap day, a year's last millisecond, year 1
        // and 9999, sub-millisecond nanoseconds, and a walk of odd steps through 2020–2030.
        let mut instants: Vec<DateTime<Utc>> =
            [0, 951_782_400_000, 1_735_689_599_999, -62_135_596_800_000, 253_402_300_799_999]
                .into_iter()
                .filter_map(DateTime::from_timestamp_millis)
                .collect();
        instants.extend(DateTime::from_timestamp(1_700_000_000, 999_999_999));
        let mut millis = 1_577_836_800_000_i64;
        while millis < 1_893_456_000_000 {
            instants.extend(DateTime::from_timestamp_millis(millis));
            millis += 7_919_993_377;
        }
        for instant in instants {
            assert_eq!(Timestamp::from(instant).to_string(), chrono_text(instant), "{instant:?}");
        }
        // Outside the fixed form chrono writes it: a year past 9999, a negative year.
        for millis in [253_402_300_800_000, -62_135_596_800_001] {
            let instant = DateTime::from_timestamp_millis(millis).expect("in range");
            assert_eq!(Timestamp::from(instant).to_string(), chrono_text(instant));
        }
    }
}
