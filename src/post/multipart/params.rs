//! The parameters of the header values a form uses (`Content-Type: multipart/form-data;
//! boundary=…`, `Content-Disposition: form-data; name=…; filename=…`): RFC 9110 tokens,
//! optional whitespace and quoted strings.

/// RFC 9110 `tchar`: the characters of a header name or parameter name.
pub(super) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Optional whitespace (RFC 9110 §5.6.3).
fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

pub(super) fn trim_ows(s: &str) -> &str {
    s.trim_matches(is_ows)
}

/// `*( OWS ";" OWS name "=" value )` (RFC 9110 §5.6.6), the value a quoted-string with
/// backslash escapes or a plain run of visible characters. Names are returned as sent.
pub(super) fn parse_parameters(mut rest: &str) -> Result<Vec<(&str, String)>, &'static str> {
    let mut parameters = Vec::new();
    loop {
        rest = rest.trim_start_matches(is_ows);
        if rest.is_empty() {
            return Ok(parameters);
        }
        rest = rest
            .strip_prefix(';')
            .ok_or("parameters must be separated by ';'")?
            .trim_start_matches(is_ows);
        let name_len = rest.bytes().take_while(|&b| is_tchar(b)).count();
        if name_len == 0 {
            return Err("a parameter without a name");
        }
        let (name, after) = rest.split_at(name_len);
        let after = after
            .strip_prefix('=')
            .ok_or("a parameter without '=' right after its name")?;
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => parse_quoted_string(quoted)?,
            None => {
                let len = after
                    .bytes()
                    .take_while(|&b| !(b.is_ascii_control() || b" ;\"".contains(&b)))
                    .count();
                if len == 0 {
                    return Err("a parameter with an empty value");
                }
                (after[..len].to_string(), &after[len..])
            }
        };
        parameters.push((name, value));
        rest = after;
    }
}

/// The rest of a quoted-string after its opening quote: the unescaped value and what follows
/// the closing quote. Control characters other than HTAB are refused (RFC 9110 `qdtext`).
fn parse_quoted_string(quoted: &str) -> Result<(String, &str), &'static str> {
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((at, c)) = chars.next() {
        let c = match c {
            '"' => return Ok((value, &quoted[at + 1..])),
            '\\' => chars.next().ok_or("an unterminated quoted string")?.1,
            c => c,
        };
        if c.is_ascii_control() && c != '\t' {
            return Err("a control character in a quoted string");
        }
        value.push(c);
    }
    Err("an unterminated quoted string")
}

/// The value of parameter `name` (case-insensitive), if sent; sent twice is an error.
pub(super) fn unique_parameter(
    parameters: &[(&str, String)],
    name: &'static str,
) -> Result<Option<String>, &'static str> {
    let mut matching = parameters
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name));
    let first = matching.next().map(|(_, value)| value.clone());
    if matching.next().is_some() {
        return Err("a parameter is repeated");
    }
    Ok(first)
}
