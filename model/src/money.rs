//! Money as an integer count of minor units with a currency. Never a float.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An ISO 4217 currency Bazaar knows how to format and parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Currency {
    /// US dollar, 2 decimals.
    Usd,
    /// Euro, 2 decimals.
    Eur,
    /// Pound sterling, 2 decimals.
    Gbp,
    /// Canadian dollar, 2 decimals.
    Cad,
    /// Australian dollar, 2 decimals.
    Aud,
    /// Japanese yen, no minor unit.
    Jpy,
}

impl Currency {
    /// The ISO 4217 code, e.g. `"USD"`.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
            Currency::Cad => "CAD",
            Currency::Aud => "AUD",
            Currency::Jpy => "JPY",
        }
    }

    /// How many decimal digits the minor unit has.
    pub fn exponent(self) -> u32 {
        match self {
            Currency::Jpy => 0,
            _ => 2,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Currency::Usd => "$",
            Currency::Eur => "€",
            Currency::Gbp => "£",
            Currency::Cad => "CA$",
            Currency::Aud => "A$",
            Currency::Jpy => "¥",
        }
    }

    /// Parses an ISO code such as `"USD"` (case-insensitive).
    pub fn from_code(code: &str) -> Option<Currency> {
        let all = [
            Currency::Usd,
            Currency::Eur,
            Currency::Gbp,
            Currency::Cad,
            Currency::Aud,
            Currency::Jpy,
        ];
        all.into_iter()
            .find(|c| c.code().eq_ignore_ascii_case(code))
    }
}

/// An amount of money: `minor` units (cents for USD) of `currency`.
///
/// ```
/// use bazaar_model::{Money, Currency};
/// let price: Money = "$1,234.50".parse().unwrap();
/// assert_eq!(price, Money::new(123_450, Currency::Usd));
/// assert_eq!(price.to_string(), "$1,234.50");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(description = "An amount: `minor` units (cents for USD) of `currency`.")
)]
pub struct Money {
    /// The amount in minor units (e.g. cents).
    pub minor: i64,
    pub currency: Currency,
}

/// Why an amount of money could not be parsed or computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The text is not an amount of money.
    #[error("{text:?} is not an amount of money (expected something like \"$1,234.50\" or \"12.00 USD\")")]
    Unparseable {
        /// The offending text.
        text: String,
    },
    /// More decimals than the currency has.
    #[error("{text:?} has more decimals than {currency} allows ({allowed})")]
    TooPrecise {
        /// The offending text.
        text: String,
        /// The currency code.
        currency: &'static str,
        /// How many decimals the currency allows.
        allowed: u32,
    },
    /// The result does not fit in 64 bits.
    #[error("amount overflows")]
    Overflow,
    /// Two amounts in different currencies were combined.
    #[error("cannot combine {left} with {right}")]
    CurrencyMismatch {
        /// Left-hand currency code.
        left: &'static str,
        /// Right-hand currency code.
        right: &'static str,
    },
}

impl Money {
    /// An amount of `minor` units.
    pub const fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// US dollars from cents.
    pub const fn usd(cents: i64) -> Money {
        Money::new(cents, Currency::Usd)
    }

    /// Zero in `currency`.
    pub const fn zero(currency: Currency) -> Money {
        Money::new(0, currency)
    }

    /// `self + other`, failing on overflow or mixed currencies.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    /// `self - other`, failing on overflow or mixed currencies.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    /// `self × n`, failing on overflow.
    pub fn checked_mul(self, n: i64) -> Result<Money, MoneyError> {
        let minor = self.minor.checked_mul(n).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    /// `self × numerator / denominator`, rounded half away from zero; for fees and shares
    /// expressed as basis points (e.g. `ratio(1325, 10_000)` for 13.25 %).
    pub fn checked_ratio(self, numerator: i64, denominator: i64) -> Result<Money, MoneyError> {
        if denominator == 0 {
            return Err(MoneyError::Overflow);
        }
        let product = i128::from(self.minor) * i128::from(numerator);
        let denominator = i128::from(denominator);
        let half = denominator.abs() / 2;
        let rounded = if (product < 0) != (denominator < 0) {
            (product - half * product.signum().abs()) / denominator
        } else {
            (product + half) / denominator
        };
        let minor = i64::try_from(rounded).map_err(|_| MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    /// True when the amount is below zero.
    pub fn is_negative(self) -> bool {
        self.minor < 0
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch {
                left: self.currency.code(),
                right: other.currency.code(),
            });
        }
        Ok(())
    }

    /// Parses a decimal string in a given currency, as eBay sends prices (`"12.50"`).
    pub fn from_decimal_str(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let unparseable = || MoneyError::Unparseable {
            text: text.to_string(),
        };
        let trimmed = text.trim();
        let (negative, digits) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, trimmed),
        };
        let (whole, fraction) = match digits.split_once('.') {
            Some((w, f)) => (w, f),
            None => (digits, ""),
        };
        let whole: String = whole.chars().filter(|c| *c != ',').collect();
        if whole.is_empty() && fraction.is_empty() {
            return Err(unparseable());
        }
        if !whole.chars().all(|c| c.is_ascii_digit())
            || !fraction.chars().all(|c| c.is_ascii_digit())
        {
            return Err(unparseable());
        }
        if !comma_grouping_ok(digits.split('.').next().unwrap_or("")) {
            return Err(unparseable());
        }
        let exponent = currency.exponent();
        if fraction.len() as u32 > exponent {
            return Err(MoneyError::TooPrecise {
                text: text.to_string(),
                currency: currency.code(),
                allowed: exponent,
            });
        }
        let scale = 10i64.pow(exponent);
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| MoneyError::Overflow)?
        };
        let mut fraction_minor: i64 = if fraction.is_empty() {
            0
        } else {
            fraction.parse().map_err(|_| unparseable())?
        };
        for _ in fraction.len() as u32..exponent {
            fraction_minor *= 10;
        }
        let minor = whole
            .checked_mul(scale)
            .and_then(|m| m.checked_add(fraction_minor))
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(if negative { -minor } else { minor }, currency))
    }

    /// The amount as a plain decimal string without symbol or grouping, as eBay wants it
    /// (`"1234.50"`).
    pub fn to_decimal_string(self) -> String {
        let exponent = self.currency.exponent();
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        if exponent == 0 {
            return format!("{sign}{abs}");
        }
        let scale = 10u64.pow(exponent);
        format!(
            "{sign}{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = exponent as usize
        )
    }
}

