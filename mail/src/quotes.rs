//! The new text of a reply: what its writer wrote, without the history their mail client
//! quoted under (or above) it.
//!
//! Real clients mark history in many ways, so the rules are one table each for text and
//! HTML, each rule named for a client it was seen in (the fixtures under
//! `../shared/data/real/email/` are tested one by one):
//!
//! - quoted lines (`> …`), wherever they are: a reply written below the quote (Thunderbird,
//!   bottom-posting) keeps its new text;
//! - an attribution ("On Mon, Apr 2, 2012 at 6:26 PM, Megan <m@x> wrote:", wrapped over two
//!   lines by Gmail and iOS; "26.06.2014, 14:41, … :"; "02.04.2012 14:20 пользователь …
//!   написал:"; "Le … a écrit :", "Am … schrieb …:"): followed by quoted lines, those are
//!   skipped and what comes after is kept; followed by unquoted history, the rest goes;
//! - separators after which everything is history: `----- Original Message -----` (Yahoo,
//!   Comcast, Outlook), a line of underscores (Outlook), a header block (`From:` … `Sent:` /
//!   `Date:` … `Subject:`, and `От:` … `Отправлено:`; Outlook, Hotmail), `Begin forwarded
//!   message:`;
//! - signatures: a `-- ` line and "Sent from my iPhone"-style lines end the new text;
//! - in HTML, before the text is read: `blockquote` elements, Gmail's `gmail_quote` and
//!   Thunderbird's `moz-cite-prefix` containers are removed (what follows them stays), and
//!   Outlook's `divRplyFwdMsg` and Hotmail's `stopSpelling` rule cut the rest.

/// The most lines an attribution is wrapped over.
const ATTRIBUTION_LINES: usize = 3;

/// Words that end an attribution in the languages sellers write in.
const WROTE: &[&str] = &[
    "wrote:",
    "wrote :",
    "написал:",
    "написала:",
    "написал(а):",
    "a écrit :",
    "a écrit:",
    "schrieb:",
    "escribió:",
    "scrisse:",
    "skrev:",
    "schreef:",
];

/// Lines after which everything is history.
const SEPARATORS: &[&str] = &[
    "----- original message -----",
    "-----original message-----",
    "--- original message ---",
    "-------- original message --------",
    "-------- пересылаемое сообщение --------",
    "begin forwarded message:",
    "---------- forwarded message ----------",
];

/// Lines that open a signature (the rest is not new text either).
const SIGNATURES: &[&str] = &[
    "sent from my iphone",
    "sent from my ipad",
    "sent from my android",
    "sent from my samsung",
    "sent from my mobile",
    "sent from my phone",
    "sent from mail for windows",
    "sent from yahoo mail",
    "get outlook for",
    "отправлено с iphone",
];

/// Header names that open a header block of quoted history, and the names one of which
/// must follow within a few lines for it to be one.
const HEADER_OPENERS: &[&str] = &["from:", "date:", "от:"];
const HEADER_FOLLOWERS: &[&str] = &["sent:", "date:", "subject:", "to:", "отправлено:", "тема:"];

/// The new text of a plain-text reply (see the module doc).
///
/// ```
/// use bazaar_mail::new_text;
/// let reply = "150 firm\n\nOn Tue, Mar 3, 2026 at 9:00 AM Bazaar <a@b.c> wrote:\n> would you take $120?";
/// assert_eq!(new_text(reply), "150 firm");
/// let below = "On 04/02/2012 06:26 PM, Megan One wrote:\n> Hi\nHello";
/// assert_eq!(new_text(below), "Hello");
/// ```
pub fn new_text(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let lower = lines[i].trim().to_lowercase();
        if lower == "--" || lines[i] == "-- " || SIGNATURES.iter().any(|s| lower.starts_with(s)) {
            break;
        }
        if is_separator(&lower) || header_block_at(&lines, i) {
            break;
        }
        if let Some(span) = attribution_at(&lines, i) {
            // Quoted history after it: skip the attribution, the quote goes line by line and
            // what follows it (bottom-posting) stays. Unquoted history: the rest goes.
            let next = lines[i + span..].iter().find(|l| !l.trim().is_empty());
            if next.is_some_and(|l| l.trim_start().starts_with('>')) {
                i += span;
                continue;
            }
            break;
        }
        if !lines[i].trim_start().starts_with('>') {
            kept.push(lines[i]);
        }
        i += 1;
    }
    kept.join("\n").trim().to_string()
}

fn is_separator(lower: &str) -> bool {
    let underscores = lower.len() >= 20 && lower.chars().all(|c| c == '_');
    underscores || SEPARATORS.iter().any(|s| lower.starts_with(s))
}

