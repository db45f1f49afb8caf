//! PostgreSQL types: which Arrow type each column becomes, and decoding of
//! the binary wire format of each supported type into Arrow builders.
//!
//! Types without a direct mapping (unconstrained or very wide `numeric`,
//! `interval`, `inet`, enums, ranges, ...) are cast to `text` in the
//! generated `SELECT`, so every column can be read; see the README table.

use crate::columns::{ColumnBuilder, ColumnType};
use runtime_plugin_sdk::error::{Error, Result};

/// How the binary wire value of a column is decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decode {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    /// `numeric(p, s)` to an integer scaled by `10^s`.
    Numeric,
    /// UTF-8 text as sent (`text`, `varchar`, `char(n)`, `json`, casts).
    Text,
    /// `jsonb`: a version byte, then the text.
    Jsonb,
    /// 16 bytes, rendered as the canonical lowercase hyphenated text.
    Uuid,
    Bytea,
    Date,
    Time,
    /// `timestamp` and `timestamptz` (both µs since 2000-01-01).
    Timestamp,
    /// A one-dimensional array of a scalar type.
    Array(Box<Decode>),
}

/// The mapping of one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub ty: ColumnType,
    pub decode: Decode,
    /// The column is selected as `col::text` (no direct Arrow mapping).
    pub cast_text: bool,
}

/// Microseconds between 1970-01-01 and PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days between 1970-01-01 and 2000-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;

fn scalar(oid: u32, typmod: i32) -> Option<(ColumnType, Decode)> {
    Some(match oid {
        16 => (ColumnType::Boolean, Decode::Bool),
        21 => (ColumnType::Int16, Decode::Int2),
        23 => (ColumnType::Int32, Decode::Int4),
        20 => (ColumnType::Int64, Decode::Int8),
        26 => (ColumnType::Int64, Decode::Oid),
        700 => (ColumnType::Float32, Decode::Float4),
        701 => (ColumnType::Float64, Decode::Float8),
        1700 => {
            let (precision, scale) = numeric_typmod(typmod)?;
            (ColumnType::Decimal { precision, scale }, Decode::Numeric)
        }
        // text, varchar, char(n), name, "char", json, xml
        25 | 1043 | 1042 | 19 | 18 | 114 | 142 => (ColumnType::Utf8, Decode::Text),
        3802 => (ColumnType::Utf8, Decode::Jsonb),
        2950 => (ColumnType::Utf8, Decode::Uuid),
        17 => (ColumnType::Binary, Decode::Bytea),
        1082 => (ColumnType::Date32, Decode::Date),
        1083 => (ColumnType::Time64, Decode::Time),
        1114 => (ColumnType::Timestamp, Decode::Timestamp),
        1184 => (ColumnType::TimestampUtc, Decode::Timestamp),
        _ => return None,
    })
}

/// Element type of the array types this reader decodes.
fn array_element(oid: u32) -> Option<u32> {
    Some(match oid {
        1000 => 16,
        1005 => 21,
        1007 => 23,
        1016 => 20,
        1021 => 700,
        1022 => 701,
        1009 => 25,
        1015 => 1043,
        1014 => 1042,
        199 => 114,
        3807 => 3802,
        2951 => 2950,
        1001 => 17,
        1182 => 1082,
        1183 => 1083,
        1115 => 1114,
        1185 => 1184,
        _ => return None,
    })
}

/// Precision and scale of a `numeric(p, s)` type modifier, when it fits
/// decimal128 (precision 1..=38, scale -38..=38).
pub fn numeric_typmod(typmod: i32) -> Option<(u8, i8)> {
    if typmod < 4 {
        return None; // unconstrained numeric
    }
    let t = typmod - 4;
    let precision = (t >> 16) & 0xffff;
    // The scale is an 11-bit signed field (negative scales since PG 15).
    let raw = t & 0x7ff;
    let scale = if raw & 0x400 != 0 { raw - 0x800 } else { raw };
    if !(1..=38).contains(&precision) || !(-38..=38).contains(&scale) {
        return None;
    }
    Some((precision as u8, scale as i8))
}

/// Maps a result column to Arrow.
pub fn map(oid: u32, typmod: i32) -> Mapping {
    if let Some((ty, decode)) = scalar(oid, typmod) {
        return Mapping { ty, decode, cast_text: false };
    }
    // Arrays carry no element typmod in RowDescription, so numeric arrays
    // (and other unmapped elements) go through text.
    if let Some(elem) = array_element(oid)
        && let Some((ty, decode)) = scalar(elem, -1)
    {
        return Mapping {
            ty: ColumnType::List(Box::new(ty)),
            decode: Decode::Array(Box::new(decode)),
            cast_text: false,
        };
    }
    Mapping { ty: ColumnType::Utf8, decode: Decode::Text, cast_text: true }
}

