//! Splitting a message into words, numbers and punctuation, with every way people write an
//! amount turned into one number token: "$1,200", "1200", "1.2k", "12k", "twelve hundred",
//! "one fifty", "a buck fifty", "2 grand".

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Word,
    Number,
    Punct,
}

/// One token of a lowercased message.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub kind: Kind,
    /// The word, the punctuation character, or the number as written.
    pub text: String,
    /// For numbers: the value in hundredths (cents for dollars).
    pub hundredths: i64,
    /// Whitespace (or the start of the text) came right before it.
    pub space_before: bool,
    /// For numbers: letters glued right before it ("s8", "rx300").
    pub letter_before: bool,
    /// For numbers: letters glued right after it ("64gb", "20th"), not counting a `k`.
    pub suffix: String,
    /// For numbers: a money sign or word is attached ("$40", "40$", "40 bucks").
    pub money: bool,
    /// For numbers: written with a size word or suffix ("1.2k", "2 grand", "twelve hundred").
    pub scaled: bool,
    /// For numbers: written with a comma grouping or decimals ("1,200", "12.50").
    pub formatted: bool,
    /// For numbers: the number of digits before any decimal point (0 for words).
    pub digits: usize,
    /// For numbers: spelled out in words.
    pub spelled: bool,
    /// For numbers: a "buck fifty" reading that may mean 1.50 or 150 (`hundredths` holds 150).
    pub buck_slang: bool,
}

impl Token {
    fn new(kind: Kind, text: String, space_before: bool) -> Token {
        Token {
            kind,
            text,
            hundredths: 0,
            space_before,
            letter_before: false,
            suffix: String::new(),
            money: false,
            scaled: false,
            formatted: false,
            digits: 0,
            spelled: false,
            buck_slang: false,
        }
    }

    /// True for a word token equal to `word`.
    pub fn is_word(&self, word: &str) -> bool {
        self.kind == Kind::Word && self.text == word
    }

    /// True for a punctuation token equal to `ch`.
    pub fn is_punct(&self, ch: char) -> bool {
        self.kind == Kind::Punct && self.text.starts_with(ch)
    }

    /// Whole dollars (or major units), rounded down.
    pub fn whole(&self) -> i64 {
        self.hundredths / 100
    }
}

/// Lowercases `text`, blanks phone numbers, and splits it into tokens; number words are
/// merged into number tokens and money words mark the numbers they follow.
pub(crate) fn tokenize(text: &str) -> Vec<Token> {
    let lower = blank_phone_numbers(&normalize(text));
    let raw = split(&lower);
    let merged = merge_number_words(raw);
    mark_money(merged)
}

