//! Money in integer minor units. There is no floating point anywhere money flows.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::DomainError;

/// An ISO-4217 code, three upper-case ASCII letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let s = s.trim();
        let b = s.as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_alphabetic) {
            Ok(Self([
                b[0].to_ascii_uppercase(),
                b[1].to_ascii_uppercase(),
                b[2].to_ascii_uppercase(),
            ]))
        } else {
            Err(DomainError::InvalidCurrency(s.chars().take(16).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Digits after the decimal point. The few zero-decimal currencies we may meet
    /// are listed; everything else uses two (ISO-4217 three-decimal currencies are
    /// not sold by the shops we target yet).
    pub fn exponent(&self) -> u32 {
        match self.as_str() {
            "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "HUF" | "TWD" | "UGX" | "XAF" | "XOF" => 0,
            _ => 2,
        }
    }

    /// A symbol for human-readable text, when a common one exists.
    pub fn symbol(&self) -> Option<&'static str> {
        match self.as_str() {
            "USD" => Some("$"),
            "EUR" => Some("€"),
            "GBP" => Some("£"),
            "INR" => Some("₹"),
            "JPY" => Some("¥"),
            _ => None,
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, DomainError> {
        Self::parse(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_string()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount of money: integer minor units of a currency.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Parses a decimal string like `19.99`, `19.9`, `19` or `1,299.00` into minor units
    /// without going through floating point. Negative amounts are refused.
    pub fn parse_decimal(s: &str, currency: Currency) -> Result<Self, DomainError> {
        let bad = || DomainError::InvalidPrice(s.chars().take(32).collect());
        let t: String = s.trim().chars().filter(|c| *c != ',' && *c != '_').collect();
        let t = t.strip_prefix('$').unwrap_or(&t);
        if t.is_empty() || t.starts_with('-') {
            return Err(bad());
        }
        let exp = currency.exponent() as usize;
        let (int, frac) = match t.split_once('.') {
            Some((i, f)) => (i, f),
            None => (t, ""),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        // Extra fractional digits must be zeros: 19.990 is fine, 19.999 is not a price.
        if frac.len() > exp && frac[exp..].bytes().any(|b| b != b'0') {
            return Err(bad());
        }
        let mut minor: i64 = 0;
        for b in int.bytes() {
            minor = minor.checked_mul(10).and_then(|m| m.checked_add((b - b'0') as i64)).ok_or_else(bad)?;
        }
        for i in 0..exp {
            let d = frac.as_bytes().get(i).map(|b| (b - b'0') as i64).unwrap_or(0);
            minor = minor.checked_mul(10).and_then(|m| m.checked_add(d)).ok_or_else(bad)?;
        }
        Ok(Self { minor, currency })
    }

    /// `$19.99`, `€5.00`, `1,299.00 SEK`: for the assistant's text only.
    pub fn display(&self) -> String {
        let exp = self.currency.exponent();
        let neg = self.minor < 0;
        let abs = self.minor.unsigned_abs();
        let div = 10u64.pow(exp);
        let int = abs / div;
        let frac = abs % div;
        let int_s = group_thousands(int);
        let num = if exp == 0 { int_s } else { format!("{int_s}.{frac:0width$}", width = exp as usize) };
        let sign = if neg { "-" } else { "" };
        match self.currency.symbol() {
            Some(sym) => format!("{sign}{sym}{num}"),
            None => format!("{sign}{num} {}", self.currency),
        }
    }
}

fn group_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_prices_exactly() {
        let usd = Currency::USD;
        assert_eq!(Money::parse_decimal("19.99", usd).unwrap().minor, 1999);
        assert_eq!(Money::parse_decimal("19.9", usd).unwrap().minor, 1990);
        assert_eq!(Money::parse_decimal("19", usd).unwrap().minor, 1900);
        assert_eq!(Money::parse_decimal("1,299.00", usd).unwrap().minor, 129900);
        assert_eq!(Money::parse_decimal("0.10", usd).unwrap().minor, 10);
        assert_eq!(Money::parse_decimal("45.000000", usd).unwrap().minor, 4500);
        assert!(Money::parse_decimal("19.999", usd).is_err());
        assert!(Money::parse_decimal("-1", usd).is_err());
        assert!(Money::parse_decimal("abc", usd).is_err());
        assert!(Money::parse_decimal("", usd).is_err());
        assert!(Money::parse_decimal("99999999999999999999", usd).is_err());
        let jpy = Currency::parse("jpy").unwrap();
        assert_eq!(Money::parse_decimal("500", jpy).unwrap().minor, 500);
    }

    #[test]
    fn displays_with_symbol_and_grouping() {
        assert_eq!(Money::new(1999, Currency::USD).display(), "$19.99");
        assert_eq!(Money::new(129900, Currency::USD).display(), "$1,299.00");
        assert_eq!(Money::new(5, Currency::USD).display(), "$0.05");
        assert_eq!(Money::new(129900, Currency::parse("SEK").unwrap()).display(), "1,299.00 SEK");
    }

    #[test]
    fn currency_codes_are_three_letters() {
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("U$D").is_err());
        assert_eq!(Currency::parse("eur").unwrap().as_str(), "EUR");
    }
}