/// A header block at line `i`: `From:` (or `Date:`) followed within three lines by
/// `Sent:`, `Subject:`, `To:` ….
fn header_block_at(lines: &[&str], i: usize) -> bool {
    let opens = |line: &str| {
        let lower = line.trim().to_lowercase();
        HEADER_OPENERS.iter().any(|h| lower.starts_with(h))
    };
    if !opens(lines[i]) {
        return false;
    }
    lines[i + 1..].iter().take(3).any(|line| {
        let lower = line.trim().to_lowercase();
        HEADER_FOLLOWERS.iter().any(|h| lower.starts_with(h))
    })
}

/// The number of lines of an attribution starting at line `i`, if one does.
fn attribution_at(lines: &[&str], i: usize) -> Option<usize> {
    let first = lines[i].trim().to_lowercase();
    let starts_like_one = ["on ", "le ", "am ", "el "]
        .iter()
        .any(|w| first.starts_with(w))
        || has_date(&first)
        || first.contains('@')
        || WROTE.iter().any(|w| first.ends_with(w));
    if !starts_like_one {
        return None;
    }
    let mut joined = String::new();
    for (n, line) in lines[i..].iter().take(ATTRIBUTION_LINES).enumerate() {
        if n > 0 && line.trim().is_empty() {
            return None;
        }
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(line.trim());
        let lower = joined.to_lowercase();
        if !lower.ends_with(':') {
            continue;
        }
        let says_wrote = WROTE.iter().any(|w| lower.ends_with(w));
        let opens_like_one = lower.starts_with("on ")
            || lower.starts_with("le ")
            || lower.starts_with("am ")
            || lower.starts_with("el ");
        let dated = has_date(&lower) && (lower.contains('@') || says_wrote);
        if (says_wrote && (opens_like_one || has_date(&lower) || lower.contains('@'))) || dated {
            return Some(n + 1);
        }
        return None;
    }
    None
}