fn normalize(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' | '`' => '\'',
            '\u{201c}' | '\u{201d}' => '"',
            '\u{2013}' | '\u{2014}' => '-',
            c => c,
        })
        .collect::<String>()
        .to_lowercase()
}

/// Replaces phone numbers ("555-123-4567", "(555) 123 4567", "5551234567", "555-1234") with
/// the word `phonenumber`, so no part of them reads as a price.
fn blank_phone_numbers(text: &str) -> String {
    /// Longer runs of digits and separators are not phone numbers ("1 (555) 123 - 4567" is
    /// 18); the cap keeps the scan linear in the text.
    const LONGEST_PHONE: usize = 32;
    let chars: Vec<char> = text.chars().collect();
    let in_run = |c: char| c.is_ascii_digit() || "-. ()".contains(c);
    // For each position in a run of digits and separators: the end of the run trimmed to
    // its last digit, found in one backward pass rather than a scan from every position.
    let mut trimmed_end = vec![0; chars.len()];
    let mut last_digit_end = None;
    for k in (0..chars.len()).rev() {
        if !in_run(chars[k]) {
            last_digit_end = None;
            continue;
        }
        if chars[k].is_ascii_digit() && last_digit_end.is_none() {
            last_digit_end = Some(k + 1);
        }
        trimmed_end[k] = last_digit_end.unwrap_or(k);
    }
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts_run = chars[i].is_ascii_digit()
            || (chars[i] == '(' && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()));
        let glued = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '$');
        let end = trimmed_end[i];
        if !starts_run || glued || end - i > LONGEST_PHONE {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let run: String = chars[i..end].iter().collect();
        let groups: Vec<usize> = run
            .split(|c: char| !c.is_ascii_digit())
            .filter(|g| !g.is_empty())
            .map(str::len)
            .collect();
        let followed_by_letter = chars.get(end).is_some_and(|c| c.is_alphanumeric());
        let phone = !followed_by_letter
            && (matches!(groups.as_slice(), [3, 3, 4] | [1, 3, 3, 4] | [10] | [11])
                || (groups.as_slice() == [3, 4] && run.contains('-') && !run.contains(' ')));
        if phone {
            out.push_str(" phonenumber ");
            i = end;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn split(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut space = true;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            space = true;
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let letter_before = i > 0 && chars[i - 1].is_alphabetic();
            let (token, next) = read_number(&chars, i, space, letter_before);
            tokens.push(token);
            i = next;
            space = false;
            continue;
        }
        if c.is_alphabetic() {
            let mut end = i;
            while end < chars.len()
                && (chars[end].is_alphabetic()
                    || (chars[end] == '\''
                        && chars.get(end + 1).is_some_and(|c| c.is_alphabetic())))
            {
                end += 1;
            }
            let word: String = chars[i..end].iter().filter(|c| **c != '\'').collect();
            tokens.push(Token::new(Kind::Word, word, space));
            i = end;
            space = false;
            continue;
        }
        tokens.push(Token::new(Kind::Punct, c.to_string(), space));
        space = false;
        i += 1;
    }
    tokens
}

/// Reads "1,200", "12.50", "1.2k", "64gb" starting at `start`.
fn read_number(chars: &[char], start: usize, space: bool, letter_before: bool) -> (Token, usize) {
    let mut end = start;
    let mut whole = String::new();
    let mut fraction = String::new();
    let mut formatted = false;
    while end < chars.len() {
        let c = chars[end];
        if c.is_ascii_digit() {
            whole.push(c);
            end += 1;
            continue;
        }
        let group_follows = chars.len() >= end + 4
            && chars[end + 1..end + 4].iter().all(char::is_ascii_digit)
            && chars.get(end + 4).is_none_or(|c| !c.is_ascii_digit());
        if c == ',' && !whole.is_empty() && group_follows {
            formatted = true;
            end += 1;
            continue;
        }
        break;
    }
    if end < chars.len()
        && chars[end] == '.'
        && chars.get(end + 1).is_some_and(char::is_ascii_digit)
    {
        end += 1;
        while end < chars.len() && chars[end].is_ascii_digit() {
            fraction.push(chars[end]);
            end += 1;
        }
        formatted = true;
    }
    let mut suffix = String::new();
    let mut suffix_end = end;
    while suffix_end < chars.len() && chars[suffix_end].is_alphabetic() {
        suffix.push(chars[suffix_end]);
        suffix_end += 1;
    }
    let text: String = chars[start..end].iter().collect();
    let mut token = Token::new(Kind::Number, text, space);
    token.letter_before = letter_before;
    token.formatted = formatted;
    token.digits = whole.len();
    token.hundredths = hundredths(&whole, &fraction);
    if suffix == "k" {
        token.hundredths = token.hundredths.saturating_mul(1000);
        token.scaled = true;
    } else {
        token.suffix = suffix;
    }
    (token, suffix_end)
}

/// "12" and "5" → 1250; saturates on absurd lengths.
fn hundredths(whole: &str, fraction: &str) -> i64 {
    let whole: i64 = if whole.len() > 15 {
        i64::MAX / 1000
    } else {
        whole.parse().unwrap_or(0)
    };
    let mut cents: i64 = 0;
    let digits: Vec<i64> = fraction
        .chars()
        .filter_map(|c| c.to_digit(10).map(i64::from))
        .collect();
    if let Some(tenths) = digits.first() {
        cents += tenths * 10;
    }
    if let Some(hundredth) = digits.get(1) {
        cents += hundredth;
    }
    if digits.get(2).is_some_and(|d| *d >= 5) {
        cents += 1;
    }
    whole.saturating_mul(100).saturating_add(cents)
}

fn small_number(word: &str) -> Option<i64> {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 8] = [
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    if let Some(n) = ONES.iter().position(|w| *w == word) {
        return Some(n as i64);
    }
    if word == "fourty" {
        return Some(40);
    }
    TENS.iter()
        .position(|w| *w == word)
        .map(|n| (n as i64 + 2) * 10)
}

/// Reads "twenty five", "twenty-five", "ninety" starting at `i`: (value, tokens used).
fn below_hundred(tokens: &[Token], i: usize) -> Option<(i64, usize)> {
    let first = tokens.get(i).filter(|t| t.kind == Kind::Word)?;
    let value = small_number(&first.text)?;
    if value < 20 || value % 10 != 0 {
        return Some((value, 1));
    }
    let mut j = i + 1;
    if tokens
        .get(j)
        .is_some_and(|t| t.is_punct('-') && !t.space_before)
    {
        j += 1;
    }
    match tokens
        .get(j)
        .filter(|t| t.kind == Kind::Word)
        .and_then(|t| small_number(&t.text))
    {
        Some(ones) if (1..10).contains(&ones) => Some((value + ones, j + 1 - i)),
        _ => Some((value, 1)),
    }
}

/// Reads a spelled-out amount at `i`: (whole units, tokens used, slang "buck" reading).
fn spelled_amount(tokens: &[Token], i: usize) -> Option<(i64, usize, bool)> {
    let word = |k: usize| tokens.get(k).filter(|t| t.kind == Kind::Word);
    let is = |k: usize, w: &str| word(k).is_some_and(|t| t.text == w);
    // "a buck fifty", "buck twenty"
    let buck_at = if is(i, "a") && is(i + 1, "buck") {
        Some(i + 1)
    } else if is(i, "buck") {
        Some(i)
    } else {
        None
    };
    if let Some(b) = buck_at {
        let (rest, used) = below_hundred(tokens, b + 1)?;
        if rest < 10 {
            return None;
        }
        return Some((100 + rest, b + 1 + used - i, true));
    }
    // "a hundred", "a grand", "a thousand"
    let (lead, mut used) = if is(i, "a") {
        (1, 1)
    } else {
        below_hundred(tokens, i)?
    };
    let next = i + used;
    if is(next, "hundred") {
        used += 1;
        let mut total = lead * 100;
        let mut k = next + 1;
        if is(k, "and") && word(k + 1).and_then(|t| small_number(&t.text)).is_some() {
            k += 1;
        }
        if let Some((rest, more)) = below_hundred(tokens, k) {
            if rest > 0 {
                total += rest;
                used = k + more - i;
            }
        }
        return Some((total, used, false));
    }
    if is(next, "thousand") || is(next, "grand") {
        return Some((lead * 1000, used + 1, false));
    }
    if lead == 1 && is(i, "a") {
        return None;
    }
    // "one fifty", "two twenty five": a digit word then a two-digit amount
    if (1..10).contains(&lead) && used == 1 {
        if let Some((rest, more)) = below_hundred(tokens, next) {
            if rest >= 10 {
                return Some((lead * 100 + rest, 1 + more, false));
            }
        }
    }
    Some((lead, used, false))
}

fn merge_number_words(tokens: Vec<Token>) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        // "12 hundred", "2 thousand", "2 grand"
        if token.kind == Kind::Number && token.hundredths < 100 * 100 {
            let scale = match tokens.get(i + 1) {
                Some(t) if t.is_word("hundred") => 100,
                Some(t) if t.is_word("thousand") || t.is_word("grand") => 1000,
                _ => 1,
            };
            if scale > 1 && token.suffix.is_empty() {
                let mut merged = token.clone();
                merged.hundredths *= scale;
                merged.scaled = true;
                out.push(merged);
                i += 2;
                continue;
            }
        }
        if token.kind == Kind::Number && tokens.get(i + 1).is_some_and(|t| t.is_word("hundred")) {
            // "$2200 hundred": the word adds nothing
            out.push(token.clone());
            i += 2;
            continue;
        }
        if token.kind == Kind::Word {
            if let Some((value, used, slang)) = spelled_amount(&tokens, i) {
                let mut merged = Token::new(Kind::Number, token.text.clone(), token.space_before);
                merged.hundredths = value * 100;
                merged.spelled = true;
                merged.scaled = value >= 100;
                merged.buck_slang = slang;
                out.push(merged);
                i += used;
                continue;
            }
        }
        out.push(token.clone());
        i += 1;
    }
    out
}

/// Marks numbers with "$" before or after, or followed by "bucks" / "dollars" / "usd".
fn mark_money(mut tokens: Vec<Token>) -> Vec<Token> {
    for i in 0..tokens.len() {
        if tokens[i].kind != Kind::Number {
            continue;
        }
        let before = i > 0 && (tokens[i - 1].is_punct('$'));
        let after = tokens.get(i + 1).is_some_and(|t| {
            t.is_punct('$')
                || ["bucks", "buck", "dollars", "dollar", "usd", "dlls"].contains(&t.text.as_str())
        });
        let glued = ["bucks", "dollars", "usd"].contains(&tokens[i].suffix.as_str());
        if before || after || glued {
            tokens[i].money = true;
        }
        if glued {
            tokens[i].suffix.clear();
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(text: &str) -> Vec<i64> {
        tokenize(text)
            .iter()
            .filter(|t| t.kind == Kind::Number)
            .map(|t| t.hundredths)
            .collect()
    }

    #[test]
    fn amounts_as_people_write_them() {
        assert_eq!(numbers("$1,200"), vec![120_000]);
        assert_eq!(numbers("1.2k or 12k"), vec![120_000, 1_200_000]);
        assert_eq!(numbers("twelve hundred"), vec![120_000]);
        assert_eq!(numbers("a buck fifty"), vec![15_000]);
        assert_eq!(numbers("one fifty"), vec![15_000]);
        assert_eq!(numbers("twenty-five bucks"), vec![2_500]);
        assert_eq!(numbers("2 grand"), vec![200_000]);
        assert_eq!(numbers("$12.50"), vec![1_250]);
        assert_eq!(numbers("call 555-123-4567"), Vec::<i64>::new());
        assert_eq!(numbers("five hundred and fifty"), vec![55_000]);
    }
}
