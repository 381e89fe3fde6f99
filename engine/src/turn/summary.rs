//! Summaries of a conversation's older turns. A remote model is sent only the newest
//! messages that fit `HISTORY_TOKEN_BUDGET`; what is left out is not lost: a job
//! (`JobKind::Summarize`, through the job-queue port) writes a short summary of every
//! message but the newest [`KEEP_RECENT`], kept beside the conversation
//! (`Store::put_conversation_summary`), and the turn puts it before the history it
//! sends whenever that history had to be cut.
//!
//! The summary is extractive: a line per message, its first sentence cut short, the
//! newest lines kept when they pass [`SUMMARY_MAX_CHARS`]. It costs no tokens, needs no
//! model, and says nothing the conversation did not.

use crate::ports::store::{Role, TranscriptMessage};

/// The newest messages a summary leaves out (they are sent whole).
pub const KEEP_RECENT: usize = 8;
/// New messages (shopper's and assistant's) after which the summary is written again.
pub const SUMMARY_EVERY: usize = 10;
/// The longest summary, in characters.
pub const SUMMARY_MAX_CHARS: usize = 1_500;
/// The longest line of a summary, in characters.
const LINE_CHARS: usize = 140;

/// The summary of `messages` (oldest first), or `None` when there is nothing to say.
pub fn summarize(messages: &[TranscriptMessage]) -> Option<String> {
    let mut lines: Vec<String> = messages
        .iter()
        .filter_map(|m| {
            let who = match m.role {
                Role::Shopper => "Shopper",
                Role::Assistant => "Assistant",
                Role::Staff => "Staff",
            };
            let gist = first_sentence(&m.text);
            (!gist.is_empty()).then(|| format!("- {who}: {gist}"))
        })
        .collect();
    // The newest lines matter most: drop the oldest until it fits.
    let mut total: usize = lines.iter().map(|l| l.chars().count() + 1).sum();
    let mut dropped = 0;
    while total > SUMMARY_MAX_CHARS && !lines.is_empty() {
        total -= lines.remove(0).chars().count() + 1;
        dropped += 1;
    }
    if lines.is_empty() {
        return None;
    }
    let head = if dropped > 0 { format!("(and {dropped} older messages)\n") } else { String::new() };
    Some(format!("{head}{}", lines.join("\n")))
}

/// The first sentence of a message on one line, cut to `LINE_CHARS` at a word.
fn first_sentence(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let end = flat.char_indices().find(|(i, c)| matches!(c, '.' | '!' | '?') && flat[i + c.len_utf8()..].starts_with(' ')).map(|(i, c)| i + c.len_utf8());
    let sentence = &flat[..end.unwrap_or(flat.len())];
    if sentence.chars().count() <= LINE_CHARS {
        return sentence.to_string();
    }
    let cut: String = sentence.chars().take(LINE_CHARS).collect();
    let at_word = cut.rfind(' ').map_or(cut.as_str(), |i| &cut[..i]);
    format!("{at_word}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn m(role: Role, text: &str) -> TranscriptMessage {
        TranscriptMessage { role, text: text.into(), at: Utc::now() }
    }

    #[test]
    fn a_summary_has_a_line_per_message_newest_kept() {
        assert_eq!(summarize(&[]), None);
        assert_eq!(summarize(&[m(Role::Shopper, "   ")]), None);
        let s = summarize(&[
            m(Role::Shopper, "Do you have hoodies? I need a warm one."),
            m(Role::Assistant, "Yes! Here are three: the Hero Hoodie, ..."),
        ])
        .unwrap();
        assert_eq!(s, "- Shopper: Do you have hoodies?\n- Assistant: Yes!");
        let long = "word ".repeat(100);
        let s = summarize(&[m(Role::Shopper, &long)]).unwrap();
        assert!(s.chars().count() <= LINE_CHARS + 12 && s.ends_with('…'), "{s}");
        let many: Vec<_> = (0..100).map(|i| m(Role::Shopper, &format!("message number {i} about socks"))).collect();
        let s = summarize(&many).unwrap();
        assert!(s.chars().count() <= SUMMARY_MAX_CHARS + 40, "{}", s.len());
        assert!(s.starts_with("(and ") && s.ends_with("message number 99 about socks"), "{s}");
    }
}
