//! Human-friendly quantities in `pipeline.toml`: byte sizes (`"64 MiB"`,
//! `1048576`) and durations (`"30 s"`, `"500 ms"`, `90`).

use serde::{Deserialize, Deserializer, de};
use std::fmt;
use std::time::Duration;

/// Why a size or a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("`{0}` is not a size: write e.g. \"64 MiB\"")]
    NotASize(String),
    #[error("unknown size unit `{unit}` in `{text}`: use B, KiB, MiB, GiB, KB, MB or GB")]
    SizeUnit { unit: String, text: String },
    #[error("`{0}` is not a duration: write e.g. \"30 s\" or \"500 ms\"")]
    NotADuration(String),
    #[error("unknown duration unit `{unit}` in `{text}`: use ms, s, min or h")]
    DurationUnit { unit: String, text: String },
    #[error("`{0}` is out of range")]
    OutOfRange(String),
}

/// A size in bytes. Accepts an integer (bytes) or a string with a unit:
/// `B`, `KB`/`MB`/`GB` (powers of 1000), `KiB`/`MiB`/`GiB`/`TiB` (powers of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(text: &str) -> Result<Self, UnitError> {
        let t = text.trim();
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_')).unwrap_or(t.len());
        let (num, unit) = (t[..split].replace('_', ""), t[split..].trim());
        let value: f64 = num.parse().map_err(|_| UnitError::NotASize(text.to_string()))?;
        let mult: f64 = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 1.0,
            "kb" => 1e3,
            "mb" => 1e6,
            "gb" => 1e9,
            "tb" => 1e12,
            "k" | "kib" => 1024.0,
            "m" | "mib" => 1024f64.powi(2),
            "g" | "gib" => 1024f64.powi(3),
            "t" | "tib" => 1024f64.powi(4),
            _ => return Err(UnitError::SizeUnit { unit: unit.to_string(), text: text.to_string() }),
        };
        let bytes = value * mult;
        if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
            return Err(UnitError::OutOfRange(text.to_string()));
        }
        Ok(ByteSize(bytes.round() as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut v = self.0 as f64;
        let mut i = 0;
        while v >= 1024.0 && i < UNITS.len() - 1 {
            v /= 1024.0;
            i += 1;
        }
        if i == 0 {
            write!(f, "{} B", self.0)
        } else if v.fract() == 0.0 {
            write!(f, "{v} {}", UNITS[i])
        } else {
            write!(f, "{v:.1} {}", UNITS[i])
        }
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as \"64 MiB\" or a number of bytes")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v).map(ByteSize).map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                ByteSize::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A duration. Accepts a number of seconds or a string with a unit: `ms`,
/// `s`, `min`, `h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub Duration);

impl Span {
    pub fn parse(text: &str) -> Result<Self, UnitError> {
        let t = text.trim();
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let value: f64 = t[..split].parse().map_err(|_| UnitError::NotADuration(text.to_string()))?;
        let secs = match t[split..].trim() {
            "ms" => value / 1000.0,
            "" | "s" | "sec" | "secs" => value,
            "m" | "min" | "mins" => value * 60.0,
            "h" => value * 3600.0,
            unit => {
                return Err(UnitError::DurationUnit { unit: unit.to_string(), text: text.to_string() });
            }
        };
        Duration::try_from_secs_f64(secs).map(Span).map_err(|_| UnitError::OutOfRange(text.to_string()))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.as_millis() < 1000 && d.subsec_millis() > 0 {
            write!(f, "{} ms", d.as_millis())
        } else if d.subsec_millis() == 0 {
            write!(f, "{} s", d.as_secs())
        } else {
            write!(f, "{:.1} s", d.as_secs_f64())
        }
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Span;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as \"30 s\" or a number of seconds")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Span, E> {
                u64::try_from(v)
                    .map(|s| Span(Duration::from_secs(s)))
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Span, E> {
                Ok(Span(Duration::from_secs(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Span, E> {
                Duration::try_from_secs_f64(v)
                    .map(Span)
                    .map_err(|_| E::custom("a duration must be a positive number of seconds"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Span, E> {
                Span::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(ByteSize::parse("64 MiB").unwrap().0, 64 << 20);
        assert_eq!(ByteSize::parse("1.5GiB").unwrap().0, 3 << 29);
        assert_eq!(ByteSize::parse("10 MB").unwrap().0, 10_000_000);
        assert_eq!(ByteSize::parse("4_096").unwrap().0, 4096);
        assert!(ByteSize::parse("12 parsecs").unwrap_err().to_string().contains("unknown size unit"));
        assert_eq!(ByteSize(256 << 20).to_string(), "256 MiB");
        assert_eq!(ByteSize(1536).to_string(), "1.5 KiB");
    }

    #[test]
    fn durations() {
        assert_eq!(Span::parse("30 s").unwrap().0, Duration::from_secs(30));
        assert_eq!(Span::parse("250ms").unwrap().0, Duration::from_millis(250));
        assert_eq!(Span::parse("2 min").unwrap().0, Duration::from_secs(120));
        assert!(Span::parse("soon").is_err());
        assert_eq!(Span(Duration::from_secs(30)).to_string(), "30 s");
        assert_eq!(Span(Duration::from_millis(250)).to_string(), "250 ms");
    }
}
