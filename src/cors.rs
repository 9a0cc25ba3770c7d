//! CORS, as S3 does it for a bucket's CORS configuration, from the `[[cors]]` rules of
//! proxy.toml. Pure: the proxy asks which headers an answer gets; it never reasons about CORS
//! itself.
//!
//! Two cases (S3 API Reference, "CORS configuration", and the Fetch standard):
//! - a preflight `OPTIONS` with `Origin` and `Access-Control-Request-Method` is answered by the
//!   proxy alone, unauthenticated (browsers never sign a preflight): 200 with the allow headers
//!   when a rule matches origin, method and every requested header, else 403;
//! - any other request with an `Origin` that a rule allows (origin and method) gets
//!   `Access-Control-Allow-Origin` and the exposed headers on its answer, errors included, so a
//!   page can read why its upload failed.
//!
//! The first matching rule wins, as in S3.

use std::time::Duration;

/// One `[[cors]]` rule, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsRule {
    /// Buckets the rule applies to; empty = every bucket.
    pub buckets: Vec<String>,
    /// Origins (`scheme://host[:port]`), each may hold one `*` wildcard; `"*"` = any origin.
    pub allowed_origins: Vec<String>,
    /// Upper-case methods: GET, PUT, POST, DELETE, HEAD.
    pub allowed_methods: Vec<String>,
    /// Lower-case header names a preflight may ask for, each may hold one `*` wildcard.
    pub allowed_headers: Vec<String>,
    /// Response headers the page may read (`Access-Control-Expose-Headers`), e.g. `ETag`.
    pub expose_headers: Vec<String>,
    /// How long a browser may cache the preflight answer.
    pub max_age: Option<Duration>,
}

/// The methods S3 allows in a CORS rule.
pub const CORS_METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE", "HEAD"];