/// "1,234" is fine, "1,23" and ",1" are not; no commas at all is fine too.
fn comma_grouping_ok(whole: &str) -> bool {
    if !whole.contains(',') {
        return true;
    }
    let mut groups = whole.split(',');
    let first = groups.next().unwrap_or("");
    if first.is_empty() || first.len() > 3 {
        return false;
    }
    groups.all(|g| g.len() == 3)
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exponent = self.currency.exponent();
        let abs = self.minor.unsigned_abs();
        let scale = 10u64.pow(exponent);
        let whole = abs / scale;
        let digits = whole.to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        let sign = if self.minor < 0 { "-" } else { "" };
        let symbol = self.currency.symbol();
        if exponent == 0 {
            return write!(f, "{sign}{symbol}{grouped}");
        }
        write!(
            f,
            "{sign}{symbol}{grouped}.{:0width$}",
            abs % scale,
            width = exponent as usize
        )
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    /// Accepts `"$1,234.50"`, `"-$3"`, `"€12"`, `"12.00 USD"`, `"USD 12"`.
    fn from_str(text: &str) -> Result<Money, MoneyError> {
        let trimmed = text.trim();
        let (negative, rest) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, trimmed),
        };
        let symbols = [
            ("CA$", Currency::Cad),
            ("A$", Currency::Aud),
            ("$", Currency::Usd),
            ("€", Currency::Eur),
            ("£", Currency::Gbp),
            ("¥", Currency::Jpy),
        ];
        let mut parsed = None;
        for (symbol, currency) in symbols {
            if let Some(amount) = rest.strip_prefix(symbol) {
                parsed = Some((currency, amount.trim()));
                break;
            }
        }
        if parsed.is_none() {
            if let Some((a, b)) = rest.split_once(' ') {
                if let Some(currency) = Currency::from_code(b.trim()) {
                    parsed = Some((currency, a.trim()));
                } else if let Some(currency) = Currency::from_code(a.trim()) {
                    parsed = Some((currency, b.trim()));
                }
            }
        }
        let Some((currency, amount)) = parsed else {
            return Err(MoneyError::Unparseable {
                text: text.to_string(),
            });
        };
        if amount.starts_with('-') {
            return Err(MoneyError::Unparseable {
                text: text.to_string(),
            });
        }
        let money = Money::from_decimal_str(amount, currency).map_err(|e| match e {
            MoneyError::Unparseable { .. } => MoneyError::Unparseable {
                text: text.to_string(),
            },
            other => other,
        })?;
        Ok(if negative {
            Money::new(-money.minor, currency)
        } else {
            money
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<(i64, Currency), ()>) {
        let got = text
            .parse::<Money>()
            .map(|m| (m.minor, m.currency))
            .map_err(|_| ());
        assert_eq!(got, expected, "parsing {text:?}");
    }

    #[test]
    fn parses_what_people_and_apis_write() {
        check("$1,234.50", Ok((123_450, Currency::Usd)));
        check("$1234.5", Ok((123_450, Currency::Usd)));
        check("$0.99", Ok((99, Currency::Usd)));
        check("-$3", Ok((-300, Currency::Usd)));
        check("€12", Ok((1_200, Currency::Eur)));
        check("12.00 USD", Ok((1_200, Currency::Usd)));
        check("GBP 7.25", Ok((725, Currency::Gbp)));
        check("¥1,500", Ok((1_500, Currency::Jpy)));
        check("$1,23", Err(()));
        check("$1.234", Err(()));
        check("1234", Err(()));
        check("$", Err(()));
        check("$12abc", Err(()));
        check("$99999999999999999999", Err(()));
    }

    #[test]
    fn displays_with_grouping() {
        let cases = [
            (Money::usd(123_450), "$1,234.50"),
            (Money::usd(5), "$0.05"),
            (Money::usd(-100_000_000), "-$1,000,000.00"),
            (Money::new(1_500, Currency::Jpy), "¥1,500"),
        ];
        for (money, text) in cases {
            assert_eq!(money.to_string(), text);
            assert_eq!(
                text.parse::<Money>().unwrap(),
                money,
                "round trip of {text}"
            );
        }
        assert_eq!(Money::usd(-5).to_decimal_string(), "-0.05");
        assert_eq!(Money::usd(123_450).to_decimal_string(), "1234.50");
    }

    #[test]
    fn arithmetic_is_checked() {
        let a = Money::usd(i64::MAX);
        assert_eq!(a.checked_add(Money::usd(1)), Err(MoneyError::Overflow));
        assert!(Money::usd(1)
            .checked_add(Money::new(1, Currency::Eur))
            .is_err());
        assert_eq!(
            Money::usd(1_000).checked_ratio(1_325, 10_000).unwrap(),
            Money::usd(133)
        );
        assert_eq!(
            Money::usd(-1_000).checked_ratio(1_325, 10_000).unwrap(),
            Money::usd(-133)
        );
        assert_eq!(
            Money::usd(999).checked_sub(Money::usd(1_000)).unwrap(),
            Money::usd(-1)
        );
    }
}
