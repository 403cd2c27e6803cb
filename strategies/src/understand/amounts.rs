//! Which numbers in a message are prices, and what each one is doing: the seller's own
//! price, the buyer's number refused, or the price of something else.

use super::tokens::{Kind, Token};

/// What a price-like number is doing in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A price the seller would sell at ("I can do 80", "150 firm", "$20 off").
    Proposal,
    /// The buyer's number, refused ("I can't do 50", "50 is too low").
    Rejected,
    /// The buyer's number repeated as a question ("50?"): refused unless the message agrees.
    Echo,
    /// The price of something else, or of the past ("I paid 300", "$500 deposit").
    Reference,
}

/// A price-like number and what it does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Amount {
    /// In hundredths of the listing's currency unit.
    pub hundredths: i64,
    pub role: Role,
    /// How surely a proposal is the seller's price: 1 a bare number … 4 a floor or "firm".
    pub strength: u8,
    /// Written as "$20 off" (asking − 20) rather than stated.
    pub derived: bool,
    /// The lower end of a range ("80-90").
    pub range: bool,
}

/// What the message is answering: prices in hundredths.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context {
    pub listing: i64,
    pub last_offer: Option<i64>,
}

const UNITS: &[&str] = &[
    "miles",
    "mile",
    "mi",
    "mpg",
    "km",
    "kms",
    "kilometers",
    "gb",
    "gig",
    "gigs",
    "tb",
    "mb",
    "inch",
    "inches",
    "ft",
    "feet",
    "foot",
    "sq",
    "sqft",
    "square",
    "years",
    "year",
    "yrs",
    "yr",
    "months",
    "weeks",
    "week",
    "days",
    "day",
    "hours",
    "hour",
    "hrs",
    "hr",
    "minutes",
    "mins",
    "min",
    "seconds",
    "secs",
    "pm",
    "am",
    "oclock",
    "percent",
    "x",
    "bedroom",
    "bedrooms",
    "bed",
    "beds",
    "br",
    "bd",
    "bdr",
    "bdrm",
    "bath",
    "baths",
    "ba",
    "bathroom",
    "bathrooms",
    "people",
    "person",
    "persons",
    "kids",
    "children",
    "chairs",
    "chair",
    "pieces",
    "piece",
    "pcs",
    "items",
    "speed",
    "speeds",
    "spd",
    "cc",
    "hp",
    "mm",
    "cm",
    "lbs",
    "lb",
    "pound",
    "kg",
    "watts",
    "watt",
    "w",
    "v",
    "volt",
    "volts",
    "amp",
    "amps",
    "mah",
    "mp",
    "megapixel",
    "times",
    "owners",
    "owner",
    "seats",
    "seater",
    "drawers",
    "shelves",
    "games",
    "cases",
    "phones",
    "units",
    "stories",
    "story",
    "floors",
    "floor",
    "cylinder",
    "cyl",
    "liter",
    "liters",
    "gallon",
    "gallons",
    "oz",
    "ounces",
    "degrees",
    "people",
    "others",
    "tires",
    "wheels",
    "gears",
    "doors",
    "door",
    "bikes",
    "sets",
    "set",
    "of",
    "car",
    "cars",
    "spaces",
    "space",
    "parking",
    "blocks",
    "block",
    "min",
    "minute",
    "stops",
    "stop",
    "star",
    "stars",
    "foot",
    "ways",
    "th",
    "st",
    "nd",
    "rd",
    "yo",
    "year-old",
    "old",
    "months",
    "month",
    "weeks",
    "nights",
    "night",
    "pairs",
    "pair",
    "boxes",
    "bags",
    "cables",
    "speakers",
    "tv",
    "hdmi",
    "gen",
    "generation",
    "series",
    "ghz",
    "mhz",
    "hz",
    "core",
    "cores",
    "ram",
    "ssd",
    "hdd",
    "dpi",
    "fps",
    "kw",
    "kwh",
    "point",
    "lanes",
    "lane",
    "rooms",
    "room",
    "bedroom",
    "levels",
    "level",
    "steps",
    "counts",
    "count",
    "layers",
    "swivel",
    "degree",
    "view",
    "sizes",
    "size",
    "colors",
    "colours",
    "extra",
    "used",
    "kid",
    "students",
    "student",
    "tenants",
    "roommates",
    "dogs",
    "cats",
    "pets",
    "shirts",
    "books",
    "copies",
    "tickets",
    "plates",
    "mugs",
    "cups",
    "glasses",
];