/// A date in a line: `26.06.2014`, `04/02/2012`, `2014-06-26`, or a four-digit year.
fn has_date(lower: &str) -> bool {
    let bytes = lower.as_bytes();
    let mut run = 0;
    for &b in bytes {
        if b.is_ascii_digit() {
            run += 1;
            if run == 4 {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

/// HTML markers before which history is removed or after which it all is.
const HTML_CUTS: &[&str] = &[
    "id=\"divrplyfwdmsg\"",
    "id=\"stopspelling\"",
    "id='stopspelling'",
];

/// Quote containers removed one by one at most; past this many (no real reply has them)
/// everything from the next one on is history too, which keeps the work bounded.
const MOST_QUOTE_ELEMENTS: usize = 64;

/// `html` without its quoted history (see the module doc); the rest untouched.
pub fn strip_html_quotes(html: &str) -> String {
    let mut html = html.to_string();
    // ASCII lowercasing keeps every byte where it was, so positions found in `lower` cut
    // `html` on the same character boundaries (full lowercasing changes lengths: `İ`).
    let lower = html.to_ascii_lowercase();
    if let Some(at) = HTML_CUTS
        .iter()
        .filter_map(|marker| lower.find(marker))
        .min()
    {
        let tag_start = lower[..at].rfind('<').unwrap_or(at);
        html.truncate(tag_start);
    }
    let targets = [
        ("div", "class=\"gmail_quote\""),
        ("div", "class=\"moz-cite-prefix\""),
        ("blockquote", ""),
    ];
    // Kept beside `html`, cut the same way, so it is lowercased once.
    let mut lower = html.to_ascii_lowercase();
    let mut removed = 0;
    loop {
        let next = targets
            .iter()
            .filter_map(|(tag, marker)| element_span(&lower, tag, marker))
            .min();
        let Some((start, end)) = next else {
            return html;
        };
        if removed == MOST_QUOTE_ELEMENTS {
            html.truncate(start);
            return html;
        }
        html.replace_range(start..end, "");
        lower.replace_range(start..end, "");
        removed += 1;
    }
}

/// The byte span of the first `<tag …marker…>…</tag>` element (nesting counted) in
/// ASCII-lowercased HTML, if any.
fn element_span(lower: &str, tag: &str, marker: &str) -> Option<(usize, usize)> {
    let open = format!("<{tag}");
    let close = format!("</{tag}");
    let mut from = 0;
    let start = loop {
        let at = from + lower[from..].find(&open)?;
        let tag_end = at + lower[at..].find('>')?;
        let after_name = lower[at + open.len()..].chars().next();
        let is_tag = after_name.is_some_and(|c| c.is_whitespace() || c == '>' || c == '/');
        if is_tag && lower[at..tag_end].contains(marker) {
            break at;
        }
        from = tag_end;
    };
    // Each search starts past the last one of its kind: linear however deep the nesting.
    let after = |from: usize, what: &str| lower[from..].find(what).map(|i| i + from);
    let mut depth = 0usize;
    let mut next_open = after(start + 1, &open);
    let mut next_close = after(start + 1, &close)?;
    loop {
        match next_open {
            Some(o) if o < next_close => {
                depth += 1;
                next_open = after(o + 1, &open);
            }
            _ => {
                if depth == 0 {
                    let end =
                        next_close + lower[next_close..].find('>').map_or(close.len(), |i| i + 1);
                    return Some((start, end));
                }
                depth -= 1;
                next_close = after(next_close + 1, &close)?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_history_is_stripped() {
        let check = |text: &str, want: &str| assert_eq!(new_text(text), want, "{text:?}");
        check("150 firm\n\nOn Tue, Mar 3, 2026 at 9:00 AM Bazaar <a@b.c> wrote:\n> would you take $120?", "150 firm");
        check("ok deal\n> $120\n> thanks", "ok deal");
        check(
            "sure\n\n-----Original Message-----\nFrom: x\nwould you take 5",
            "sure",
        );
        check("line one\nline two", "line one\nline two");
        check("> only quotes", "");
        // Gmail wraps a long attribution; iOS too.
        check(
            "Hello\n\nOn Mon, Apr 2, 2012 at 6:26 PM, Megan One <\nxxx@gmail.com> wrote:\n\n> Hi",
            "Hello",
        );
        check("Hello\n\nSent from my iPhone\n\nOn Apr 3, 2012, at 4:19 PM, bob <bob@example.com> wrote:\n\n> Hi", "Hello");
        // Non-English attributions.
        check("Hello\n02.04.2012 14:20 пользователь \"bob@xxx.mailgun.org\" <\nbob@xxx.mailgun.org> написал:\n\n> Hi", "Hello");
        check(
            "Ok\n\n26.06.2014, 14:41, \"Alexander\" <abc@example.com>:\n> Hello! How are you?",
            "Ok",
        );
        // Yahoo's and Outlook's separators and header blocks.
        check("Hello\n\n\n----- Original Message -----\nFrom: \"bob\" <bob@x.org>\nTo: a@b.c\nSent: Monday\nSubject: Test\n\nHi", "Hello");
        check("Hello\n\nFrom: xxx@x.org [mailto:xxx@x.org]\nSent: March-09-12 4:22 PM\nTo: Dan\nSubject: Loop\n\nHi dan", "Hello");
        check(
            "80 is fine\n________________________________\nFrom: us\nwould you take 60",
            "80 is fine",
        );
        // Bottom-posting keeps what comes after the quote.
        check(
            "On 04/02/2012 06:26 PM, Megan One wrote:\n> Hi\nHello",
            "Hello",
        );
        // A colon at the end of an ordinary line is not an attribution.
        check(
            "Here is what I can do:\n$80 and it's yours",
            "Here is what I can do:\n$80 and it's yours",
        );
        check(
            "It comes with:\n- the charger\n- the case",
            "It comes with:\n- the charger\n- the case",
        );
    }

    #[test]
    fn html_that_lowercases_to_other_lengths_or_repeats_quotes_is_safe() {
        // `İ` lowercases to three bytes; positions must still fall on its boundaries.
        assert_eq!(
            strip_html_quotes("İ<blockquote>x</blockquote>é ok"),
            "İé ok"
        );
        let started = std::time::Instant::now();
        let many = format!("new{}", "<blockquote>old</blockquote>".repeat(50_000));
        assert_eq!(strip_html_quotes(&many), "new");
        let deep = format!("new{}", "<blockquote>".repeat(50_000));
        assert_eq!(
            strip_html_quotes(&deep),
            deep,
            "unclosed: nothing to remove"
        );
        assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    }

    #[test]
    fn html_quote_containers_go_and_the_rest_stays() {
        let check = |html: &str, gone: &str, kept: &str| {
            let out = strip_html_quotes(html);
            assert!(!out.contains(gone), "{gone:?} in {out:?}");
            assert!(out.contains(kept), "{kept:?} not in {out:?}");
        };
        check(
            "Hello<br><div class=\"gmail_quote\">On Mon wrote:<blockquote class=\"gmail_quote\">Hi<div>x</div></blockquote></div><br>",
            "On Mon",
            "Hello",
        );
        check(
            "Thanks<div class=\"moz-cite-prefix\">On 26.06.2014 wrote:<br></div><blockquote type=\"cite\"><blockquote>old</blockquote>Hello!</blockquote>New below",
            "Hello!",
            "New below",
        );
        check(
            "Fine.<hr id=\"stopSpelling\">Date: Thu<br>From: a",
            "Date:",
            "Fine.",
        );
        check(
            "<div>Fine.</div><div id=\"divRplyFwdMsg\">From: a</div>",
            "From:",
            "Fine.",
        );
        check("<p>no quotes here</p>", "blockquote", "no quotes here");
    }
}
