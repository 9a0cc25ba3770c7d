//! Request dates: when the client says it signed.
//!
//! SigV4 binds a signature to a moment twice: the request date (`x-amz-date`, `Date` or
//! `X-Amz-Date`) is a line of the string to sign, and the credential scope names the day whose
//! signing key was used (`credential.rs` checks the two against each other). This module parses
//! the date and checks it against the clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use crate::error::{S3Error, S3ErrorCode};

/// The header that carries the request date in ISO 8601 basic format.
pub const AMZ_DATE_HEADER: &str = "x-amz-date";

/// A request date: when the client says it signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestDate {
    /// Seconds since the Unix epoch (UTC).
    unix_seconds: i64,
    /// `YYYYMMDDTHHMMSSZ`, the form the string to sign and the scope use.
    amz: String,
}

impl RequestDate {
    /// Parse the ISO 8601 basic form `YYYYMMDDTHHMMSSZ` (`x-amz-date`, `X-Amz-Date`). Exactly
    /// that: 16 characters, digits where digits belong, a real calendar date and time, `Z`.
    /// `None` when it is not; the caller knows which error S3 gives for its field.
    pub fn parse_amz(value: &str) -> Option<RequestDate> {
        let bytes = value.as_bytes();
        if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
            return None;
        }
        let unix_seconds = utc_unix_seconds(bytes, [0..4, 4..6, 6..8, 9..11, 11..13, 13..15])?;
        Some(RequestDate {
            unix_seconds,
            amz: value.to_owned(),
        })
    }

    /// Parse an HTTP `Date` header (RFC 1123, or the obsolete forms `httpdate` also reads) and
    /// express it as `YYYYMMDDTHHMMSSZ`, which is what the client put in its string to sign.
    pub fn parse_http_date(value: &str) -> Option<RequestDate> {
        let at = httpdate::parse_http_date(value).ok()?;
        let seconds = i64::try_from(at.duration_since(UNIX_EPOCH).ok()?.as_secs()).ok()?;
        let at = OffsetDateTime::from_unix_timestamp(seconds).ok()?;
        let amz = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        );
        Some(RequestDate {
            unix_seconds: seconds,
            amz,
        })
    }

    /// `YYYYMMDDTHHMMSSZ`.
    pub fn as_amz(&self) -> &str {
        &self.amz
    }

    /// `YYYYMMDD`: what the credential scope's date must equal.
    pub fn day(&self) -> &str {
        // Both constructors produce 16 ASCII characters, so the first 8 are a char boundary.
        &self.amz[..8]
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> i64 {
        self.unix_seconds
    }
}

/// The date of a header-authenticated request: `x-amz-date` when present (then it must be
/// valid; no fallback, or a client could slip a second date past the one it signed), otherwise
/// `Date`. S3 answers `AccessDenied` when neither gives a valid date.
pub fn header_request_date(headers: &http::HeaderMap) -> Result<RequestDate, S3Error> {
    let invalid = || {
        S3Error::new(
            S3ErrorCode::AccessDenied,
            "AWS authentication requires a valid Date or x-amz-date header",
        )
    };
    let (name, parse): (&str, fn(&str) -> Option<RequestDate>) =
        if headers.contains_key(AMZ_DATE_HEADER) {
            (AMZ_DATE_HEADER, RequestDate::parse_amz)
        } else {
            (http::header::DATE.as_str(), RequestDate::parse_http_date)
        };
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or_else(invalid)?;
    if values.next().is_some() {
        // Two dates: which one was signed is anyone's guess.
        return Err(invalid());
    }
    let value = value.to_str().map_err(|_| invalid())?;
    parse(value).ok_or_else(invalid)
}

/// Seconds since the Unix epoch of `now`, negative before it (never panics).
pub fn unix_seconds_of(now: SystemTime) -> i128 {
    match now.duration_since(UNIX_EPOCH) {
        Ok(after) => i128::from(after.as_secs()),
        Err(before) => -i128::from(before.duration().as_secs()),
    }
}