/// Units a money sign does not rescue ("$2,000 deposit" is still money, but not the price:
/// those are references; these mean the number was never money).
const HARD_UNITS: &[&str] = &[
    "miles", "mile", "mi", "mpg", "km", "kms", "gb", "tb", "mb", "inch", "inches", "ft", "feet",
    "sq", "sqft", "percent", "bedroom", "bedrooms", "br", "bd", "bath", "baths", "ba", "pm", "am",
    "oclock", "hp", "cc", "mah", "ghz",
];

const MODEL_WORDS: &[&str] = &[
    "iphone",
    "galaxy",
    "note",
    "s",
    "model",
    "version",
    "v",
    "gen",
    "generation",
    "series",
    "ipad",
    "ipod",
    "xbox",
    "ps",
    "playstation",
    "windows",
    "win",
    "macbook",
    "pixel",
    "android",
    "ios",
    "os",
    "number",
    "size",
    "sz",
    "room",
    "apt",
    "apartment",
    "unit",
    "suite",
    "ste",
    "bldg",
    "building",
    "floor",
    "level",
    "lot",
    "street",
    "st",
    "ave",
    "avenue",
    "route",
    "hwy",
    "highway",
    "interstate",
    "i",
    "zip",
    "code",
    "channel",
    "hdmi",
    "usb",
    "grade",
    "class",
    "type",
    "mark",
    "mk",
    "edition",
    "chapter",
    "page",
    "step",
    "day",
    "week",
    "top",
    "phase",
    "area",
    "gate",
    "plan",
    "ip",
    "ios",
    "bart",
    "exit",
    "pro",
    "plus",
    "mini",
    "air",
    "watch",
    "surface",
    "lumia",
    "moto",
    "nexus",
    "xperia",
    "vol",
    "volume",
    "part",
    "item",
    "rev",
    "gtx",
    "rtx",
    "core",
    "ryzen",
    "intel",
    "amd",
    "firmware",
    "age",
    "aged",
    "ages",
    "kids",
    "kid",
    "boy",
    "girl",
    "son",
    "daughter",
    "nephew",
    "niece",
    "grade",
    "apple",
    "samsung",
    "lg",
    "sony",
    "nokia",
    "htc",
    "jbl",
    "bose",
    "canon",
    "nikon",
    "specialized",
    "trek",
    "giant",
    "cannondale",
    "schwinn",
    "honda",
    "toyota",
    "ford",
    "bmw",
    "audi",
    "mazda",
    "nissan",
    "lexus",
    "acura",
    "infiniti",
    "dodge",
    "chevy",
    "chevrolet",
    "jeep",
    "kia",
    "hyundai",
    "subaru",
    "volvo",
    "vw",
    "mercedes",
    "benz",
    "tesla",
    "prius",
    "civic",
    "accord",
    "camry",
    "corolla",
    "mustang",
    "f",
    "ram",
    "silverado",
    "tahoe",
    "explorer",
    "focus",
    "fusion",
    "altima",
    "sentra",
    "wrangler",
    "cherokee",
    "outback",
    "forester",
    "golf",
    "jetta",
    "passat",
    "rav",
    "crv",
    "hrv",
    "cx",
    "mx",
    "rx",
    "gs",
    "ls",
    "gx",
    "lx",
    "xle",
    "sport",
    "touring",
    "hybrid",
    "soundlink",
    "series",
    "hk",
    "ar",
    "glock",
    "sd",
    "micro",
    "microsd",
    "ddr",
    "gopro",
    "hero",
    "kindle",
    "fire",
    "echo",
    "beats",
    "studio",
    "solo",
    "airpods",
    "quest",
    "oculus",
    "vive",
    "switch",
    "wii",
    "ds",
    "gameboy",
    "vita",
    "psp",
    "kitchenaid",
    "tier",
    "zone",
    "section",
    "district",
    "bus",
    "line",
    "track",
    "station",
    "highway",
];

const MONTHS: &[&str] = &[
    "jan",
    "january",
    "feb",
    "february",
    "mar",
    "march",
    "apr",
    "april",
    "may",
    "jun",
    "june",
    "jul",
    "july",
    "aug",
    "august",
    "sep",
    "sept",
    "september",
    "oct",
    "october",
    "nov",
    "november",
    "dec",
    "december",
];

const TIME_PREPOSITIONS: &[&str] = &[
    "at", "by", "around", "after", "before", "until", "til", "till", "from", "between", "say",
];

const TIME_FOLLOWERS: &[&str] = &[
    "today",
    "tonight",
    "tomorrow",
    "am",
    "pm",
    "this",
    "on",
    "oclock",
    "ish",
    "or",
    "and",
    "in",
    "then",
    "works",
    "work",
    "sharp",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "morning",
    "afternoon",
    "evening",
    "if",
];

