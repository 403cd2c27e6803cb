//! Messages: what is sent ([`OutgoingMail`], rendered to RFC 5322 bytes), what is received
//! ([`MailMessage`]: raw bytes kept, headers and text parsed with mail-parser), and
//! [`MessageId`]s with their threading helpers.

use std::fmt;

use base64::Engine;
use chrono::{DateTime, Utc};
use mail_parser::{HeaderValue, MessageParser};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::transport::MailError;

/// Received messages larger than this are cut (and marked [`MailMessage::truncated`]).
pub const MAX_RAW_BYTES: usize = 2 * 1024 * 1024;
/// The text body kept from a received message, in characters.
pub const MAX_TEXT_CHARS: usize = 64 * 1024;
/// Longest subject sent, in characters (longer ones are cut).
const MAX_SUBJECT_CHARS: usize = 500;

/// A Message-ID without its angle brackets (`local@domain`); displayed as `<local@domain>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(String);

impl MessageId {
    /// Parses `<id@host>` or `id@host`; refuses whitespace, brackets inside, or no `@`.
    pub fn new(id: &str) -> Result<Self, MailError> {
        let inner = id.trim();
        let inner = inner
            .strip_prefix('<')
            .and_then(|s| s.strip_suffix('>'))
            .unwrap_or(inner);
        let valid = !inner.is_empty()
            && inner.len() <= 250
            && inner.contains('@')
            && !inner.starts_with('@')
            && !inner.ends_with('@')
            && inner
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '<' && c != '>');
        if valid {
            Ok(Self(inner.to_owned()))
        } else {
            Err(MailError::InvalidMessage(format!("bad Message-ID {id:?}")))
        }
    }

    /// The deterministic Message-ID for `seed` (an action id, an idempotency key): the same
    /// seed always gives the same id, so a sent message can be found again by it.
    pub fn derive(seed: &str, domain: &str) -> Self {
        let digest = Sha256::new()
            .chain_update(b"bazaar-mail-message-id\0")
            .chain_update(seed.as_bytes())
            .finalize();
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        let domain: String = domain
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
            .collect();
        let domain = if domain.is_empty() {
            "bazaar.invalid".to_owned()
        } else {
            domain.to_ascii_lowercase()
        };
        Self(format!("{hex}@{domain}"))
    }

    /// The id without brackets.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Every Message-ID in a header value such as References (`<a@x> <b@y>`), in order;
    /// anything unparseable is skipped.
    pub fn parse_list(value: &str) -> Vec<Self> {
        let mut ids = Vec::new();
        let mut rest = value;
        while let Some(start) = rest.find('<') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('>') else { break };
            if let Ok(id) = Self::new(&after[..end]) {
                ids.push(id);
            }
            rest = &after[end + 1..];
        }
        if ids.is_empty() {
            ids = value
                .split_whitespace()
                .filter_map(|t| Self::new(t).ok())
                .collect();
        }
        ids
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.0)
    }
}

/// Parses `Name <user@host>` or `user@host` into the bare address, lower case.
pub fn parse_address(text: &str) -> Result<String, MailError> {
    let t = text.trim();
    let addr = match (t.rfind('<'), t.ends_with('>')) {
        (Some(i), true) => &t[i + 1..t.len() - 1],
        _ => t,
    };
    let bad = || MailError::InvalidAddress(text.to_owned());
    let (local, domain) = addr.rsplit_once('@').ok_or_else(bad)?;
    let ok_local = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    let ok_domain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    if local.is_empty()
        || domain.is_empty()
        || addr.len() > 254
        || !local.chars().all(ok_local)
        || !domain.chars().all(ok_domain)
    {
        return Err(bad());
    }
    Ok(addr.to_ascii_lowercase())
}

/// A message to send. Every header comes from the fields (nothing is added from the wall
/// clock or a random source), so the same `OutgoingMail` always renders the same bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingMail {
    /// The sender's address.
    pub from: String,
    /// The sender's display name, if any.
    pub from_name: Option<String>,
    /// The recipients.
    pub to: Vec<String>,
    /// The subject (one line).
    pub subject: String,
    /// This message's id.
    pub message_id: MessageId,
    /// The message this answers.
    pub in_reply_to: Option<MessageId>,
    /// The thread so far, oldest first.
    pub references: Vec<MessageId>,
    /// The Date header (from the sender's clock).
    pub date: DateTime<Utc>,
    /// The text/plain body.
    pub text: String,
}