/// Decodes one non-NULL binary value into `builder`.
pub fn decode(decode: &Decode, v: &[u8], builder: &mut ColumnBuilder) -> Result<()> {
    match (decode, builder) {
        (Decode::Bool, ColumnBuilder::Boolean(b)) => b.append_value(fixed::<1>(v)?[0] != 0),
        (Decode::Int2, ColumnBuilder::Int16(b)) => b.append_value(i16::from_be_bytes(fixed(v)?)),
        (Decode::Int4, ColumnBuilder::Int32(b)) => b.append_value(i32::from_be_bytes(fixed(v)?)),
        (Decode::Int8, ColumnBuilder::Int64(b)) => b.append_value(i64::from_be_bytes(fixed(v)?)),
        (Decode::Oid, ColumnBuilder::Int64(b)) => b.append_value(u32::from_be_bytes(fixed(v)?) as i64),
        (Decode::Float4, ColumnBuilder::Float32(b)) => b.append_value(f32::from_be_bytes(fixed(v)?)),
        (Decode::Float8, ColumnBuilder::Float64(b)) => b.append_value(f64::from_be_bytes(fixed(v)?)),
        (Decode::Numeric, ColumnBuilder::Decimal(b, _, scale)) => b.append_value(numeric_to_i128(v, *scale)?),
        (Decode::Text, ColumnBuilder::Utf8(b)) => b.append_value(utf8(v)?),
        (Decode::Jsonb, ColumnBuilder::Utf8(b)) => match v.split_first() {
            Some((1, text)) => b.append_value(utf8(text)?),
            _ => return Err(Error::invalid_input("unknown jsonb binary version")),
        },
        (Decode::Uuid, ColumnBuilder::Utf8(b)) => {
            let mut text = [0u8; 36];
            format_uuid(&fixed::<16>(v)?, &mut text);
            b.append_value(std::str::from_utf8(&text).expect("hex is ASCII"));
        }
        (Decode::Bytea, ColumnBuilder::Binary(b)) => b.append_value(v),
        (Decode::Date, ColumnBuilder::Date32(b)) => {
            let days = i32::from_be_bytes(fixed(v)?);
            // ±infinity are i32::MAX/MIN; they stay at the extremes.
            b.append_value(if days == i32::MAX || days == i32::MIN { days } else { days + PG_EPOCH_DAYS });
        }
        (Decode::Time, ColumnBuilder::Time64(b)) => b.append_value(i64::from_be_bytes(fixed(v)?)),
        (Decode::Timestamp, ColumnBuilder::Timestamp(b, _)) => {
            let micros = i64::from_be_bytes(fixed(v)?);
            b.append_value(if micros == i64::MAX || micros == i64::MIN {
                micros
            } else {
                micros.saturating_add(PG_EPOCH_MICROS)
            });
        }
        (Decode::Array(elem), ColumnBuilder::List(list)) => {
            let ndim = be_i32(v, 0)?;
            if ndim == 0 {
                return list.close(0);
            }
            if ndim != 1 {
                return Err(Error::unsupported(format!(
                    "a {ndim}-dimensional array; cast the column to text in `query`"
                )));
            }
            let count = be_i32(v, 12)?.max(0) as usize;
            let mut at = 20;
            for _ in 0..count {
                let len = be_i32(v, at)?;
                at += 4;
                if len < 0 {
                    list.values.append_null();
                } else {
                    let end = at + len as usize;
                    let bytes = v.get(at..end).ok_or_else(truncated)?;
                    self::decode(elem, bytes, &mut list.values)?;
                    at = end;
                }
            }
            list.close(count)?;
        }
        (d, b) => {
            return Err(Error::internal(format!("no decoder from {d:?} into a {} column", b.type_name())));
        }
    }
    Ok(())
}