/// Words in the clause before a number that make it the price of something else or of the
/// past.
const REFERENCE_BEFORE: &[&str] = &[
    "paid",
    "spent",
    "bought",
    "cost",
    "costs",
    "costing",
    "retail",
    "retails",
    "retailed",
    "msrp",
    "worth",
    "value",
    "valued",
    "appraised",
    "originally",
    "ebay",
    "amazon",
    "online",
    "store",
    "stores",
    "others",
    "similar",
    "comparable",
    "elsewhere",
    "market",
    "kbb",
    "blue",
    "bluebook",
    "found",
    "saw",
    "seen",
    "invest",
    "repairs",
    "repair",
    "deposit",
    "fee",
    "fees",
    "utilities",
    "tax",
    "taxes",
    "shipping",
    "insurance",
    "registration",
    "card",
    "gas",
    "apartments",
    "listings",
    "craigslist",
    "ones",
    "goes",
    "extra",
    "additional",
    "savings",
    "save",
    "saved",
    "budget",
    "find",
    "barely",
    "rate",
    "actual",
    "original",
];

/// Words right after a number that make it the price of something else.
const REFERENCE_AFTER: &[&str] = &[
    "deposit",
    "security",
    "fee",
    "fees",
    "new",
    "retail",
    "msrp",
    "brand",
    "originally",
    "shipping",
    "delivery",
    "repairs",
    "repair",
    "card",
    "worth",
    "in",
    "on",
    "a",
    "per",
    "more",
    "less",
    "as",
    "extra",
    "additional",
    "for",
    "when",
    "last",
    "at",
];

/// What follows a number (with a [`REFERENCE_AFTER`] word right after it) when it is the
/// price of something else: "$500 new", "$50 for shipping", "$2,250 as a deposit".
const REFERENCE_AFTER_PHRASES: &[&str] = &[
    "deposit",
    "security",
    "fee",
    "fees",
    "new",
    "retail",
    "msrp",
    "brand new",
    "originally",
    "shipping",
    "for shipping",
    "for delivery",
    "delivery fee",
    "in repairs",
    "for repairs",
    "gift card",
    "gas card",
    "worth of",
    "on ebay",
    "on amazon",
    "online",
    "in stores",
    "at the store",
    "a year ago",
    "last year",
    "when new",
    "more than",
    "less than",
    "as a deposit",
    "as deposit",
    "extra",
    "additional",
    "per year",
    "a year",
];

const NEGATORS: &[&str] = &[
    "not", "no", "cant", "cannot", "wont", "couldnt", "wouldnt", "never", "unable", "dont", "isnt",
    "doesnt", "aint", "nope", "neither", "nor",
];

const CLAUSE_WORDS: &[&str] = &[
    "but", "so", "and", "though", "however", "because", "although",
];

const FLOOR_BEFORE: &[&str] = &[
    "than", "below", "under", "least", "minimum", "min", "lowest", "bottom", "floor",
];

const STRONG_BEFORE: &[&str] = &[
    "do", "take", "accept", "go", "meet", "settle", "it", "about", "say", "pay", "maybe", "to",
    "yours", "call", "best", "final", "offer", "counter", "only", "just", "even", "as", "perhaps",
    "sell", "give", "lowest", "least", "than", "below", "under", "minimum", "like", "would",
    "could", "can", "with", "atleast", "firm", "is", "let", "leave", "make", "sale",
];

const MEDIUM_BEFORE: &[&str] = &[
    "for",
    "at",
    "be",
    "asking",
    "ask",
    "want",
    "need",
    "hoping",
    "get",
    "price",
    "around",
    "its",
    "of",
    "listed",
    "approximately",
    "roughly",
    "was",
    "were",
    "are",
    "ok",
    "okay",
    "fine",
    "me",
    "you",
    "how",
];

/// Words after a number that make it a firm price or a closing proposal.
const FIRM_AFTER: &[&str] = &[
    "is last",
    "is my last",
    "is the last",
    "last offer",
    "last price",
    "firm",
    "obo",
    "or best offer",
    "final",
    "no lower",
    "nothing lower",
    "not lower",
    "no less",
    "not less",
    "not a penny",
    "is the lowest",
    "is my lowest",
    "is the best",
    "is my best",
    "is my final",
    "is as low",
    "is rock bottom",
    "is the bottom",
    "is my bottom",
    "is my rock bottom",
    "bottom",
    "and its yours",
    "and it is yours",
    "and its all yours",
    "and you have a deal",
    "and you got a deal",
    "and youve got a deal",
    "and its a deal",
    "and we have a deal",
    "and we got a deal",
    "and you have yourself a deal",
    "and deal",
    "and its done",
    "and its sold",
    "and it is a deal",
    "its yours",
    "it is",
    "is the least",
    "at least",
    "minimum",
    "or more",
    "or higher",
    "lowest",
    "and ill",
    "and i will",
    "and i can",
    "and you",
    "if you",
    "cash",
    "is fair",
    "is a good",
    "is a great",
    "is a fair",
    "is reasonable",
    "is more than fair",
    "sounds",
    "works",
    "would work",
    "will work",
    "is good",
    "is fine",
    "is ok",
    "is okay",
    "is a deal",
    "each",
    "a month",
    "per month",
    "month",
    "mo",
    "deal",
    "and",
    "total",
    "even",
    "flat",
    "out the door",
    "takes it",
    "take it",
    "gets it",
    "get it",
    "plus",
    "delivered",
];