impl OutgoingMail {
    /// A new message starting a thread.
    pub fn new(
        from: &str,
        to: &str,
        subject: &str,
        text: &str,
        message_id: MessageId,
        date: DateTime<Utc>,
    ) -> Self {
        Self {
            from: from.to_owned(),
            from_name: None,
            to: vec![to.to_owned()],
            subject: subject.to_owned(),
            message_id,
            in_reply_to: None,
            references: Vec::new(),
            date,
            text: text.to_owned(),
        }
    }

    /// A reply to `parent`, sent from `from` to the parent's Reply-To (or From): subject
    /// `Re: …` (not doubled), In-Reply-To = the parent's Message-ID, References = the
    /// parent's References followed by the parent's Message-ID.
    pub fn reply_to(
        parent: &MailMessage,
        from: &str,
        text: &str,
        message_id: MessageId,
        date: DateTime<Utc>,
    ) -> Self {
        let env = &parent.envelope;
        let already = env
            .subject
            .get(..3)
            .is_some_and(|p| p.eq_ignore_ascii_case("re:"));
        let subject = if already {
            env.subject.clone()
        } else {
            format!("Re: {}", env.subject)
        };
        let mut references = env.references.clone();
        if let Some(id) = &env.message_id {
            if !references.contains(id) {
                references.push(id.clone());
            }
        }
        let to = env.reply_to.clone().or_else(|| env.from.clone());
        Self {
            from: from.to_owned(),
            from_name: None,
            to: to.into_iter().collect(),
            subject,
            message_id,
            in_reply_to: env.message_id.clone(),
            references,
            date,
            text: text.to_owned(),
        }
    }

    /// The sender and recipients, checked and lower-cased.
    pub fn addresses(&self) -> Result<(String, Vec<String>), MailError> {
        let from = parse_address(&self.from)?;
        let to = self
            .to
            .iter()
            .map(|a| parse_address(a))
            .collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err(MailError::InvalidMessage("no recipient".into()));
        }
        Ok((from, to))
    }

    /// The RFC 5322 bytes (CRLF line ends; UTF-8 subjects and names as RFC 2047 encoded
    /// words; a body that is not short-lined ASCII goes base64).
    pub fn to_rfc5322(&self) -> Result<Vec<u8>, MailError> {
        let (from, to) = self.addresses()?;
        let mut h = String::new();
        h.push_str(&format!("Date: {}\r\n", self.date.to_rfc2822()));
        match self
            .from_name
            .as_deref()
            .map(one_line)
            .filter(|n| !n.is_empty())
        {
            Some(name) => h.push_str(&format!("From: {} <{from}>\r\n", display_name(&name))),
            None => h.push_str(&format!("From: {from}\r\n")),
        }
        h.push_str(&format!("To: {}\r\n", to.join(",\r\n ")));
        let subject: String = one_line(&self.subject)
            .chars()
            .take(MAX_SUBJECT_CHARS)
            .collect();
        h.push_str(&format!("Subject: {}\r\n", encode_word(&subject)));
        h.push_str(&format!("Message-ID: {}\r\n", self.message_id));
        if let Some(parent) = &self.in_reply_to {
            h.push_str(&format!("In-Reply-To: {parent}\r\n"));
        }
        if !self.references.is_empty() {
            let refs: Vec<String> = self.references.iter().map(|r| r.to_string()).collect();
            h.push_str(&format!("References: {}\r\n", refs.join("\r\n ")));
        }
        h.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n");

        let text = self.text.replace("\r\n", "\n");
        let plain = text.is_ascii() && text.lines().all(|l| l.len() <= 998 && !l.contains('\r'));
        let body = if plain {
            h.push_str("Content-Transfer-Encoding: 7bit\r\n");
            let mut b = text.replace('\n', "\r\n");
            if !b.ends_with("\r\n") {
                b.push_str("\r\n");
            }
            b
        } else {
            h.push_str("Content-Transfer-Encoding: base64\r\n");
            let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
            let mut b = String::with_capacity(encoded.len() + encoded.len() / 38);
            for chunk in encoded.as_bytes().chunks(76) {
                b.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
                b.push_str("\r\n");
            }
            b
        };
        h.push_str("\r\n");
        h.push_str(&body);
        Ok(h.into_bytes())
    }
}

/// Control characters (line breaks included) become spaces: a header value stays one line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