/// Unix seconds of a UTC date and time written in ASCII digits at these byte ranges of `bytes`:
/// year, month, day, hour, minute, second (each range at most 4 digits). `None` when a range
/// holds anything but digits or the values are not a real date and time.
pub(crate) fn utc_unix_seconds(
    bytes: &[u8],
    [year, month, day, hour, minute, second]: [std::ops::Range<usize>; 6],
) -> Option<i64> {
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = bytes.get(range)?;
        if part.is_empty() || part.len() > 4 || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // All ASCII digits, at most 4 of them: cannot overflow u32.
        Some(part.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let date = Date::from_calendar_date(
        i32::try_from(number(year)?).ok()?,
        Month::try_from(u8::try_from(number(month)?).ok()?).ok()?,
        u8::try_from(number(day)?).ok()?,
    )
    .ok()?;
    let time = Time::from_hms(
        u8::try_from(number(hour)?).ok()?,
        u8::try_from(number(minute)?).ok()?,
        u8::try_from(number(second)?).ok()?,
    )
    .ok()?;
    Some(
        PrimitiveDateTime::new(date, time)
            .assume_utc()
            .unix_timestamp(),
    )
}

/// Header auth: the request date must be within `clock_skew` of `now`, either way, so a captured
/// request cannot be replayed later than that (S3 allows 15 minutes).
pub fn check_skew(
    date: &RequestDate,
    now: SystemTime,
    clock_skew: Duration,
) -> Result<(), S3Error> {
    let difference = (i128::from(date.unix_seconds()) - unix_seconds_of(now)).abs();
    if difference > i128::from(clock_skew.as_secs()) {
        return Err(S3Error::new(
            S3ErrorCode::RequestTimeTooSkewed,
            "The difference between the request time and the current time is too large.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};

    fn at(unix: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix)
    }

    // 2013-05-24T00:00:00Z, the date of the S3 documentation examples.
    const DOC_DATE_UNIX: u64 = 1_369_353_600;

    #[test]
    fn parses_the_amz_form() {
        let d = RequestDate::parse_amz("20130524T000000Z").unwrap();
        assert_eq!(d.unix_seconds(), DOC_DATE_UNIX as i64);
        assert_eq!(d.as_amz(), "20130524T000000Z");
        assert_eq!(d.day(), "20130524");
        let leap = RequestDate::parse_amz("20240229T235959Z").unwrap();
        assert_eq!(leap.unix_seconds(), 1_709_251_199);
    }

    #[test]
    fn refuses_anything_but_the_exact_amz_form() {
        for bad in [
            "",
            "20130524",
            "20130524T000000",
            "20130524T000000z",
            "20130524t000000Z",
            "2013-05-24T00:00:00Z",
            "20130524T000000Z ",
            "+0130524T000000Z",
            "20131324T000000Z",
            "20130532T000000Z",
            "20130229T000000Z",
            "20130524T240000Z",
            "20130524T006000Z",
            "20130524T000060Z",
            "2013052٤T000000Z",
        ] {
            assert!(RequestDate::parse_amz(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn http_date_is_expressed_in_amz_form() {
        let d = RequestDate::parse_http_date("Fri, 24 May 2013 00:00:00 GMT").unwrap();
        assert_eq!(d.as_amz(), "20130524T000000Z");
        assert_eq!(d.unix_seconds(), DOC_DATE_UNIX as i64);
        assert!(RequestDate::parse_http_date("Fri, 24 May 2013 00:00:00").is_none());
        assert!(RequestDate::parse_http_date("20130524T000000Z").is_none());
    }

    #[test]
    fn x_amz_date_wins_over_date_and_is_not_fallen_back_from() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "date",
            HeaderValue::from_static("Sat, 25 May 2013 00:00:00 GMT"),
        );
        headers.insert("x-amz-date", HeaderValue::from_static("20130524T000000Z"));
        assert_eq!(
            header_request_date(&headers).unwrap().as_amz(),
            "20130524T000000Z"
        );

        headers.insert("x-amz-date", HeaderValue::from_static("garbage"));
        let err = header_request_date(&headers).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::AccessDenied);

        headers.remove("x-amz-date");
        assert_eq!(
            header_request_date(&headers).unwrap().as_amz(),
            "20130525T000000Z"
        );
    }

    #[test]
    fn no_date_or_two_dates_is_access_denied() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            header_request_date(&headers).unwrap_err().code,
            S3ErrorCode::AccessDenied
        );
        headers.append("x-amz-date", HeaderValue::from_static("20130524T000000Z"));
        headers.append("x-amz-date", HeaderValue::from_static("20130524T000000Z"));
        assert_eq!(
            header_request_date(&headers).unwrap_err().code,
            S3ErrorCode::AccessDenied
        );
    }

    #[test]
    fn skew_is_allowed_up_to_the_limit_both_ways() {
        let d = RequestDate::parse_amz("20130524T000000Z").unwrap();
        let skew = Duration::from_secs(900);
        assert!(check_skew(&d, at(DOC_DATE_UNIX + 900), skew).is_ok());
        assert!(check_skew(&d, at(DOC_DATE_UNIX - 900), skew).is_ok());
        for now in [DOC_DATE_UNIX + 901, DOC_DATE_UNIX - 901] {
            let err = check_skew(&d, at(now), skew).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::RequestTimeTooSkewed);
            assert_eq!(err.code.http_status(), 403);
        }
        // A clock before the epoch is just far away, not a panic.
        let before_epoch = UNIX_EPOCH - Duration::from_secs(1);
        assert!(check_skew(&d, before_epoch, skew).is_err());
    }

    proptest::proptest! {
        #[test]
        fn date_parsers_never_panic(value in ".*") {
            let _ = RequestDate::parse_amz(&value);
            let _ = RequestDate::parse_http_date(&value);
        }

        #[test]
        fn amz_parse_never_panics_on_near_misses(value in "[0-9TZ]{16}") {
            if let Some(d) = RequestDate::parse_amz(&value) {
                proptest::prop_assert_eq!(d.as_amz(), value.as_str());
            }
        }
    }
}