/// Words after a number that make it the seller's price whatever came before.
const SURE_AFTER: &[&str] = &[
    "is last",
    "is my last",
    "is the last",
    "last offer",
    "last price",
    "firm",
    "obo",
    "or best offer",
    "final",
    "no lower",
    "nothing lower",
    "not lower",
    "no less",
    "not less",
    "or more",
    "or higher",
    "is the lowest",
    "is my lowest",
    "is the best",
    "is my best",
    "is my final",
    "is as low",
    "and its yours",
    "and it is yours",
    "and you have a deal",
    "and you got a deal",
    "and its a deal",
    "and we have a deal",
    "its yours",
    "it is",
];

const REJECT_AFTER: &[&str] = &[
    "low",
    "lowball",
    "lowballing",
    "insult",
    "insulting",
    "joke",
    "ridiculous",
    "crazy",
    "not enough",
    "isnt enough",
    "too little",
    "wont work",
    "doesnt work",
    "will not work",
    "does not work",
    "wont cut it",
    "is lower",
    "is way lower",
    "is way below",
    "is below",
    "is less",
    "way less",
    "no way",
    "not going to",
    "is not going",
    "is too",
    "way too",
    "wont do",
    "cant do",
    "is out of the question",
];

/// Every price-like number in the message with its role; numbers that are years, model
/// numbers, mileage, times, dates, counts or sizes are left out.
pub(crate) fn amounts(tokens: &[Token], context: Context) -> Vec<Amount> {
    let mut found: Vec<Amount> = Vec::new();
    let mut skip_until = 0;
    for i in 0..tokens.len() {
        if i < skip_until || tokens[i].kind != Kind::Number {
            continue;
        }
        if not_money(tokens, i, context) {
            continue;
        }
        let token = &tokens[i];
        let mut value = token.hundredths;
        if token.buck_slang && !plausible(value, true, context) {
            value /= 100;
        }
        if tokens.get(i + 1).is_some_and(|t| t.is_punct('%')) {
            if let Some(amount) = percent_off(tokens, i, value, context) {
                found.push(amount);
            }
            continue;
        }
        if let Some(amount) = derived(tokens, i, value, context) {
            found.push(amount);
            continue;
        }
        let range_end = range_end(tokens, i, context);
        let money = token.money || range_end.is_some_and(|end| tokens[end].money);
        if !plausible(value, money, bundle_context(tokens, i, context)) {
            match shorthand(tokens, i, value, context) {
                Some(scaled) => value = scaled,
                None => continue,
            }
        }
        let role = role(tokens, i, value, context);
        let range = range_end.is_some();
        if let Some(end) = range_end {
            skip_until = end + 1;
        }
        found.push(Amount {
            hundredths: value,
            role,
            strength: strength(tokens, range_end.unwrap_or(i), i, money),
            derived: false,
            range,
        });
    }
    found
}

fn word_at(tokens: &[Token], i: usize) -> Option<&str> {
    tokens
        .get(i)
        .filter(|t| t.kind == Kind::Word)
        .map(|t| t.text.as_str())
}

/// The words right before token `i` in its clause, nearest last (at most `n`).
fn clause_before(tokens: &[Token], i: usize, n: usize) -> Vec<&str> {
    let mut words = Vec::new();
    let mut k = i;
    while k > 0 && words.len() < n {
        k -= 1;
        let token = &tokens[k];
        match token.kind {
            Kind::Punct if ".,!?;:()".contains(token.text.as_str()) => break,
            Kind::Punct => continue,
            Kind::Number => words.push("#"),
            Kind::Word if CLAUSE_WORDS.contains(&token.text.as_str()) => break,
            Kind::Word => words.push(token.text.as_str()),
        }
    }
    words.reverse();
    words
}

