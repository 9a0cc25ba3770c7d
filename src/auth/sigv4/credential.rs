//! The credential of a SigV4 signature and its scope:
//! `<access key>/<YYYYMMDD>/<region>/<service>/aws4_request`, from the `Authorization` header's
//! `Credential=`, the `X-Amz-Credential` parameter or a POST form's `x-amz-credential`. The scope
//! must name the request's day, a configured region and `s3`.

use super::date::RequestDate;
use super::AuthKind;
use crate::auth::AuthSettings;
use crate::error::S3Error;

/// The last component of every credential scope.
pub const SCOPE_TERMINATOR: &str = "aws4_request";

/// The only service a credential scope may name here.
pub const SERVICE: &str = "s3";

/// The credential scope `date/region/service/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    /// `YYYYMMDD`.
    pub date: String,
    /// e.g. `us-east-1`.
    pub region: String,
    /// Always `s3` once verified.
    pub service: String,
}

impl CredentialScope {
    /// `YYYYMMDD/region/service/aws4_request`, as in the string to sign.
    pub fn to_scope_string(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// The parsed `Credential` (header) or `X-Amz-Credential` (query):
/// `<access key>/<YYYYMMDD>/<region>/<service>/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The access key id.
    pub access_key: String,
    /// Date, region and service.
    pub scope: CredentialScope,
}

impl Credential {
    /// Parse the five `/`-separated parts. Only the shape is checked here (a non-empty access
    /// key, an 8-digit date, non-empty region and service, the `aws4_request` terminator);
    /// [`check_scope`] decides whether the scope is acceptable.
    pub fn parse(value: &str, kind: AuthKind) -> Result<Credential, S3Error> {
        let malformed = || {
            kind.malformed(
                "Credential",
                "the Credential is mal-formed; expecting \
                 \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
            )
        };
        let mut parts = value.split('/');
        let (Some(access_key), Some(date), Some(region), Some(service), Some(terminator), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(malformed());
        };
        let date_ok = date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit());
        if access_key.is_empty()
            || !date_ok
            || region.is_empty()
            || service.is_empty()
            || terminator != SCOPE_TERMINATOR
        {
            return Err(malformed());
        }
        Ok(Credential {
            access_key: access_key.to_owned(),
            scope: CredentialScope {
                date: date.to_owned(),
                region: region.to_owned(),
                service: service.to_owned(),
            },
        })
    }
}