/// Binary `numeric` to an integer scaled by `10^scale`. The value's digits
/// are base-10000 groups; group `i` is worth `10^e_i` once scaled, with
/// `e_i = 4·(weight − i) + scale`. Groups with `e_i ≥ 0` are folded with
/// Horner's rule, the group straddling the decimal point (`−4 < e_i < 0`)
/// is truncated, and groups below it contribute nothing (the server sends
/// the column's scale, so there are none). Values of up to 16 digits (most
/// `numeric(p ≤ 18, s)` columns) stay in native 64-bit arithmetic; `i128`
/// (a library call per operation in WebAssembly) is used only past that.
pub fn numeric_to_i128(v: &[u8], scale: i8) -> Result<i128> {
    let ndigits = be_i16(v, 0)?.max(0) as usize;
    let weight = be_i16(v, 2)? as i32;
    let sign = be_i16(v, 4)? as u16;
    let negative = match sign {
        0x0000 => false,
        0x4000 => true,
        0xC000 => {
            return Err(Error::unsupported(
                "numeric NaN has no decimal128 value; cast the column in `query`",
            ));
        }
        _ => {
            return Err(Error::unsupported(
                "numeric ±Infinity has no decimal128 value; cast the column in `query`",
            ));
        }
    };
    let groups = v.get(8..8 + 2 * ndigits).ok_or_else(truncated)?;
    let digit = |i: usize| -> Result<u64> {
        match u16::from_be_bytes([groups[2 * i], groups[2 * i + 1]]) {
            d @ 0..=9999 => Ok(d as u64),
            _ => Err(Error::invalid_input("malformed numeric: a base-10000 digit above 9999")),
        }
    };
    let exponent = |i: usize| 4 * (weight - i as i32) + scale as i32;
    // Groups 0..whole have e_i >= 0; group `whole` may straddle the point.
    let whole = (0..ndigits).take_while(|&i| exponent(i) >= 0).count();
    let tail = match whole < ndigits && exponent(whole) > -4 {
        true => digit(whole)? / 10u64.pow((-exponent(whole)) as u32),
        false => 0,
    };
    let shift = if whole > 0 { exponent(whole - 1) } else { 0 };
    let fast = if whole <= 4 && shift <= 19 {
        let mut acc = 0u64;
        for i in 0..whole {
            acc = acc * 10000 + digit(i)?;
        }
        acc.checked_mul(10u64.pow(shift as u32)).and_then(|a| a.checked_add(tail))
    } else {
        None
    };
    let magnitude = match fast {
        Some(m) => m as i128,
        None => {
            let overflow = || Error::invalid_input("a numeric value does not fit decimal128");
            let mut acc: i128 = 0;
            for i in 0..whole {
                let d = digit(i)? as i128;
                acc = acc.checked_mul(10000).and_then(|a| a.checked_add(d)).ok_or_else(overflow)?;
            }
            10i128
                .checked_pow(shift as u32)
                .and_then(|p| acc.checked_mul(p))
                .and_then(|a| a.checked_add(tail as i128))
                .ok_or_else(overflow)?
        }
    };
    Ok(if negative { -magnitude } else { magnitude })
}

fn format_uuid(b: &[u8; 16], out: &mut [u8; 36]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut at = 0;
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out[at] = b'-';
            at += 1;
        }
        out[at] = HEX[(byte >> 4) as usize];
        out[at + 1] = HEX[(byte & 15) as usize];
        at += 2;
    }
}

fn utf8(v: &[u8]) -> Result<&str> {
    std::str::from_utf8(v).map_err(|e| Error::invalid_input(format!("text is not valid UTF-8: {e}")))
}

fn fixed<const N: usize>(v: &[u8]) -> Result<[u8; N]> {
    v.try_into()
        .map_err(|_| Error::invalid_input(format!("expected a {N}-byte value, got {} bytes", v.len())))
}

fn be_i32(v: &[u8], at: usize) -> Result<i32> {
    v.get(at..at + 4).map(|s| i32::from_be_bytes(s.try_into().unwrap())).ok_or_else(truncated)
}

fn be_i16(v: &[u8], at: usize) -> Result<i16> {
    v.get(at..at + 2).map(|s| i16::from_be_bytes(s.try_into().unwrap())).ok_or_else(truncated)
}

