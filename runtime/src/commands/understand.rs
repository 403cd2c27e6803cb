//! `bazaar understand`: reads seller replies as JSON lines on stdin and writes one reading
//! per line on stdout, in order.
//!
//! Input, one object per line (blank lines are skipped):
//! `{"text": "best I can do is 80", "listing_price": 100, "our_last_offer": 60}` —
//! prices are JSON numbers in whole dollars (`8900` is $8,900; `12.5` is $12.50; more than
//! two decimals are rounded half up to the cent); `our_last_offer` may be `null` or absent.
//!
//! Output, one object per input line: `{"intent": "counter", "price": 80, "confidence": 0.92}`
//! with `intent` one of `accept`, `counter`, `reject`, `question`, `other`; `price` in the
//! same whole-dollar numbers (`null` when the seller names none); `confidence` from 0 to 1;
//! and `reason` (`sold_elsewhere`, `still_available`, `needs_info`) when there is one.
//!
//! A line that cannot be read still gets an output line, so output stays aligned with input:
//! `{"intent": "other", "price": null, "confidence": 0, "error": "..."}`; the error is also
//! written to stderr with its line number. That includes a line that is not UTF-8 and a
//! line over [`MAX_LINE_BYTES`] (whose text is not read). Only an unreadable stdin (or
//! unwritable stdout) fails the command.

use std::io::{BufRead, Write};

use bazaar_memory::Money;
use bazaar_strategies::understand::{understand, Reading, Reply};
use serde::Serialize;
use serde_json::value::RawValue;

/// One output line.
#[derive(Serialize)]
struct Line<'a> {
    intent: &'a str,
    price: Option<Box<RawValue>>,
    confidence: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The longest input line read; a longer one gets an error line (a reply is at most 64 KiB
/// of mail, and its JSON escaping can double that).
pub const MAX_LINE_BYTES: usize = 256 * 1024;

/// Reads every line of `input`, writes one reading per line to `output`, and reports
/// unreadable lines to `errors`.
pub fn run(
    mut input: impl BufRead,
    mut output: impl Write,
    mut errors: impl Write,
) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    let mut number = 0usize;
    loop {
        bytes.clear();
        // One byte past the cap tells a line that is too long from one that fits.
        let read = std::io::Read::take(&mut input, MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut bytes)?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        let too_long = !bytes.ends_with(b"\n") && bytes.len() > MAX_LINE_BYTES;
        if too_long {
            // Skip the rest of the line without keeping it.
            loop {
                let buffer = input.fill_buf()?;
                if buffer.is_empty() {
                    break;
                }
                match buffer.iter().position(|b| *b == b'\n') {
                    Some(at) => {
                        input.consume(at + 1);
                        break;
                    }
                    None => {
                        let all = buffer.len();
                        input.consume(all);
                    }
                }
            }
        }
        let line = match (too_long, std::str::from_utf8(&bytes)) {
            (true, _) => Err(format!(
                "line is longer than {} KiB; send the reply's text only",
                MAX_LINE_BYTES / 1024
            )),
            (false, Ok(text)) => Ok(text.trim_end_matches(['\n', '\r'])),
            (false, Err(error)) => Err(format!(
                "not UTF-8 (a bad byte at {}); send the text as UTF-8",
                error.valid_up_to()
            )),
        };
        if line.as_ref().is_ok_and(|text| text.trim().is_empty()) {
            continue;
        }
        let out = match line.and_then(read_line) {
            Ok(out) => out,
            Err(problem) => {
                writeln!(errors, "bazaar understand: line {number}: {problem}")?;
                Line {
                    intent: "other",
                    price: None,
                    confidence: 0.0,
                    reason: None,
                    error: Some(format!("line {number}: {problem}")),
                }
            }
        };
        let json = serde_json::to_string(&out).map_err(std::io::Error::other)?;
        writeln!(output, "{json}")?;
        output.flush()?;
    }
}

