//! Durations and sizes as people write them (`"15m"`, `"16MiB"`) or as plain numbers. Kept apart
//! from the per-section checks because the CLI parses the same texts (`--expires`, `--max-size`).

use std::time::Duration;

use super::raw::{DurationValue, SizeValue};

/// A duration key's value: `default` when the key is absent; when its text does not parse, a
/// problem naming the key and the text, and `default`.
pub(super) fn duration(
    key: &str,
    value: Option<DurationValue>,
    default: Duration,
    p: &mut impl FnMut(String),
) -> Duration {
    match value {
        None => default,
        Some(DurationValue::Seconds(s)) => Duration::from_secs(s),
        Some(DurationValue::Text(t)) => parse_duration(&t).unwrap_or_else(|e| {
            p(format!("{key} = {t:?}: {e}"));
            default
        }),
    }
}

/// `"500ms"`, `"25s"`, `"15m"`, `"1h"`, `"7d"`, or digits (seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| "expected a number with a unit such as 30s, 15m, 1h, 7d".to_string())?;
    let secs = |mul: u64| {
        n.checked_mul(mul)
            .map(Duration::from_secs)
            .ok_or_else(|| "too large".to_string())
    };
    match unit.trim() {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => secs(1),
        "m" => secs(60),
        "h" => secs(3600),
        "d" => secs(86_400),
        other => Err(format!("unknown unit {other:?} (use ms, s, m, h or d)")),
    }
}

/// A size key's value in bytes.
pub(super) fn parse_size(v: &SizeValue) -> Result<u64, String> {
    match v {
        SizeValue::Bytes(n) => Ok(*n),
        SizeValue::Text(t) => parse_size_text(t),
    }
}

/// `"16MiB"`, `"64KiB"`, `"1GiB"`, `"100MB"`, or digits (bytes).
pub fn parse_size_text(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?}: expected a size such as 16MiB"))?;
    let mul: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (use B, KiB, MiB, GiB, KB, MB, GB)"
            ))
        }
    };
    n.checked_mul(mul)
        .ok_or_else(|| format!("{text:?}: too large"))
}