fn display_name(name: &str) -> String {
    if !name.is_ascii() {
        encode_word(name)
    } else {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// ASCII as is; anything else as RFC 2047 `=?utf-8?B?…?=` words (≤ 45 bytes each, split at
/// character boundaries), folded one per line.
fn encode_word(s: &str) -> String {
    if s.is_ascii() {
        return s.to_owned();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in s.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| {
            let b = base64::engine::general_purpose::STANDARD.encode(w.as_bytes());
            format!("=?utf-8?B?{b}?=")
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// The headers of a received message that matter for routing and threading.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The From address (lower case).
    pub from: Option<String>,
    /// The From display name.
    pub from_name: Option<String>,
    /// The Reply-To address, if any.
    pub reply_to: Option<String>,
    /// The To addresses.
    pub to: Vec<String>,
    /// The subject (decoded; empty if none).
    pub subject: String,
    /// The Message-ID.
    pub message_id: Option<MessageId>,
    /// The In-Reply-To Message-ID (the first one, if several).
    pub in_reply_to: Option<MessageId>,
    /// The References, oldest first.
    pub references: Vec<MessageId>,
    /// The Date header.
    pub date: Option<DateTime<Utc>>,
}

impl Envelope {
    /// Every Message-ID this message points back to (References, then In-Reply-To), for
    /// finding the thread it belongs to.
    pub fn thread_ids(&self) -> impl Iterator<Item = &MessageId> {
        self.references.iter().chain(self.in_reply_to.iter())
    }
}

/// A received message: its UID in the owner's mailbox, parsed headers, the text body and
/// the raw bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailMessage {
    /// The UID in the mailbox it was fetched from.
    pub uid: u32,
    /// The parsed headers.
    pub envelope: Envelope,
    /// The text: the text/plain part, or an HTML-only body with its tags stripped;
    /// LF line ends; at most [`MAX_TEXT_CHARS`] characters.
    pub text: String,
    /// What the writer wrote in this message: the text without the history their mail
    /// client quoted ([`crate::new_text`]; an HTML-only body loses its quote containers
    /// before it becomes text). What a reader of the reply reads.
    pub body: String,
    /// The raw bytes were longer than [`MAX_RAW_BYTES`] or the text longer than
    /// [`MAX_TEXT_CHARS`], and were cut.
    pub truncated: bool,
    /// The raw RFC 5322 bytes as delivered (at most [`MAX_RAW_BYTES`]).
    pub raw: Vec<u8>,
}

impl MailMessage {
    /// Parses raw RFC 5322 bytes (MIME, charsets, encoded words: mail-parser). Never fails:
    /// unparseable input gives empty headers and text.
    pub fn parse(uid: u32, mut raw: Vec<u8>) -> Self {
        let mut truncated = false;
        if raw.len() > MAX_RAW_BYTES {
            raw.truncate(MAX_RAW_BYTES);
            truncated = true;
        }
        let (envelope, text, fresh) = match MessageParser::default().parse(&raw[..]) {
            Some(m) => {
                let first = |a: Option<&mail_parser::Address<'_>>| {
                    a.and_then(|a| a.first())
                        .and_then(|a| a.address())
                        .and_then(|a| parse_address(a).ok())
                };
                let envelope = Envelope {
                    from: first(m.from()),
                    from_name: m
                        .from()
                        .and_then(|a| a.first())
                        .and_then(|a| a.name())
                        .map(str::to_owned),
                    reply_to: first(m.reply_to()),
                    to: m
                        .to()
                        .map(|a| {
                            a.iter()
                                .filter_map(|a| a.address())
                                .filter_map(|a| parse_address(a).ok())
                                .collect()
                        })
                        .unwrap_or_default(),
                    subject: m.subject().unwrap_or_default().to_owned(),
                    message_id: m.message_id().and_then(|id| MessageId::new(id).ok()),
                    in_reply_to: ids(m.in_reply_to()).into_iter().next(),
                    references: ids(m.references()),
                    date: m
                        .date()
                        .and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0)),
                };
                let text = m
                    .body_text(0)
                    .map(|t| t.replace("\r\n", "\n"))
                    .unwrap_or_default();
                let html_only = m
                    .text_body
                    .first()
                    .and_then(|&part| m.part(part))
                    .is_some_and(|part| part.is_text_html());
                let fresh = match m.body_html(0).filter(|_| html_only) {
                    Some(html) => mail_parser::decoders::html::html_to_text(
                        &crate::quotes::strip_html_quotes(&html),
                    )
                    .replace("\r\n", "\n"),
                    None => text.clone(),
                };
                (envelope, text, fresh)
            }
            None => (Envelope::default(), String::new(), String::new()),
        };
        let text = if text.chars().count() > MAX_TEXT_CHARS {
            truncated = true;
            text.chars().take(MAX_TEXT_CHARS).collect()
        } else {
            text
        };
        let fresh: String = fresh.chars().take(MAX_TEXT_CHARS).collect();
        Self {
            uid,
            envelope,
            body: crate::quotes::new_text(&fresh),
            text,
            truncated,
            raw,
        }
    }
}