/// The words right after token `i` in its sentence, as `" w1 w2 … "` (at most `n`).
fn sentence_after(tokens: &[Token], i: usize, n: usize) -> String {
    let mut text = String::from(" ");
    let mut count = 0;
    for token in &tokens[i + 1..] {
        if count >= n {
            break;
        }
        match token.kind {
            Kind::Punct if ".!?;".contains(token.text.as_str()) => break,
            Kind::Punct => continue,
            Kind::Number => text.push('#'),
            Kind::Word => text.push_str(&token.text),
        }
        text.push(' ');
        count += 1;
    }
    text
}

fn has_phrase(text: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|p| text.contains(&format!(" {p} ")))
}

fn starts_with_phrase(text: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|p| text.starts_with(&format!(" {p} ")))
}

/// A price written short ("will go to 9" on a $10,500 car, "35 is fair" on $3,500, "I could
/// do $150" meaning $1,500 on $1,825): implausible as written, the only one of ×10 (with a
/// currency sign), ×100 and ×1000 near the listing (half to 1.2 times it), and said as a
/// price ("go to 9", "do $150", "35 is fair", not "toss in 2", "ages 4 to 8"). Whole
/// numbers only.
fn shorthand(tokens: &[Token], i: usize, value: i64, context: Context) -> Option<i64> {
    const CENTS: i64 = 100;
    let token = &tokens[i];
    if value % CENTS != 0 || token.spelled || token.buck_slang || value >= 1_000 * CENTS {
        return None;
    }
    let before = clause_before(tokens, i, 2);
    let after = sentence_after(tokens, i, 6);
    let said_as_price = before
        .last()
        .is_some_and(|w| ["do", "take", "accept", "pay", "sell"].contains(w))
        || before.ends_with(&["go", "to"])
        || before.ends_with(&["down", "to"])
        || starts_with_phrase(&after, FIRM_AFTER) && !after.starts_with(" and ");
    if !said_as_price {
        return None;
    }
    let listing = context.listing;
    let near = |scaled: i64| scaled * 2 >= listing && scaled * 10 <= listing * 12;
    // "$150" for $1,500 is a dropped zero; a bare "150" is more likely something else.
    let factors: &[i64] = if token.money {
        &[10, 100, 1_000]
    } else {
        &[100, 1_000]
    };
    let mut fits = factors
        .iter()
        .copied()
        .map(|factor| value * factor)
        .filter(|scaled| near(*scaled));
    let scaled = fits.next()?;
    fits.next().is_none().then_some(scaled)
}

/// "$325 for all 4", "$50 for both": a price for several of the listed thing is judged
/// against that many listings.
fn bundle_context(tokens: &[Token], i: usize, context: Context) -> Context {
    const MOST: i64 = 20;
    let count = match (word_at(tokens, i + 1), word_at(tokens, i + 2)) {
        (Some("for"), Some("both" | "pair")) => Some(2),
        (Some("for"), Some("all" | "the")) => tokens
            .get(i + 3)
            .filter(|t| t.kind == Kind::Number && !t.money && t.hundredths % 100 == 0)
            .map(|t| t.hundredths / 100)
            .filter(|n| (2..=MOST).contains(n)),
        _ => None,
    };
    match count {
        Some(n) => Context {
            listing: context.listing.saturating_mul(n),
            ..context
        },
        None => context,
    }
}

/// Is `value` a believable price for this listing and this offer?
fn plausible(value: i64, money: bool, context: Context) -> bool {
    let listing = i128::from(context.listing.max(1));
    let value = i128::from(value);
    if value <= 0 {
        return false;
    }
    let (low_pct, high_pct) = if money { (15, 300) } else { (25, 200) };
    let mut low = listing * low_pct / 100;
    let mut high = listing * high_pct / 100;
    if let Some(last) = context.last_offer {
        let last = i128::from(last);
        low = low.min(last * 80 / 100);
        high = high.max(last * 150 / 100);
    }
    (low..=high).contains(&value)
}

