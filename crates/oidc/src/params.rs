//! Request parameters as the protocol sees them: each name at most once (RFC 6749 §3.1),
//! an empty value the same as no value, and every value bounded in size, so nothing
//! downstream has to think about repeats or huge inputs.

use std::collections::HashMap;

use crate::OAuthError;

/// The most parameters one request may carry.
pub const MAX_PARAMS: usize = 64;
/// The longest value accepted for any parameter.
pub const MAX_VALUE_BYTES: usize = 4096;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// From decoded name/value pairs (query string or form body).
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, OAuthError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut map = HashMap::new();
        for (i, (k, v)) in pairs.into_iter().enumerate() {
            if i >= MAX_PARAMS {
                return Err(OAuthError::invalid_request(format!(
                    "too many parameters (at most {MAX_PARAMS})"
                )));
            }
            let (k, v): (String, String) = (k.into(), v.into());
            if k.len() > 64 {
                return Err(OAuthError::invalid_request("a parameter name is too long"));
            }
            if v.len() > MAX_VALUE_BYTES {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {k} is longer than {MAX_VALUE_BYTES} bytes"
                )));
            }
            if map.contains_key(&k) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {k} is repeated; each parameter may appear once"
                )));
            }
            map.insert(k, v);
        }
        map.retain(|_, v| !v.is_empty());
        Ok(Self(map))
    }

    /// From an `application/x-www-form-urlencoded` string. Percent-escapes that do not
    /// decode to UTF-8 (an unpaired surrogate, say) are refused, never replaced by U+FFFD.
    pub fn from_urlencoded(s: &str) -> Result<Self, OAuthError> {
        let mut pairs = Vec::new();
        for part in s.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            pairs.push((decode(k)?, decode(v)?));
        }
        Self::from_pairs(pairs)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Every name and value (in no particular order).
    pub fn pairs(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

fn decode(s: &str) -> Result<String, OAuthError> {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| {
            OAuthError::invalid_request(
                "a parameter is not valid UTF-8 (for example an unpaired surrogate)",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_and_oversized_values_are_refused() {
        let e = Params::from_pairs([("scope", "openid"), ("scope", "openid")]).unwrap_err();
        assert!(e.to_string().contains("scope is repeated"), "{e}");
        let long = "x".repeat(MAX_VALUE_BYTES + 1);
        let e = Params::from_pairs([("state", long.as_str())]).unwrap_err();
        assert!(e.to_string().contains("state"), "{e}");
        let many: Vec<(String, String)> = (0..=MAX_PARAMS)
            .map(|i| (format!("p{i}"), "v".into()))
            .collect();
        assert!(Params::from_pairs(many).is_err());
    }

    #[test]
    fn empty_values_count_as_absent() {
        let p = Params::from_urlencoded("state=&nonce=n1&a%20b=c+d").unwrap();
        assert_eq!(p.get("state"), None);
        assert_eq!(p.get("nonce"), Some("n1"));
        assert_eq!(p.get("a b"), Some("c d"));
        assert!(
            p.require("state")
                .unwrap_err()
                .to_string()
                .contains("state is required")
        );
    }
}

#[cfg(test)]
mod decoding_tests {
    use super::*;

    #[test]
    fn utf8_is_decoded_exactly() {
        let p = Params::from_urlencoded("text=%C3%B8%20%E2%82%AC&plus=a+b").unwrap();
        assert_eq!(p.get("text"), Some("ø €"));
        assert_eq!(p.get("plus"), Some("a b"));
    }

    #[test]
    fn invalid_utf8_is_refused_not_replaced() {
        // U+D800 (an unpaired surrogate) in CESU-8 form.
        let e = Params::from_urlencoded("binding_message=a%ED%A0%80b").unwrap_err();
        assert!(e.to_string().contains("UTF-8"), "{e}");
        assert!(Params::from_urlencoded("x=%FF").is_err());
    }
}

#[cfg(test)]
mod properties {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// Names and values as clients send them: any Unicode, including `&`, `=`, `+`, `%`.
    fn params() -> impl Strategy<Value = BTreeMap<String, String>> {
        prop::collection::btree_map(".{1,16}", ".{1,40}", 0..=MAX_PARAMS)
    }

    fn form(pairs: &[(&str, &str)]) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    }

    proptest! {
        /// Any input at all is answered with a result, never a panic.
        #[test]
        fn decoding_never_panics(input in any::<String>()) {
            let _ = Params::from_urlencoded(&input);
        }

        /// Form-encoded pairs decode to exactly themselves, whether encoded the form way
        /// (`+` for space) or with every byte percent-escaped.
        #[test]
        fn form_encoding_round_trips(map in params()) {
            let pairs: Vec<(&str, &str)> = map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let escaped = pairs
                .iter()
                .map(|(k, v)| {
                    let e = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
                    format!("{}={}", e(k), e(v))
                })
                .collect::<Vec<_>>()
                .join("&");
            for encoded in [form(&pairs), escaped] {
                let p = Params::from_urlencoded(&encoded).unwrap();
                prop_assert_eq!(p.pairs().len(), map.len());
                for (k, v) in &map {
                    prop_assert_eq!(p.get(k), Some(v.as_str()));
                }
            }
        }

        /// An empty value is the same as no value.
        #[test]
        fn empty_values_are_absent(map in params()) {
            let pairs: Vec<(&str, &str)> = map.keys().map(|k| (k.as_str(), "")).collect();
            let p = Params::from_urlencoded(&form(&pairs)).unwrap();
            prop_assert_eq!(p.pairs().len(), 0);
            for k in map.keys() {
                prop_assert!(!p.contains(k));
            }
        }

        /// A name given twice is refused, whatever its values.
        #[test]
        fn repeated_names_are_refused(map in params(), name in ".{1,16}", a in ".{0,8}", b in ".{0,8}") {
            let mut pairs: Vec<(&str, &str)> = map.iter().filter(|(k, _)| **k != name).map(|(k, v)| (k.as_str(), v.as_str())).take(MAX_PARAMS - 2).collect();
            pairs.push((&name, &a));
            pairs.push((&name, &b));
            prop_assert!(Params::from_urlencoded(&form(&pairs)).is_err());
        }

        /// Too many parameters, too long a name or too long a value is refused.
        #[test]
        fn limits_are_enforced(extra in 1usize..20, long in (MAX_VALUE_BYTES + 1)..(MAX_VALUE_BYTES + 100)) {
            let many: Vec<(String, String)> = (0..MAX_PARAMS + extra).map(|i| (format!("p{i}"), "v".into())).collect();
            let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            prop_assert!(Params::from_urlencoded(&form(&many)).is_err());
            let value = "x".repeat(long);
            prop_assert!(Params::from_urlencoded(&form(&[("state", &value)])).is_err());
            let name = "n".repeat(65 + extra);
            prop_assert!(Params::from_urlencoded(&form(&[(&name, "v")])).is_err());
        }

        /// A percent-escape that is not UTF-8 (a lone surrogate, a stray continuation or
        /// lead byte) anywhere in a value refuses the whole request.
        #[test]
        fn invalid_utf8_is_refused(value in "[a-z]{0,10}", at in any::<prop::sample::Index>(), bad in prop::sample::select(vec!["%FF", "%ED%A0%80", "%80", "%C3", "%F0%9F"])) {
            let i = at.index(value.len() + 1);
            let input = format!("ok=1&text={}{bad}{}", &value[..i], &value[i..]);
            prop_assert!(Params::from_urlencoded(&input).is_err());
        }
    }
}