fn ids(value: &HeaderValue<'_>) -> Vec<MessageId> {
    match value {
        HeaderValue::Text(t) => MessageId::parse_list(t),
        HeaderValue::TextList(list) => list.iter().flat_map(|t| MessageId::parse_list(t)).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let a = MessageId::derive("action-1", "bazaar.test");
        assert_eq!(a, MessageId::derive("action-1", "bazaar.test"));
        assert_ne!(a, MessageId::derive("action-2", "bazaar.test"));
        assert!(a.as_str().ends_with("@bazaar.test"));
        assert_eq!(MessageId::new(&a.to_string()).unwrap(), a);
    }

    #[test]
    fn renders_and_parses_back() {
        let date = Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap();
        let mut mail = OutgoingMail::new(
            "Agent@Bazaar.test",
            "Seller 1 <seller1@bazaar.test>",
            "Fahrrad für 120 € — noch da?",
            "Hallo,\nwäre 100 € ok?\n",
            MessageId::derive("a", "bazaar.test"),
            date,
        );
        mail.from_name = Some("Sam \"the buyer\"".into());
        mail.references = vec![MessageId::derive("r", "bazaar.test")];
        let parsed = MailMessage::parse(1, mail.to_rfc5322().unwrap());
        let e = &parsed.envelope;
        assert_eq!(e.from.as_deref(), Some("agent@bazaar.test"));
        assert_eq!(e.from_name.as_deref(), Some("Sam \"the buyer\""));
        assert_eq!(e.to, vec!["seller1@bazaar.test".to_owned()]);
        assert_eq!(e.subject, mail.subject);
        assert_eq!(e.message_id.as_ref(), Some(&mail.message_id));
        assert_eq!(e.references, mail.references);
        assert_eq!(e.date, Some(date));
        assert_eq!(parsed.text, "Hallo,\nwäre 100 € ok?\n");
    }

    #[test]
    fn html_only_and_multipart() {
        let html = b"From: a@x.test\r\nTo: b@x.test\r\nSubject: hi\r\nMessage-ID: <1@x.test>\r\n\
Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Still <b>available</b>, $80 firm</p></body></html>\r\n";
        let m = MailMessage::parse(1, html.to_vec());
        assert!(m.text.contains("Still available, $80 firm"), "{:?}", m.text);
        assert!(!m.text.contains('<'));

        let multi = b"From: a@x.test\r\nTo: b@x.test\r\nSubject: hi\r\n\
In-Reply-To: <p@x.test>\r\nReferences: <o@x.test>\r\n <p@x.test>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
plain text\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>html text</p>\r\n--b--\r\n";
        let m = MailMessage::parse(2, multi.to_vec());
        assert_eq!(m.text.trim(), "plain text");
        assert_eq!(m.envelope.in_reply_to, MessageId::new("p@x.test").ok());
        assert_eq!(m.envelope.references.len(), 2);
        assert_eq!(m.envelope.message_id, None);
    }

    #[test]
    fn caps_sizes() {
        let date = Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap();
        let big = "x".repeat(MAX_TEXT_CHARS + 10);
        let mail = OutgoingMail::new(
            "a@x.test",
            "b@x.test",
            "s",
            &big,
            MessageId::derive("b", "x.test"),
            date,
        );
        let m = MailMessage::parse(1, mail.to_rfc5322().unwrap());
        assert!(m.truncated);
        assert_eq!(m.text.chars().count(), MAX_TEXT_CHARS);
    }

    #[test]
    fn refuses_bad_addresses() {
        assert!(parse_address("no at sign").is_err());
        assert!(parse_address("a b@x.test").is_err());
        assert!(parse_address("a@x.test\r\nBcc: c@y.test").is_err());
        assert_eq!(parse_address(" \"A\" <A@X.test> ").unwrap(), "a@x.test");
    }
}