/// Numbers that are not money at all: years, model numbers, mileage, times, dates, counts.
fn not_money(tokens: &[Token], i: usize, context: Context) -> bool {
    let token = &tokens[i];
    let prev = i.checked_sub(1).map(|k| &tokens[k]);
    let next = tokens.get(i + 1);
    let prev_word = i.checked_sub(1).and_then(|k| word_at(tokens, k));
    let next_word = word_at(tokens, i + 1);
    if !token.suffix.is_empty() || token.letter_before {
        return true;
    }
    if token.spelled && token.hundredths < 20 * 100 && !token.money {
        return true;
    }
    // "-150", "$-150": less than nothing is no price ("100-150" is a range)
    if let Some(p) = prev {
        let after_number = i >= 2 && tokens[i - 2].kind == Kind::Number;
        if p.is_punct('-') && !token.space_before && !after_number {
            return true;
        }
    }
    // "i7-7700", "rm-y914", "5/20", "1/2"
    if let Some(p) = prev {
        if !token.space_before && (p.is_punct('-') || p.is_punct('/') || p.is_punct('#')) {
            let glued_to_text = i >= 2 && !p.space_before && tokens[i - 2].kind != Kind::Punct;
            if p.is_punct('#') || glued_to_text {
                return true;
            }
        }
        if p.is_punct(':') && !token.space_before {
            return true;
        }
    }
    if let Some(n) = next {
        let glued_next = tokens.get(i + 2).is_some_and(|t| !t.space_before);
        if (n.is_punct(':') || n.is_punct('/')) && !n.space_before && glued_next {
            let after = &tokens[i + 2];
            if after.kind == Kind::Number {
                return true;
            }
        }
        if n.is_punct('"') && !n.space_before {
            return true;
        }
        if n.is_punct('\'') && !n.space_before {
            return true;
        }
        if n.is_punct('x') || n.is_word("x") {
            return true;
        }
    }
    let ranged_unit = tokens
        .get(i + 1)
        .is_some_and(|t| t.is_punct('-') || t.is_word("to") || t.is_word("or"))
        && tokens.get(i + 2).is_some_and(|t| t.kind == Kind::Number)
        && word_at(tokens, i + 3).is_some_and(|w| UNITS.contains(&w))
        && !token.money;
    if ranged_unit {
        return true;
    }
    if next_word.is_some_and(|w| w == "percent") {
        return true;
    }
    if let Some(word) = next_word {
        if HARD_UNITS.contains(&word) {
            return true;
        }
        if word == "k" && word_at(tokens, i + 2).is_some_and(|w| HARD_UNITS.contains(&w)) {
            return true;
        }
        if !token.money && UNITS.contains(&word) {
            let per_time = matches!(word, "month" | "months" | "year" | "week" | "mo")
                && prev.is_some_and(|p| p.is_punct('/'));
            if !per_time {
                return true;
            }
        }
        if MONTHS.contains(&word) && !token.money && token.hundredths <= 31 * 100 {
            return true;
        }
    }
    if token.scaled
        && next_word.is_some_and(|w| {
            [
                "miles", "mi", "tv", "cables", "video", "hdr", "uhd", "display", "monitor",
                "screen",
            ]
            .contains(&w)
        })
    {
        return true;
    }
    if let Some(word) = prev_word {
        if MONTHS.contains(&word) && !token.money {
            return true;
        }
        if MODEL_WORDS.contains(&word) && !token.money && !token.scaled {
            return true;
        }
        if [
            "the", "my", "a", "an", "this", "in", "since", "from", "of", "year", "built", "circa",
        ]
        .contains(&word)
            && looks_like_year(token)
        {
            return true;
        }
    }
    if prev.is_some_and(|p| p.is_punct('\'')) && token.digits == 2 {
        return true;
    }
    // "take 2000 off" is a discount, however year-shaped.
    if looks_like_year(token) && next_word != Some("off") && !year_is_price(tokens, i, context) {
        return true;
    }
    if is_time(tokens, i, context) {
        return true;
    }
    false
}

fn looks_like_year(token: &Token) -> bool {
    let whole = token.whole();
    token.digits == 4
        && !token.formatted
        && !token.money
        && !token.scaled
        && token.hundredths % 100 == 0
        && (1950..=2035).contains(&whole)
}

/// "I can do 2000" on a $2,200 rental: a year-shaped number with a price word right before
/// it and a believable size.
fn year_is_price(tokens: &[Token], i: usize, context: Context) -> bool {
    let before = clause_before(tokens, i, 2);
    let cue = before.last().is_some_and(|w| {
        STRONG_BEFORE.contains(w) || ["for", "at", "asking", "is", "be", "price", "pay"].contains(w)
    });
    let after = sentence_after(tokens, i, 3);
    let firm = starts_with_phrase(&after, FIRM_AFTER) || starts_with_phrase(&after, REJECT_AFTER);
    let lone = tokens.iter().filter(|t| t.kind != Kind::Punct).count() == 1;
    (cue || firm || lone) && plausible(tokens[i].hundredths, false, context)
}