fn read_line(line: &str) -> Result<Line<'static>, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
    let object = value
        .as_object()
        .ok_or_else(|| "not a JSON object".to_string())?;
    let text = match object.get("text") {
        Some(serde_json::Value::String(text)) => text,
        Some(_) => return Err("\"text\" must be a string".into()),
        None => return Err("\"text\" is missing".into()),
    };
    let listing_price = match object.get("listing_price") {
        Some(serde_json::Value::Number(n)) => dollars(n, "listing_price")?,
        Some(_) => return Err("\"listing_price\" must be a number of dollars".into()),
        None => return Err("\"listing_price\" is missing".into()),
    };
    let our_last_offer = match object.get("our_last_offer") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Number(n)) => Some(dollars(n, "our_last_offer")?),
        Some(_) => return Err("\"our_last_offer\" must be a number of dollars or null".into()),
    };
    let reading = understand(&Reply {
        text,
        listing_price,
        our_last_offer,
    });
    Ok(line_of(&reading))
}

/// A reading as one output line says it: intent, price in whole dollars, confidence to two
/// places, reason.
fn line_of(reading: &Reading) -> Line<'static> {
    Line {
        intent: reading.intent.as_str(),
        price: reading.price.map(json_dollars),
        confidence: (reading.confidence * 100.0).round() / 100.0,
        reason: reading.reason.map(|r| r.as_str()),
        error: None,
    }
}

/// A reading as JSON, the way `bazaar understand` writes it (`bazaar parse email` too).
pub fn reading_json(reading: &Reading) -> serde_json::Value {
    serde_json::to_value(line_of(reading)).unwrap_or(serde_json::Value::Null)
}

/// Whole dollars as a JSON number → cents, rounding half up past the cent; read from the
/// number's decimal text, so 12.345 is 1235 cents, not whatever the float says.
fn dollars(number: &serde_json::Number, field: &str) -> Result<Money, String> {
    let too_big = || format!("\"{field}\" is too large");
    if let Some(whole) = number.as_i64() {
        if whole < 0 {
            return Err(format!("\"{field}\" must not be negative"));
        }
        return whole.checked_mul(100).map(Money::usd).ok_or_else(too_big);
    }
    if number.as_u64().is_some() {
        return Err(too_big());
    }
    let text = number.to_string();
    if text.starts_with('-') {
        return Err(format!("\"{field}\" must not be negative"));
    }
    if text.contains(['e', 'E']) {
        let value = number.as_f64().unwrap_or(f64::NAN);
        if !(0.0..1e15).contains(&value) {
            return Err(too_big());
        }
        return Ok(Money::usd((value * 100.0).round() as i64));
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let whole: i64 = whole.parse().map_err(|_| too_big())?;
    let digit = |k: usize| {
        fraction
            .as_bytes()
            .get(k)
            .map_or(0, |b| i64::from(b.saturating_sub(b'0')))
    };
    let round_up = i64::from(digit(2) >= 5);
    whole
        .checked_mul(100)
        .and_then(|cents| cents.checked_add(digit(0) * 10 + digit(1) + round_up))
        .map(Money::usd)
        .ok_or_else(too_big)
}

/// Cents → a JSON number of dollars: `1200`, `12.5`, `0.99`.
fn json_dollars(price: Money) -> Box<RawValue> {
    let text = price.to_decimal_string();
    let text = text.trim_end_matches('0').trim_end_matches('.').to_string();
    let text = if text.is_empty() {
        "0".to_string()
    } else {
        text
    };
    RawValue::from_string(text)
        .unwrap_or_else(|_| RawValue::from_string("null".to_string()).expect("null is JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cents(json: &str) -> Result<i64, String> {
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        let serde_json::Value::Number(n) = value else {
            panic!("not a number")
        };
        dollars(&n, "price").map(|m| m.minor)
    }

    #[test]
    fn json_numbers_are_whole_dollars() {
        assert_eq!(cents("8900"), Ok(890_000));
        assert_eq!(cents("12.5"), Ok(1_250));
        assert_eq!(cents("12.345"), Ok(1_235));
        assert_eq!(cents("0.99"), Ok(99));
        assert_eq!(cents("1e3"), Ok(100_000));
        assert!(cents("-5").is_err());
        assert_eq!(json_dollars(Money::usd(120_000)).get(), "1200");
        assert_eq!(json_dollars(Money::usd(1_250)).get(), "12.5");
        assert_eq!(json_dollars(Money::usd(99)).get(), "0.99");
        assert_eq!(json_dollars(Money::usd(0)).get(), "0");
    }
}