/// What the proxy should do with a preflight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preflight {
    /// 200 with these headers.
    Allowed(Vec<(&'static str, String)>),
    /// 403 `AccessForbidden` with this message (S3's wording).
    Refused(&'static str),
}

/// The rules of proxy.toml, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsRules {
    rules: Vec<CorsRule>,
}

/// Whether `pattern` (with at most one `*`) matches `value`, ASCII case-insensitively when
/// `fold_case` (header names), exactly otherwise (origins: S3 matches them as written).
fn wildcard_match(pattern: &str, value: &str, fold_case: bool) -> bool {
    let eq = |a: &str, b: &str| {
        if fold_case {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    match pattern.split_once('*') {
        None => eq(pattern, value),
        Some((prefix, suffix)) => {
            value.len() >= prefix.len() + suffix.len()
                && value.is_char_boundary(prefix.len())
                && value.is_char_boundary(value.len() - suffix.len())
                && eq(&value[..prefix.len()], prefix)
                && eq(&value[value.len() - suffix.len()..], suffix)
        }
    }
}

impl CorsRule {
    fn applies_to_bucket(&self, bucket: &str) -> bool {
        self.buckets.is_empty() || self.buckets.iter().any(|b| b == bucket)
    }

    fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|o| wildcard_match(o, origin, false))
    }

    fn allows_method(&self, method: &str) -> bool {
        self.allowed_methods.iter().any(|m| m == method)
    }

    fn allows_header(&self, name: &str) -> bool {
        self.allowed_headers
            .iter()
            .any(|h| wildcard_match(h, name, true))
    }

    /// `*` when the rule allows any origin (then no credentials), else the origin itself.
    fn allow_origin_headers(&self, origin: &str) -> Vec<(&'static str, String)> {
        let mut headers = Vec::with_capacity(4);
        if self.allowed_origins.iter().any(|o| o == "*") {
            headers.push(("access-control-allow-origin", "*".to_string()));
        } else {
            headers.push(("access-control-allow-origin", origin.to_string()));
            headers.push(("access-control-allow-credentials", "true".to_string()));
        }
        headers
    }
}

impl CorsRules {
    /// Rules in the order of proxy.toml.
    pub fn new(rules: Vec<CorsRule>) -> Self {
        CorsRules { rules }
    }

    /// Whether any rule is configured.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Answer a preflight. `request_headers` is the `Access-Control-Request-Headers` value.
    pub fn preflight(
        &self,
        bucket: &str,
        origin: &str,
        method: &str,
        request_headers: Option<&str>,
    ) -> Preflight {
        if self.rules.is_empty() {
            return Preflight::Refused("CORSResponse: CORS is not enabled for this bucket.");
        }
        let requested: Vec<String> = request_headers
            .unwrap_or("")
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        let Some(rule) = self.rules.iter().find(|r| {
            r.applies_to_bucket(bucket)
                && r.allows_origin(origin)
                && r.allows_method(method)
                && requested.iter().all(|h| r.allows_header(h))
        }) else {
            return Preflight::Refused(
                "CORSResponse: This CORS request is not allowed. This is usually because the \
                 evaluation of Origin, request method / Access-Control-Request-Method or \
                 Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
            );
        };
        let mut headers = rule.allow_origin_headers(origin);
        headers.push((
            "access-control-allow-methods",
            rule.allowed_methods.join(", "),
        ));
        if !requested.is_empty() {
            // S3 echoes the requested headers (they all matched).
            headers.push(("access-control-allow-headers", requested.join(", ")));
        }
        if !rule.expose_headers.is_empty() {
            headers.push((
                "access-control-expose-headers",
                rule.expose_headers.join(", "),
            ));
        }
        if let Some(age) = rule.max_age {
            headers.push(("access-control-max-age", age.as_secs().to_string()));
        }
        headers.push((
            "vary",
            "Origin, Access-Control-Request-Headers, Access-Control-Request-Method".to_string(),
        ));
        Preflight::Allowed(headers)
    }

    /// Headers for the answer to an actual (non-preflight) request with an `Origin`; empty when
    /// no rule allows that origin and method (the browser then hides the answer from the page).
    pub fn actual(&self, bucket: &str, origin: &str, method: &str) -> Vec<(&'static str, String)> {
        let Some(rule) = self.rules.iter().find(|r| {
            r.applies_to_bucket(bucket) && r.allows_origin(origin) && r.allows_method(method)
        }) else {
            return Vec::new();
        };
        let mut headers = rule.allow_origin_headers(origin);
        if !rule.expose_headers.is_empty() {
            headers.push((
                "access-control-expose-headers",
                rule.expose_headers.join(", "),
            ));
        }
        headers.push(("vary", "Origin".to_string()));
        headers
    }
}

/// Check one origin pattern of proxy.toml: `*`, or `scheme://host[:port]` with at most one `*`.
pub fn validate_origin(pattern: &str) -> Result<(), String> {
    if pattern == "*" {
        return Ok(());
    }
    if pattern.matches('*').count() > 1 {
        return Err(format!("{pattern:?}: at most one `*` wildcard"));
    }
    if !(pattern.starts_with("http://") || pattern.starts_with("https://")) {
        return Err(format!(
            "{pattern:?}: an origin is scheme://host[:port], e.g. \"https://app.example.com\""
        ));
    }
    if pattern.ends_with('/') || pattern.split("://").nth(1).is_some_and(|r| r.contains('/')) {
        return Err(format!("{pattern:?}: an origin has no path"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> CorsRule {
        CorsRule {
            buckets: vec![],
            allowed_origins: vec!["https://app.example.com".into(), "http://*.test".into()],
            allowed_methods: vec!["PUT".into(), "POST".into()],
            allowed_headers: vec!["content-type".into(), "x-amz-*".into()],
            expose_headers: vec!["ETag".into()],
            max_age: Some(Duration::from_secs(600)),
        }
    }

    fn header<'a>(h: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        h.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_matching_preflight_gets_every_allow_header() {
        let rules = CorsRules::new(vec![rule()]);
        let Preflight::Allowed(h) = rules.preflight(
            "b",
            "https://app.example.com",
            "PUT",
            Some("Content-Type, X-Amz-Meta-Tag"),
        ) else {
            panic!("refused")
        };
        assert_eq!(
            header(&h, "access-control-allow-origin"),
            Some("https://app.example.com")
        );
        assert_eq!(header(&h, "access-control-allow-credentials"), Some("true"));
        assert_eq!(
            header(&h, "access-control-allow-methods"),
            Some("PUT, POST")
        );
        assert_eq!(
            header(&h, "access-control-allow-headers"),
            Some("content-type, x-amz-meta-tag")
        );
        assert_eq!(header(&h, "access-control-expose-headers"), Some("ETag"));
        assert_eq!(header(&h, "access-control-max-age"), Some("600"));
    }

    #[test]
    fn preflight_is_refused_for_another_origin_method_or_header() {
        let rules = CorsRules::new(vec![rule()]);
        for (origin, method, headers) in [
            ("https://evil.example.com", "PUT", None),
            ("https://app.example.com", "DELETE", None),
            ("https://app.example.com", "PUT", Some("authorization")),
            // Origins are matched as written: no case folding, no trailing slash.
            ("https://APP.example.com", "PUT", None),
            ("https://app.example.com/", "PUT", None),
        ] {
            assert!(
                matches!(
                    rules.preflight("b", origin, method, headers),
                    Preflight::Refused(_)
                ),
                "{origin} {method} {headers:?}"
            );
        }
    }

    #[test]
    fn no_rules_means_cors_is_not_enabled() {
        assert_eq!(
            CorsRules::default().preflight("b", "https://a.b", "GET", None),
            Preflight::Refused("CORSResponse: CORS is not enabled for this bucket.")
        );
    }

    #[test]
    fn origin_wildcards_match_one_part() {
        let r = rule();
        assert!(r.allows_origin("http://page.test"));
        assert!(r.allows_origin("http://a.b.test"));
        assert!(!r.allows_origin("https://page.test"));
        assert!(!r.allows_origin("http://page.test.evil"));
    }

    #[test]
    fn any_origin_answers_star_without_credentials() {
        let mut r = rule();
        r.allowed_origins = vec!["*".into()];
        let h = CorsRules::new(vec![r]).actual("b", "http://x.y", "POST");
        assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));
        assert_eq!(header(&h, "access-control-allow-credentials"), None);
    }

    #[test]
    fn actual_requests_get_origin_and_exposed_headers_only_when_allowed() {
        let rules = CorsRules::new(vec![rule()]);
        let h = rules.actual("b", "https://app.example.com", "POST");
        assert_eq!(
            header(&h, "access-control-allow-origin"),
            Some("https://app.example.com")
        );
        assert_eq!(header(&h, "access-control-expose-headers"), Some("ETag"));
        assert!(rules
            .actual("b", "https://app.example.com", "GET")
            .is_empty());
        assert!(rules
            .actual("b", "https://other.example", "POST")
            .is_empty());
    }

    #[test]
    fn rules_can_be_limited_to_buckets_and_the_first_match_wins() {
        let mut only_photos = rule();
        only_photos.buckets = vec!["photos".into()];
        only_photos.expose_headers = vec!["x-amz-request-id".into()];
        let rules = CorsRules::new(vec![only_photos, rule()]);
        let photos = rules.actual("photos", "https://app.example.com", "PUT");
        assert_eq!(
            header(&photos, "access-control-expose-headers"),
            Some("x-amz-request-id")
        );
        let other = rules.actual("docs", "https://app.example.com", "PUT");
        assert_eq!(
            header(&other, "access-control-expose-headers"),
            Some("ETag")
        );
    }

    #[test]
    fn origins_in_the_config_are_checked() {
        assert!(validate_origin("*").is_ok());
        assert!(validate_origin("https://*.example.com").is_ok());
        assert!(validate_origin("http://127.0.0.1:8080").is_ok());
        assert!(validate_origin("example.com").is_err());
        assert!(validate_origin("https://a.com/").is_err());
        assert!(validate_origin("https://*.*.com").is_err());
    }
}