/// "at 5", "around 6 tonight", "by 7": small hours where a time is meant.
fn is_time(tokens: &[Token], i: usize, context: Context) -> bool {
    let token = &tokens[i];
    if token.money || token.formatted || token.spelled || token.hundredths > 12 * 100 {
        return false;
    }
    let prev_word = i.checked_sub(1).and_then(|k| word_at(tokens, k));
    let next_word = word_at(tokens, i + 1);
    let after_time_word = prev_word.is_some_and(|w| TIME_PREPOSITIONS.contains(&w));
    let before_time_word = next_word.is_some_and(|w| TIME_FOLLOWERS.contains(&w));
    let small_for_listing = token.hundredths * 4 < context.listing;
    // "I'll go to 9 if you pick it up" is a price said short, not a time.
    let price_verb = clause_before(tokens, i, 2).ends_with(&["go", "to"])
        || clause_before(tokens, i, 2).ends_with(&["down", "to"]);
    if price_verb {
        return false;
    }
    (after_time_word && (before_time_word || small_for_listing))
        || (before_time_word && small_for_listing)
}

/// "$20 off", "take off 15", "knock 100 off", "20 less": the asking price minus that.
fn derived(tokens: &[Token], i: usize, value: i64, context: Context) -> Option<Amount> {
    let next_word = word_at(tokens, i + 1);
    let after_next = word_at(tokens, i + 2);
    let before = clause_before(tokens, i, 2);
    let prev_word = before.last().copied();
    let off_after = next_word == Some("off")
        || (next_word == Some("less") && after_next != Some("than"))
        || next_word == Some("cheaper")
        || (next_word == Some("discount") && prev_word != Some("a"));
    // "I will drop it 5", "knock it 10": the asking price less that.
    let cut_it = before.len() == 2
        && before[1] == "it"
        && ["drop", "knock", "lower", "cut"].contains(&before[0]);
    // "I'm willing to decrease the price for you by $20".
    let cut_by = prev_word == Some("by")
        && clause_before(tokens, i, 6)
            .iter()
            .any(|w| ["decrease", "reduce", "lower", "drop", "cut"].contains(w));
    let off_before = (prev_word.is_some_and(|w| {
        ["off", "minus", "discount", "knock", "shave", "drop", "down"].contains(&w)
    }) || cut_it
        || cut_by
        || clause_before(tokens, i, 4).contains(&"off"))
        && next_word != Some("to");
    if !(off_after || off_before) {
        return None;
    }
    let price = context.listing.checked_sub(value)?;
    if price <= 0 || value * 10 > context.listing * 6 {
        return None;
    }
    let reference = before.iter().any(|w| REFERENCE_BEFORE.contains(w));
    Some(Amount {
        hundredths: price,
        role: if reference {
            Role::Reference
        } else {
            Role::Proposal
        },
        strength: 2,
        derived: true,
        range: false,
    })
}

/// "10% off", "a 10% discount", "take off 10%": the asking price less that share.
fn percent_off(tokens: &[Token], i: usize, value: i64, context: Context) -> Option<Amount> {
    let after = sentence_after(tokens, i + 1, 2);
    let before = clause_before(tokens, i, 3);
    let off = has_phrase(&after, &["off", "discount", "less", "cheaper"])
        || before.iter().any(|w| ["off", "discount"].contains(w));
    if !off || value <= 0 || value >= 100 * 100 {
        return None;
    }
    let listing = i128::from(context.listing);
    let kept = i128::from(100 * 100 - value);
    let price = (listing * kept + 5_000) / 10_000;
    Some(Amount {
        hundredths: i64::try_from(price).ok()?,
        role: Role::Proposal,
        strength: 2,
        derived: true,
        range: false,
    })
}

/// "80-90", "80 to 90": the index of the range's upper end.
fn range_end(tokens: &[Token], i: usize, context: Context) -> Option<usize> {
    let sep = tokens.get(i + 1)?;
    let is_sep = sep.is_punct('-') || sep.is_word("to") || sep.is_word("or");
    if !is_sep {
        return None;
    }
    let mut end = i + 2;
    if tokens.get(end).is_some_and(|t| t.is_punct('$')) {
        end += 1;
    }
    let upper = tokens.get(end).filter(|t| t.kind == Kind::Number)?;
    let lower = tokens[i].hundredths;
    let spread_ok = upper.hundredths > lower && upper.hundredths * 2 <= lower * 3;
    let money = tokens[i].money || upper.money;
    if !spread_ok || !plausible(upper.hundredths, money, context) || !upper.suffix.is_empty() {
        return None;
    }
    if word_at(tokens, end + 1).is_some_and(|w| UNITS.contains(&w)) && !money {
        return None;
    }
    Some(end)
}