/// The scope must name the day of the request date, a configured region and `s3`. Messages
/// follow the ones S3 gives, so a client's error output points at the wrong part.
pub fn check_scope(
    scope: &CredentialScope,
    date: &RequestDate,
    settings: &AuthSettings,
    kind: AuthKind,
) -> Result<(), S3Error> {
    if scope.date != date.day() {
        return Err(kind.malformed(
            "Credential",
            format!(
                "Invalid credential date \"{}\". This date is not the same as the request date \
                 \"{}\".",
                scope.date,
                date.day()
            ),
        ));
    }
    if !settings.regions.contains(&scope.region) {
        let expecting = settings
            .regions
            .iter()
            .map(|r| format!("'{r}'"))
            .collect::<Vec<_>>()
            .join(" or ");
        let err = kind.malformed(
            "Credential",
            format!(
                "the region '{}' is wrong; expecting {expecting}",
                scope.region
            ),
        );
        return Err(match settings.regions.first() {
            Some(first) => err.with_region(first),
            None => err,
        });
    }
    if scope.service != SERVICE {
        return Err(kind.malformed(
            "Credential",
            format!(
                "incorrect service '{}'. This endpoint belongs to '{SERVICE}'.",
                scope.service
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::test_settings as settings;
    use crate::error::S3ErrorCode;

    #[test]
    fn credential_has_five_parts() {
        let c =
            Credential::parse("AK/20130524/us-east-1/s3/aws4_request", AuthKind::Header).unwrap();
        assert_eq!(c.access_key, "AK");
        assert_eq!(
            c.scope.to_scope_string(),
            "20130524/us-east-1/s3/aws4_request"
        );
        for bad in [
            "",
            "AK",
            "AK/20130524/us-east-1/s3",
            "AK/20130524/us-east-1/s3/aws4_request/",
            "AK/20130524/us-east-1/s3/aws4_request/x",
            "/20130524/us-east-1/s3/aws4_request",
            "AK/2013052/us-east-1/s3/aws4_request",
            "AK/2013052x/us-east-1/s3/aws4_request",
            "AK/20130524//s3/aws4_request",
            "AK/20130524/us-east-1//aws4_request",
            "AK/20130524/us-east-1/s3/aws4_requests",
            "AK/20130524/us-east-1/s3/AWS4_REQUEST",
        ] {
            let err = Credential::parse(bad, AuthKind::Header).unwrap_err();
            assert_eq!(
                err.code,
                S3ErrorCode::AuthorizationHeaderMalformed,
                "{bad:?}"
            );
            assert!(
                err.message.contains("Credential is mal-formed"),
                "{}",
                err.message
            );
            let err = Credential::parse(bad, AuthKind::Presigned).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::AuthorizationQueryParametersError);
            assert!(err.message.contains("X-Amz-Credential"), "{}", err.message);
        }
    }

    fn scope(date: &str, region: &str, service: &str) -> CredentialScope {
        CredentialScope {
            date: date.into(),
            region: region.into(),
            service: service.into(),
        }
    }

    #[test]
    fn scope_must_match_date_region_and_service() {
        let d = RequestDate::parse_amz("20130524T235959Z").unwrap();
        let s = settings();
        assert!(check_scope(
            &scope("20130524", "us-east-1", "s3"),
            &d,
            &s,
            AuthKind::Header
        )
        .is_ok());

        let err = check_scope(
            &scope("20130525", "us-east-1", "s3"),
            &d,
            &s,
            AuthKind::Header,
        )
        .unwrap_err();
        assert_eq!(err.code, S3ErrorCode::AuthorizationHeaderMalformed);
        assert!(err.message.contains("20130525"));

        let err = check_scope(
            &scope("20130524", "eu-west-1", "s3"),
            &d,
            &s,
            AuthKind::Header,
        )
        .unwrap_err();
        assert_eq!(err.code, S3ErrorCode::AuthorizationHeaderMalformed);
        assert!(err
            .message
            .contains("the region 'eu-west-1' is wrong; expecting 'us-east-1'"),);
        assert_eq!(err.region.as_deref(), Some("us-east-1"));
        assert!(
            err.to_xml("/b", "id", false)
                .contains("<Region>us-east-1</Region>"),
            "{}",
            err.message
        );

        let err = check_scope(
            &scope("20130524", "us-east-1", "iam"),
            &d,
            &s,
            AuthKind::Presigned,
        )
        .unwrap_err();
        assert_eq!(err.code, S3ErrorCode::AuthorizationQueryParametersError);
        assert!(
            err.message.contains("incorrect service 'iam'"),
            "{}",
            err.message
        );
    }

    #[test]
    fn several_regions_are_all_named() {
        let d = RequestDate::parse_amz("20130524T000000Z").unwrap();
        let mut s = settings();
        s.regions.push("garage".into());
        assert!(check_scope(&scope("20130524", "garage", "s3"), &d, &s, AuthKind::Header).is_ok());
        let err = check_scope(&scope("20130524", "x", "s3"), &d, &s, AuthKind::Header).unwrap_err();
        assert!(
            err.message.contains("expecting 'us-east-1' or 'garage'"),
            "{}",
            err.message
        );
    }

    proptest::proptest! {
        #[test]
        fn credential_parser_never_panics(value in ".*") {
            let _ = Credential::parse(&value, AuthKind::Header);
        }
    }
}