fn truncated() -> Error {
    Error::invalid_input("truncated binary value")
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;

    fn numeric(weight: i16, sign: u16, dscale: u16, digits: &[i16]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(digits.len() as i16).to_be_bytes());
        v.extend_from_slice(&weight.to_be_bytes());
        v.extend_from_slice(&sign.to_be_bytes());
        v.extend_from_slice(&dscale.to_be_bytes());
        for d in digits {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v
    }

    #[test]
    fn numeric_binary_to_scaled_integers() {
        // 12345.6789 = [1, 2345, 6789], weight 1
        assert_eq!(numeric_to_i128(&numeric(1, 0, 4, &[1, 2345, 6789]), 4).unwrap(), 123456789);
        assert_eq!(numeric_to_i128(&numeric(1, 0, 4, &[1, 2345, 6789]), 6).unwrap(), 12345678900);
        // -0.05 = [500], weight -1
        assert_eq!(numeric_to_i128(&numeric(-1, 0x4000, 2, &[500]), 2).unwrap(), -5);
        // 1e36 = [1] weight 9 (10000^9)
        assert_eq!(numeric_to_i128(&numeric(9, 0, 0, &[1]), 0).unwrap(), 10i128.pow(36));
        // 38 nines with scale 2: 36 integer digits, fraction group "9900"
        let digits = [9999, 9999, 9999, 9999, 9999, 9999, 9999, 9999, 9999, 9900];
        assert_eq!(numeric_to_i128(&numeric(8, 0, 2, &digits), 2).unwrap(), 10i128.pow(38) - 1);
        assert_eq!(numeric_to_i128(&numeric(0, 0, 0, &[]), 3).unwrap(), 0);
        assert!(numeric_to_i128(&numeric(0, 0xC000, 0, &[]), 2).unwrap_err().message.contains("NaN"));
        assert!(numeric_to_i128(&numeric(20, 0, 0, &[1]), 2).is_err());
        // The fast (u64) path and the i128 path agree around their border.
        assert_eq!(
            numeric_to_i128(&numeric(3, 0, 2, &[9999, 9999, 9999, 9999]), 2).unwrap(),
            10i128.pow(18) - 100
        );
        assert_eq!(numeric_to_i128(&numeric(4, 0, 0, &[1, 0, 0, 0, 7]), 0).unwrap(), 10i128.pow(16) + 7);
        // u64 overflows in the fast path: falls back to i128.
        assert_eq!(
            numeric_to_i128(&numeric(3, 0, 4, &[9999, 9999, 9999, 9999]), 4).unwrap(),
            10i128.pow(20) - 10000
        );
        // -9223372.036854 = [922, 3372, 368, 5400], weight 1
        assert_eq!(
            numeric_to_i128(&numeric(1, 0x4000, 6, &[922, 3372, 368, 5400]), 6).unwrap(),
            -9223372036854
        );
        // A straddling group is truncated to the scale: 1.23456 at scale 3.
        assert_eq!(numeric_to_i128(&numeric(0, 0, 5, &[1, 2345, 6000]), 3).unwrap(), 1234);
        // Negative scale: 123400 at scale -2 is 1234.
        assert_eq!(numeric_to_i128(&numeric(1, 0, 0, &[12, 3400]), -2).unwrap(), 1234);
        assert!(numeric_to_i128(&numeric(0, 0, 0, &[10000]), 0).unwrap_err().message.contains("malformed"));
    }

    #[test]
    fn typmods() {
        // numeric(12, 3): ((12 << 16) | 3) + 4
        assert_eq!(numeric_typmod((12 << 16 | 3) + 4), Some((12, 3)));
        assert_eq!(numeric_typmod(-1), None);
        assert_eq!(numeric_typmod((60 << 16 | 3) + 4), None);
        assert_eq!(numeric_typmod((5 << 16 | 0x7fe) + 4), Some((5, -2)));
        assert!(map(1700, -1).cast_text);
        assert_eq!(map(1016, -1).ty, ColumnType::List(Box::new(ColumnType::Int64)));
        assert!(map(1186, -1).cast_text); // interval
        assert_eq!(map(1184, -1).ty, ColumnType::TimestampUtc);
    }

    #[test]
    fn decodes_scalars_and_arrays() {
        let mut b = ColumnBuilder::new(&ColumnType::Utf8, 2).unwrap();
        let u: Vec<u8> = (0u8..16).collect();
        decode(&Decode::Uuid, &u, &mut b).unwrap();
        decode(&Decode::Jsonb, b"\x01{\"a\": 1}", &mut b).unwrap();
        let a = b.finish();
        assert_eq!(a.as_string::<i32>().value(0), "00010203-0405-0607-0809-0a0b0c0d0e0f");
        assert_eq!(a.as_string::<i32>().value(1), "{\"a\": 1}");

        let mut b = ColumnBuilder::new(&ColumnType::Timestamp, 1).unwrap();
        decode(&Decode::Timestamp, &0i64.to_be_bytes(), &mut b).unwrap();
        decode(&Decode::Timestamp, &i64::MAX.to_be_bytes(), &mut b).unwrap();
        let a = b.finish();
        let ts = a.as_primitive::<arrow_array::types::TimestampMicrosecondType>();
        assert_eq!(ts.value(0), PG_EPOCH_MICROS);
        assert_eq!(ts.value(1), i64::MAX);

        // int4[] {1, NULL, 3}
        let mut v = Vec::new();
        for x in [1i32, 1, 23, 3, 1] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        for x in [Some(1i32), None, Some(3)] {
            match x {
                Some(x) => {
                    v.extend_from_slice(&4i32.to_be_bytes());
                    v.extend_from_slice(&x.to_be_bytes());
                }
                None => v.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        let m = map(1007, -1);
        let mut b = ColumnBuilder::new(&m.ty, 1).unwrap();
        decode(&m.decode, &v, &mut b).unwrap();
        let a = b.finish();
        let list = a.as_list::<i32>();
        let inner = list.value(0);
        let ints = inner.as_primitive::<arrow_array::types::Int32Type>();
        assert_eq!((ints.value(0), ints.is_null(1), ints.value(2)), (1, true, 3));
        let mut bad = v.clone();
        bad[3] = 2; // two dimensions
        assert!(decode(&m.decode, &bad, &mut b).is_err());
    }
}