fn role(tokens: &[Token], i: usize, value: i64, context: Context) -> Role {
    let before = clause_before(tokens, i, 6);
    let near = &before[before.len().saturating_sub(4)..];
    let after = sentence_after(tokens, i, 6);
    let next_word = word_at(tokens, i + 1);
    let floor_before = near.last().is_some_and(|w| FLOOR_BEFORE.contains(w))
        || near
            .iter()
            .rev()
            .take(3)
            .any(|w| ["least", "lowest", "minimum"].contains(w));
    let more_than = near.ends_with(&["more", "than"])
        || near.ends_with(&["higher", "than"])
        || near.ends_with(&["better", "than"])
        || near.ends_with(&["above"]);
    if more_than {
        return Role::Rejected;
    }
    // "You're not going to find something in the area for cheaper than $2300": the market.
    let finding = clause_before(tokens, i, 10)
        .iter()
        .any(|w| ["find", "found"].contains(w));
    if floor_before && finding {
        return Role::Reference;
    }
    if !floor_before {
        let reference_before = before.iter().any(|w| REFERENCE_BEFORE.contains(w))
            && !before
                .iter()
                .any(|w| ["would", "could", "do", "take"].contains(w));
        let reference_after = next_word.is_some_and(|w| REFERENCE_AFTER.contains(&w))
            && has_phrase(&sentence_after(tokens, i, 3), REFERENCE_AFTER_PHRASES)
            && !starts_with_phrase(&after, &["for it", "for them", "for both", "for all"]);
        if reference_before || reference_after {
            return Role::Reference;
        }
    }
    if starts_with_phrase(&after, SURE_AFTER) {
        return Role::Proposal;
    }
    // What the seller paid ("I got it for $80") or wanted once ("I wanted $75, but…") is no
    // price of theirs now.
    if before.ends_with(&["i", "got", "it", "for"])
        || before.ends_with(&["i", "got", "them", "for"])
        || before.ends_with(&["i", "wanted"])
        || before.ends_with(&["originally", "wanted"])
    {
        return Role::Reference;
    }
    // "Since I want 800 and you want 600": the buyer's number, restated.
    if near.ends_with(&["you", "want"]) || near.ends_with(&["you", "offered"]) {
        return Role::Rejected;
    }
    // "I couldn't just let it go for $1000" refuses it, six words on; "I don't think I can go
    // as low as $1850" too.
    let negated = near.iter().any(|w| NEGATORS.contains(w))
        || before
            .iter()
            .any(|w| ["couldnt", "cant", "cannot", "wont"].contains(w))
        || clause_before(tokens, i, 10)
            .windows(2)
            .any(|pair| pair == ["dont", "think"]);
    // "Are you sure you can't go 260?" asks the buyer up to 260: the seller's price.
    let asks_buyer = near
        .windows(2)
        .any(|pair| pair[0] == "you" && NEGATORS.contains(&pair[1]))
        && tokens.get(i + 1).is_some_and(|t| t.is_punct('?'));
    if negated && !floor_before && !asks_buyer {
        return Role::Rejected;
    }
    if has_phrase(&after, REJECT_AFTER)
        && !has_phrase(
            &after,
            &[
                "not too low",
                "not that low",
                "no lower",
                "lowest",
                "as low",
                "low as",
            ],
        )
    {
        return Role::Rejected;
    }
    let question_next = tokens.get(i + 1).is_some_and(|t| t.is_punct('?'));
    if question_next && Some(value) == context.last_offer {
        return Role::Echo;
    }
    Role::Proposal
}

fn strength(tokens: &[Token], last: usize, first: usize, money: bool) -> u8 {
    let before = clause_before(tokens, first, 3);
    let after = sentence_after(tokens, last, 6);
    let prev = before.last().copied().unwrap_or("");
    let question_next = tokens.get(last + 1).is_some_and(|t| t.is_punct('?'));
    // What it was asking or listed at, whatever follows ("I was asking $10, if you pick up
    // I can do $6").
    if before.ends_with(&["was", "asking"])
        || before.ends_with(&["originally", "asking"])
        || before.ends_with(&["listed", "for"])
        || before.ends_with(&["listed", "at"])
        || before.ends_with(&["it", "listed"])
    {
        return 1;
    }
    if FLOOR_BEFORE.contains(&prev)
        || starts_with_phrase(&after, FIRM_AFTER) && !after.starts_with(" and ")
    {
        return 4;
    }
    // "let's meet in the middle at 700" closes; "800 and you want 600" sets no terms.
    if clause_before(tokens, first, 6)
        .iter()
        .any(|w| ["middle", "halfway"].contains(w))
    {
        return 4;
    }
    let on_terms = after.starts_with(" and ") && !after.starts_with(" and you want ");
    if STRONG_BEFORE.contains(&prev) || question_next || on_terms {
        return 3;
    }
    if MEDIUM_BEFORE.contains(&prev) || money {
        return 2;
    }
    1
}
