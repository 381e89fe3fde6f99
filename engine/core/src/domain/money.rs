//! Money in integer minor units. There is no floating point anywhere money flows.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::DomainError;

/// An ISO 4217 currency that is in use: one of [`ISO_4217`]. Codes for testing (`XTS`),
/// "no currency" (`XXX`), precious metals, fund codes and withdrawn currencies are
/// refused, so a price can always be read by its currency's exponent.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

/// The active ISO 4217 currencies with their exponent (digits after the decimal point),
/// as the ISO 4217 list gives them (amendments up to 2025: `ZWG`, `XCG`, `SLE`, `VED`).
/// A table rather than a crate: the list changes a few times a decade, and the crates
/// carry the fund, metal and test codes that have to be filtered out anyway. `ANG` and
/// `BGN` (being replaced by `XCG` and the euro) stay readable for existing shops.
pub const ISO_4217: &[(&str, u8)] = &[
    ("AED", 2), ("AFN", 2), ("ALL", 2), ("AMD", 2), ("ANG", 2), ("AOA", 2), ("ARS", 2), ("AUD", 2), ("AWG", 2),
    ("AZN", 2), ("BAM", 2), ("BBD", 2), ("BDT", 2), ("BGN", 2), ("BHD", 3), ("BIF", 0), ("BMD", 2), ("BND", 2),
    ("BOB", 2), ("BRL", 2), ("BSD", 2), ("BTN", 2), ("BWP", 2), ("BYN", 2), ("BZD", 2), ("CAD", 2), ("CDF", 2),
    ("CHF", 2), ("CLP", 0), ("CNY", 2), ("COP", 2), ("CRC", 2), ("CUP", 2), ("CVE", 2), ("CZK", 2), ("DJF", 0),
    ("DKK", 2), ("DOP", 2), ("DZD", 2), ("EGP", 2), ("ERN", 2), ("ETB", 2), ("EUR", 2), ("FJD", 2), ("FKP", 2),
    ("GBP", 2), ("GEL", 2), ("GHS", 2), ("GIP", 2), ("GMD", 2), ("GNF", 0), ("GTQ", 2), ("GYD", 2), ("HKD", 2),
    ("HNL", 2), ("HTG", 2), ("HUF", 2), ("IDR", 2), ("ILS", 2), ("INR", 2), ("IQD", 3), ("IRR", 2), ("ISK", 0),
    ("JMD", 2), ("JOD", 3), ("JPY", 0), ("KES", 2), ("KGS", 2), ("KHR", 2), ("KMF", 0), ("KPW", 2), ("KRW", 0),
    ("KWD", 3), ("KYD", 2), ("KZT", 2), ("LAK", 2), ("LBP", 2), ("LKR", 2), ("LRD", 2), ("LSL", 2), ("LYD", 3),
    ("MAD", 2), ("MDL", 2), ("MGA", 2), ("MKD", 2), ("MMK", 2), ("MNT", 2), ("MOP", 2), ("MRU", 2), ("MUR", 2),
    ("MVR", 2), ("MWK", 2), ("MXN", 2), ("MYR", 2), ("MZN", 2), ("NAD", 2), ("NGN", 2), ("NIO", 2), ("NOK", 2),
    ("NPR", 2), ("NZD", 2), ("OMR", 3), ("PAB", 2), ("PEN", 2), ("PGK", 2), ("PHP", 2), ("PKR", 2), ("PLN", 2),
    ("PYG", 0), ("QAR", 2), ("RON", 2), ("RSD", 2), ("RUB", 2), ("RWF", 0), ("SAR", 2), ("SBD", 2), ("SCR", 2),
    ("SDG", 2), ("SEK", 2), ("SGD", 2), ("SHP", 2), ("SLE", 2), ("SOS", 2), ("SRD", 2), ("SSP", 2), ("STN", 2),
    ("SVC", 2), ("SYP", 2), ("SZL", 2), ("THB", 2), ("TJS", 2), ("TMT", 2), ("TND", 3), ("TOP", 2), ("TRY", 2),
    ("TTD", 2), ("TWD", 2), ("TZS", 2), ("UAH", 2), ("UGX", 0), ("USD", 2), ("UYU", 2), ("UZS", 2), ("VED", 2),
    ("VES", 2), ("VND", 0), ("VUV", 0), ("WST", 2), ("XAF", 0), ("XCD", 2), ("XCG", 2), ("XOF", 0), ("XPF", 0),
    ("YER", 2), ("ZAR", 2), ("ZMW", 2), ("ZWG", 2),
];

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    /// A known ISO 4217 code, any case, surrounding spaces ignored.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let t = s.trim();
        let b = t.as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_alphabetic) {
            let code = [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase(), b[2].to_ascii_uppercase()];
            if Self::lookup(&code).is_some() {
                return Ok(Self(code));
            }
        }
        Err(DomainError::InvalidCurrency(t.chars().take(16).collect()))
    }

    fn lookup(code: &[u8; 3]) -> Option<u8> {
        ISO_4217.binary_search_by(|(c, _)| c.as_bytes().cmp(&code[..])).ok().map(|i| ISO_4217[i].1)
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Digits after the decimal point, from ISO 4217: 0 for JPY, 2 for USD, 3 for KWD.
    pub fn exponent(&self) -> u32 {
        // Every constructed Currency is in the table.
        Self::lookup(&self.0).map_or(2, u32::from)
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

    /// Parses a price written as digits with at most one `.` as the decimal separator
    /// (`19.99`, `19.9`, `19`), with no more fraction digits than the currency's ISO 4217
    /// exponent (`4000` JPY, `19.99` USD, `1.234` KWD), into minor units, without going
    /// through floating point.
    ///
    /// Anything that would need a guess is refused rather than read: a comma (`19,99` is
    /// 19.99 in much of Europe and `1,999` is 1999 in the US), digit separators (`1_000`,
    /// `1 000`), signs, exponents, currency symbols, more fraction digits than the
    /// currency has (`19.990` in USD, `4000.5` in JPY: in a file from a shop that groups
    /// thousands with `.`, `1.000` is a thousand). Amounts above `i64::MAX` minor units
    /// are refused too. The error says why.
    pub fn parse_decimal(s: &str, currency: Currency) -> Result<Self, DomainError> {
        let t = s.trim();
        let bad = |why: String| DomainError::InvalidPrice(format!("{:?}: {why}", t.chars().take(32).collect::<String>()));
        if t.is_empty() {
            return Err(bad("the price is empty".into()));
        }
        if t.contains(',') {
            return Err(bad(
                "a comma is ambiguous (decimal or thousands separator); write the price with '.' as the decimal separator and no grouping, e.g. 1299.00".into(),
            ));
        }
        if t.starts_with('-') {
            return Err(bad("a price cannot be negative".into()));
        }
        if let Some(c) = t.chars().find(|c| !c.is_ascii_digit() && *c != '.') {
            let why = match c {
                '_' | ' ' | '\'' | '\u{a0}' | '\u{202f}' => "digit separators are not allowed".to_string(),
                '+' => "signs are not allowed".to_string(),
                'e' | 'E' => "exponent notation is not allowed".to_string(),
                _ => format!("only digits and one '.' are allowed, found {c:?}"),
            };
            return Err(bad(why));
        }
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        if frac.contains('.') {
            return Err(bad("more than one '.'".into()));
        }
        if int.is_empty() || (t.contains('.') && frac.is_empty()) {
            return Err(bad("write digits on both sides of '.'".into()));
        }
        let exp = currency.exponent() as usize;
        if frac.len() > exp {
            return Err(bad(if exp == 0 {
                format!("{currency} has no minor unit, so no decimals")
            } else {
                format!("{currency} has {exp} decimal places, this has {}", frac.len())
            }));
        }
        let too_large = || bad("too large".into());
        let mut minor: i64 = 0;
        let digits = int.bytes().chain(frac.bytes()).chain(std::iter::repeat_n(b'0', exp - frac.len()));
        for b in digits {
            minor = minor.checked_mul(10).and_then(|m| m.checked_add(i64::from(b - b'0'))).ok_or_else(too_large)?;
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

    fn cur(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn parses_prices_by_the_currency_exponent() {
        let (usd, jpy, kwd) = (Currency::USD, cur("jpy"), cur("KWD"));
        let ok: &[(&str, Currency, i64)] = &[
            ("19.99", usd, 1999),
            ("19.9", usd, 1990),
            ("19", usd, 1900),
            (" 0.10 ", usd, 10),
            ("007", usd, 700),
            ("1299.00", usd, 129900),
            ("4000", jpy, 4000),
            ("0", jpy, 0),
            ("1.234", kwd, 1234),
            ("1.2", kwd, 1200),
            ("5", kwd, 5000),
            ("92233720368547758.07", usd, i64::MAX),
        ];
        for (s, c, minor) in ok {
            assert_eq!(Money::parse_decimal(s, *c).map(|m| m.minor), Ok(*minor), "{s} {c}");
        }
        let refused: &[(&str, Currency, &str)] = &[
            ("19,99", usd, "comma"),
            ("1,999.00", usd, "comma"),
            ("1,299", jpy, "comma"),
            ("1_000", usd, "separators"),
            ("1 000", usd, "separators"),
            ("4000.5", jpy, "no minor unit"),
            ("4000.0", jpy, "no minor unit"),
            ("19.999", usd, "2 decimal places"),
            ("19.990", usd, "2 decimal places"),
            ("1.2345", kwd, "3 decimal places"),
            ("-1", usd, "negative"),
            ("+1", usd, "signs"),
            ("1e3", usd, "exponent"),
            ("$19.99", usd, "only digits"),
            ("abc", usd, "only digits"),
            ("1.2.3", usd, "more than one"),
            (".5", usd, "both sides"),
            ("5.", usd, "both sides"),
            ("", usd, "empty"),
            ("92233720368547758.08", usd, "too large"),
            ("99999999999999999999", jpy, "too large"),
        ];
        for (s, c, why) in refused {
            let e = Money::parse_decimal(s, *c).expect_err(s).to_string();
            assert!(e.contains(why), "{s} {c}: {e}");
        }
    }

    #[test]
    fn only_active_iso_4217_codes_are_currencies() {
        for code in ["XXX", "XTS", "XAU", "ABC", "USN", "CLF", "HRK", "US", "U$D", "USDD", ""] {
            assert!(Currency::parse(code).is_err(), "{code}");
        }
        assert_eq!(cur(" eur ").as_str(), "EUR");
        assert_eq!((cur("JPY").exponent(), cur("USD").exponent(), cur("KWD").exponent()), (0, 2, 3));
        assert!(serde_json::from_str::<Currency>("\"XXX\"").is_err());
        assert_eq!(serde_json::from_str::<Currency>("\"sek\"").unwrap(), cur("SEK"));
        let codes: Vec<&str> = ISO_4217.iter().map(|(c, _)| *c).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(codes, sorted, "the table is sorted, without repeats (lookup is a binary search)");
        assert!(ISO_4217.iter().all(|(c, e)| c.len() == 3 && *e <= 3));
    }

    #[test]
    fn displays_with_symbol_and_grouping() {
        assert_eq!(Money::new(1999, Currency::USD).display(), "$19.99");
        assert_eq!(Money::new(129900, Currency::USD).display(), "$1,299.00");
        assert_eq!(Money::new(5, Currency::USD).display(), "$0.05");
        assert_eq!(Money::new(129900, Currency::parse("SEK").unwrap()).display(), "1,299.00 SEK");
    }
}
