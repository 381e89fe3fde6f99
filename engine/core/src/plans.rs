//! Plans and their quotas. A tenant's plan (`free`, `starter`, `pro`, `enterprise`;
//! kept in step with Stripe by the billing side) bounds how many shopper messages its
//! assistant answers per calendar month (UTC); past that, a `message` is refused with
//! `quota_exceeded` while cart commands keep working (a shop never loses a sale to a
//! quota).

use chrono::{DateTime, Datelike, TimeZone, Utc};

/// Shopper messages per month a plan includes; `None` is unlimited (and any plan this
/// build does not know, so a new paid plan is never throttled by mistake).
pub fn monthly_message_quota(plan: &str) -> Option<u64> {
    match plan {
        "free" => Some(1_000),
        "starter" => Some(10_000),
        "pro" => Some(100_000),
        _ => None,
    }
}

/// LLM tokens (prompt and completion) per month a plan includes for the remote model;
/// past them the offline assistant answers (the usage API says so). `None`: unlimited.
pub fn monthly_token_quota(plan: &str) -> Option<u64> {
    match plan {
        "free" => Some(200_000),
        "starter" => Some(2_000_000),
        "pro" => Some(20_000_000),
        _ => None,
    }
}

/// The start of the billing month `at` falls in (UTC).
pub fn month_start(at: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0).single().unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_and_months() {
        assert_eq!(monthly_message_quota("free"), Some(1_000));
        assert!(monthly_message_quota("pro") > monthly_message_quota("starter"));
        assert_eq!(monthly_message_quota("enterprise"), None);
        assert_eq!(monthly_message_quota("something-new"), None);
        assert!(monthly_token_quota("free") < monthly_token_quota("starter"));
        assert!(monthly_token_quota("starter") < monthly_token_quota("pro"));
        assert_eq!(monthly_token_quota("enterprise"), None);
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 3, 40, 0).unwrap();
        assert_eq!(month_start(t), Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
        assert_eq!(month_start(month_start(t)), month_start(t));
    }
}
