//! Whether bytes are a JSON object a strict reader accepts, checked without building it.
//!
//! serde's `IgnoredAny` would be cheaper still, but serde_json skips ignored values leniently
//! (invalid UTF-8, lone surrogates, numbers out of range pass). Reading every value through
//! `deserialize_any` sees exactly what serde_json's `Value` sees, with every string checked
//! and decoded into serde_json's scratch buffer, and allocates nothing.

use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// The key serde_json's `Value` reads an object by as something else (a raw value it parses
/// again) under its `raw_value` feature. Refused anywhere, so that whatever is accepted here
/// is an object to `Value` too.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

pub fn is_object(bytes: &[u8]) -> bool {
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    reader.deserialize_map(Any).is_ok() && reader.end().is_ok()
}

struct Any;

impl<'de> Deserialize<'de> for Any {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Any)
    }
}

struct Key;

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Key)
    }
}

impl Visitor<'_> for Key {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: Error>(self, key: &str) -> Result<Key, E> {
        if key == RAW_VALUE_TOKEN {
            return Err(E::custom("serde_json's private raw value key"));
        }
        Ok(Key)
    }
}

impl<'de> Visitor<'de> for Any {
    type Value = Any;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: Error>(self, _: bool) -> Result<Any, E> {
        Ok(Any)
    }

    fn visit_i64<E: Error>(self, _: i64) -> Result<Any, E> {
        Ok(Any)
    }

    fn visit_u64<E: Error>(self, _: u64) -> Result<Any, E> {
        Ok(Any)
    }

    fn visit_f64<E: Error>(self, _: f64) -> Result<Any, E> {
        Ok(Any)
    }

    fn visit_str<E: Error>(self, _: &str) -> Result<Any, E> {
        Ok(Any)
    }

    fn visit_unit<E: Error>(self) -> Result<Any, E> {
        Ok(Any)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Any, A::Error> {
        while seq.next_element::<Any>()?.is_some() {}
        Ok(Any)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Any, A::Error> {
        while map.next_entry::<Key, Any>()?.is_some() {}
        Ok(Any)
    }
}

#[cfg(test)]
mod tests {
    use super::is_object;

    /// Everything here is what serde_json's `Value` says, asserted alongside.
    #[test]
    fn accepts_what_a_value_reader_reads_as_an_object() {
        for (json, object) in [
            (&b"{}"[..], true),
            (
                b" {\"a\":[1,-2,3.5e10,true,null,{\"b\":\"\\u00e9\\ud83d\\ude00\"}]} ",
                true,
            ),
            (b"{\"a\":18446744073709551616}", true),
            (b"[]", false),
            (b"\"a\"", false),
            (b"{\"a\":1}{}", false),
            (b"{\"a\":1,}", false),
            (b"{\"a\":\"\x99\xb5\"}", false),
            (b"{\"a\":1e999}", false),
            (b"{\"a\":\"\\ud800\"}", false),
            (b"{\"a\":\"\\udc00\\ud800\"}", false),
            (b"{\"a\":\"\x01\"}", false),
        ] {
            let text = String::from_utf8_lossy(json);
            assert_eq!(is_object(json), object, "{text}");
            let value = serde_json::from_slice::<serde_json::Value>(json);
            assert_eq!(value.is_ok_and(|v| v.is_object()), object, "{text}");
        }
        // What `Value` makes of these depends on whether a crate in the build enabled
        // serde_json's `raw_value`; refused either way.
        for raw in [
            &b"{\"$serde_json::private::RawValue\":\"[]\"}"[..],
            b"{\"a\":{\"$serde_json::private::RawValue\":\"1\"}}",
        ] {
            assert!(!is_object(raw), "{}", String::from_utf8_lossy(raw));
        }
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        assert!(
            !is_object(deep.as_bytes()),
            "nesting beyond serde_json's limit"
        );
    }
}
