//! `bazaar inbox | approve | reject | resolve | contact | undo | pause | resume | item (add,
//! edit, show) | list | sold | shipped`: the
//! operator API from the command line. They talk to the running daemon (`--api`, default `operator.public_url`)
//! with the token from the configuration, print what happened, and exit 1 with the API's
//! message when it refuses (2 when the token is not configured).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use bazaar_config::Config;
use clap::{Args, Subcommand};
use serde_json::Value;

/// Where the daemon's API is.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// The operator API's base URL (default: operator.public_url).
    #[arg(long, value_name = "URL")]
    pub api: Option<String>,
    /// Send the token over plain http to a host other than this machine (it can be read
    /// on the way; use https instead).
    #[arg(long)]
    pub insecure: bool,
}

/// Whether sending the bearer token to `base` would cross the network in clear: an
/// `http://` URL whose host is not a loopback address or `localhost`.
pub fn exposes_token(base: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(base) else {
        return false;
    };
    if url.scheme() != "http" {
        return false;
    }
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => !ip.is_loopback(),
        Err(_) => !host.eq_ignore_ascii_case("localhost"),
    }
}

/// The commands that talk to a running daemon.
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// List approvals waiting for you (from the running daemon).
    Inbox {
        /// Where the daemon's API is.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Approve an inbox item: the action runs.
    Approve {
        /// The approval id (from `bazaar inbox`).
        id: String,
        /// Where the daemon's API is.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Reject an inbox item.
    Reject {
        /// The approval id (from `bazaar inbox`).
        id: String,
        /// Why (required; the rule learns from it).
        #[arg(long)]
        reason: String,
        /// Where the daemon's API is.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Settle an inbox task the gate could not: whether an action whose outcome was unknown
    /// happened.
    Resolve {
        /// The approval id (from `bazaar inbox`).
        id: String,
        /// Did it happen in the outside world? (yes or no)
        #[arg(long, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(), value_name = "yes|no")]
        happened: bool,
        /// What you found.
        #[arg(long, default_value = "")]
        note: String,
        /// Where the daemon's API is.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Give the seller's address of a listing whose deal waits for it (the inbox task names
    /// the listing when the marketplace showed the address only behind a captcha).
    Contact {
        /// The listing id (from the inbox task).
        listing: String,
        /// The seller's email address, as the marketplace's reply page showed it.
        address: String,
        /// Where the daemon's API is.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Undo an executed action (or cancel one waiting in the outbox).
    Undo {
        /// The action id.
        id: String,
        /// Where the daemon's API is.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Kill switch on: block every new action until `bazaar resume`.
    Pause {
        /// Where the daemon's API is.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Kill switch off.
    Resume {
        /// Where the daemon's API is.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// It sold on a channel without an API (Craigslist, Facebook …): book the sale and take
    /// it down everywhere else.
    Sold {
        /// The item id.
        item: String,
        /// Where it sold.
        #[arg(long)]
        channel: String,
        /// The order (or a note naming the sale, unique on that channel).
        #[arg(long)]
        order: String,
        /// What the buyer paid, in dollars (default: the listing's price).
        #[arg(long)]
        total: Option<String>,
        /// Where the daemon's API is.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// A sold item went out to its buyer: the marketplace is told (eBay: the order is
    /// marked shipped with this carrier and tracking number) and the item is shipped.
    Shipped {
        /// The item id.
        item: String,
        /// The carrier's code as the marketplace names it: USPS, UPS, FedEx …
        #[arg(long)]
        carrier: String,
        /// The tracking number on the label.
        #[arg(long)]
        tracking: String,
        /// Where the daemon's API is.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Items you bring (sourced offline): `bazaar item add`, `bazaar item show`.
    #[command(subcommand)]
    Item(ItemCommand),
    /// Cross-list an item (`--channels ebay,craigslist`), show its job, retry one channel or
    /// cancel the job.
    List(ListArgs),
}

/// `bazaar list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The item id (from `bazaar item add` or `bazaar inventory`).
    item: String,
    /// Start (or extend) the job on these channels: ebay, craigslist, facebook,
    /// poshmark, mercari (comma-separated).
    #[arg(long, value_delimiter = ',')]
    channels: Vec<String>,
    /// Publish this failed, rejected or cancelled channel again.
    #[arg(long, value_name = "CHANNEL", conflicts_with_all = ["channels", "cancel"])]
    retry: Option<String>,
    /// Take the item off every channel it is queued or live on.
    #[arg(long, conflicts_with = "channels")]
    cancel: bool,
    /// You put it up on an assisted channel: CHANNEL=URL (e.g. craigslist=https://…).
    #[arg(long, value_name = "CHANNEL=URL", conflicts_with_all = ["channels", "cancel", "retry"])]
    confirm: Option<String>,
    /// Wait up to this many seconds for queued channels to move on.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    wait: u64,
    /// Where the daemon's API is.
    #[command(flatten)]
    api: ApiArgs,
}

/// `bazaar item add`.
#[derive(Debug, Args)]
pub struct NewItemArgs {
    /// Title, as buyers will read it.
    #[arg(long)]
    title: String,
    /// new, like_new, good, fair, poor or for_parts.
    #[arg(long)]
    condition: String,
    /// What it cost you, in dollars (e.g. 40 or 39.99).
    #[arg(long)]
    cost: String,
    /// A photo: an http(s) URL or a file path (repeatable).
    #[arg(long = "photo", value_name = "PATH_OR_URL")]
    photos: Vec<String>,
    /// The least it may sell for, in dollars.
    #[arg(long)]
    floor: Option<String>,
    /// The asking price, in dollars (default: from the margin rules).
    #[arg(long)]
    price: Option<String>,
    /// Category (electronics, bike, furniture …).
    #[arg(long)]
    category: Option<String>,
    /// Description.
    #[arg(long)]
    description: Option<String>,
    /// An attribute as key=value (brand, model, size, zip, phone …; repeatable).
    #[arg(long = "attr", value_name = "KEY=VALUE")]
    attributes: Vec<String>,
    /// Where the daemon's API is.
    #[command(flatten)]
    api: ApiArgs,
}

/// `bazaar item edit`.
#[derive(Debug, Args)]
pub struct EditItemArgs {
    /// The item id (from `bazaar inventory`).
    id: String,
    /// Title, as buyers will read it.
    #[arg(long)]
    title: Option<String>,
    /// new, like_new, good, fair, poor or for_parts.
    #[arg(long)]
    condition: Option<String>,
    /// The asking price in dollars ("" for the Lister's own).
    #[arg(long)]
    price: Option<String>,
    /// The least it may sell for, in dollars ("" for the Lister's own).
    #[arg(long)]
    floor: Option<String>,
    /// A photo: an http(s) URL or a file path (repeatable; replaces the photos).
    #[arg(long = "photo", value_name = "PATH_OR_URL")]
    photos: Vec<String>,
    /// Category (electronics, bike, furniture …).
    #[arg(long)]
    category: Option<String>,
    /// Description.
    #[arg(long)]
    description: Option<String>,
    /// Your notes (never shown to buyers; "" clears them).
    #[arg(long)]
    notes: Option<String>,
    /// An attribute as key=value (repeatable; key= removes it).
    #[arg(long = "attr", value_name = "KEY=VALUE")]
    attributes: Vec<String>,
    /// Where the daemon's API is.
    #[command(flatten)]
    api: ApiArgs,
}

/// `bazaar item …`.
#[derive(Debug, Subcommand)]
pub enum ItemCommand {
    /// Add an item you bought yourself: in stock, its cost booked; list it with `bazaar list`.
    Add(NewItemArgs),
    /// Change an item: only the options given (a listing that waited for a field goes out;
    /// a new price reaches its live listings through the gate).
    Edit(EditItemArgs),
    /// Show an item and its listing job.
    Show {
        /// The item id.
        id: String,
        /// Where the daemon's API is.
        #[command(flatten)]
        api: ApiArgs,
    },
}

fn failure(message: impl Into<String>) -> Failure {
    Failure {
        message: message.into(),
        code: 1,
    }
}

/// Photos as the API takes them: URLs as given, files as absolute paths that must exist.
fn photo_locations(photos: Vec<String>) -> Result<Vec<String>, Failure> {
    photos
        .into_iter()
        .map(|photo| {
            if photo.starts_with("http://") || photo.starts_with("https://") {
                return Ok(photo);
            }
            std::fs::canonicalize(&photo)
                .map(|path| path.display().to_string())
                .map_err(|e| {
                    failure(format!(
                        "photo {photo}: {e}; give a file that exists or an http(s) URL"
                    ))
                })
        })
        .collect()
}

fn attribute_map(pairs: Vec<String>) -> Result<serde_json::Map<String, Value>, Failure> {
    pairs
        .into_iter()
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => Ok((
                key.trim().to_string(),
                Value::String(value.trim().to_string()),
            )),
            _ => Err(failure(format!("attribute {pair:?} is not KEY=VALUE"))),
        })
        .collect()
}

fn print_item(item: &Value) {
    println!(
        "{}  {}  {}  cost {}",
        item["id"].as_str().unwrap_or("?"),
        item["status"].as_str().unwrap_or("?"),
        item["title"].as_str().unwrap_or(""),
        money_text(&item["cost"]),
    );
    print_jobs(&item["listings"]);
}

fn money_text(money: &Value) -> String {
    serde_json::from_value::<bazaar_memory::Money>(money.clone())
        .map(|m| m.to_string())
        .unwrap_or_else(|_| "-".into())
}

fn print_jobs(jobs: &Value) {
    let jobs = jobs.as_array().cloned().unwrap_or_default();
    if jobs.is_empty() {
        println!(
            "    not listed anywhere; `bazaar list ID --channels ebay,craigslist` starts a job"
        );
    }
    for job in jobs {
        let mut line = format!(
            "    {:<10} {:<20} {}",
            job["marketplace"].as_str().unwrap_or("?"),
            job["status"].as_str().unwrap_or("?"),
            money_text(&job["price"]),
        );
        if let Some(url) = job["url"].as_str() {
            line.push_str(&format!("  {url}"));
        }
        if let Some(reason) = job["reason"].as_str() {
            line.push_str(&format!("  ({reason})"));
        }
        println!("{line}");
    }
}

/// Polls the job until no channel is queued or `wait` seconds pass.
async fn settled_jobs(client: &Client, item: &str, wait: u64) -> Result<Value, Failure> {
    let deadline = std::time::Instant::now() + Duration::from_secs(wait);
    loop {
        let value = client
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/items/{item}/listings"),
                None,
            )
            .await?;
        let queued = value["listings"]
            .as_array()
            .is_some_and(|jobs| jobs.iter().any(|j| j["status"] == "queued"));
        if !queued || std::time::Instant::now() >= deadline {
            return Ok(value);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

/// A refusal or failure, already worded for the operator.
struct Failure {
    message: String,
    code: u8,
}

impl Client {
    fn new(config: &Config, api: &ApiArgs) -> Result<Client, Failure> {
        let Some(token) = &config.operator.token else {
            return Err(Failure {
                message: "operator.token is not configured, so there is no API to talk to; \
                          set [operator] token = { env = \"BAZAAR_OPERATOR_TOKEN\" } for the daemon \
                          and for this command"
                    .into(),
                code: 2,
            });
        };
        let token = token.resolve("operator.token").map_err(|e| Failure {
            message: e.to_string(),
            code: 2,
        })?;
        let base = api
            .api
            .clone()
            .unwrap_or_else(|| config.operator.public_url.clone())
            .trim_end_matches('/')
            .to_string();
        if exposes_token(&base) && !api.insecure {
            return Err(Failure {
                message: format!(
                    "{base} is plain http to another machine: the operator token would cross the \
                     network in clear; use https (a TLS proxy in front of the daemon), or pass \
                     --insecure if you accept that"
                ),
                code: 2,
            });
        }
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(bazaar_mail::tls_client_config())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Failure {
                message: format!("cannot build an HTTP client: {e}"),
                code: 1,
            })?;
        Ok(Client {
            base,
            token: token.expose().to_string(),
            http,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| Failure {
            message: format!(
                "cannot reach the operator API at {}: is `bazaar run` running? It serves the API \
                 when operator.token is set; pass --api URL if it listens elsewhere ({})",
                self.base,
                error_chain(&e.without_url())
            ),
            code: 1,
        })?;
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let message = value["error"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("the API answered {status}"));
        Err(Failure { message, code: 1 })
    }
}

/// An error and its causes, one after another ("error sending request: … connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn describe(outcome: &Value) -> String {
    let action = outcome["action"].as_str().unwrap_or("?");
    match outcome["outcome"].as_str().unwrap_or("") {
        "executed" => format!("executed action {action}"),
        "scheduled" => format!(
            "action {action} waits in the outbox until {} (`bazaar undo {action}` cancels it)",
            outcome["release_at"].as_str().unwrap_or("?")
        ),
        "rejected" => format!("rejected action {action}"),
        "cancelled" => format!("cancelled action {action} before it left the outbox"),
        "undone" => format!(
            "undid action {action} (compensating action {})",
            outcome["compensation"].as_str().unwrap_or("?")
        ),
        other => format!("{other}: action {action}"),
    }
}

fn print_inbox(value: &Value) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let approvals = value["approvals"].as_array().cloned().unwrap_or_default();
    if approvals.is_empty() {
        writeln!(out, "nothing waits for you")?;
        return Ok(());
    }
    for approval in &approvals {
        let action = &approval["action"];
        let confidence = action["confidence"]
            .as_f64()
            .map(|c| format!("{:.0}%", c * 100.0))
            .unwrap_or_else(|| "-".into());
        writeln!(
            out,
            "{}  confidence {confidence}  at stake {}  deadline {}",
            approval["id"].as_str().unwrap_or("?"),
            action["value_text"].as_str().unwrap_or("-"),
            approval["deadline"].as_str().unwrap_or("-"),
        )?;
        writeln!(
            out,
            "    what: {}",
            approval["summary"].as_str().unwrap_or("")
        )?;
        writeln!(
            out,
            "    why:  {}",
            approval["reason"].as_str().unwrap_or("")
        )?;
    }
    writeln!(
        out,
        "{} waiting; `bazaar approve ID` or `bazaar reject ID --reason R`",
        approvals.len()
    )?;
    Ok(())
}

/// `bazaar contact LISTING ADDRESS`.
async fn contact(
    config: &Config,
    listing: &str,
    address: &str,
    api: &ApiArgs,
) -> Result<(), Failure> {
    let value = Client::new(config, api)?
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/listings/{listing}/contact"),
            Some(serde_json::json!({ "address": address })),
        )
        .await?;
    println!(
        "recorded {} for listing {listing}; it is valued again and negotiated if still worth it",
        value["address"].as_str().unwrap_or(address)
    );
    Ok(())
}

/// `bazaar shipped ITEM --carrier C --tracking T`.
async fn shipped(
    config: &Config,
    item: &str,
    carrier: &str,
    tracking: &str,
    api: &ApiArgs,
) -> Result<(), Failure> {
    let value = Client::new(config, api)?
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/items/{item}/shipped"),
            Some(serde_json::json!({ "carrier": carrier, "tracking": tracking })),
        )
        .await?;
    println!("{item}: {}", value["note"].as_str().unwrap_or("shipped"));
    Ok(())
}

/// Runs one of the commands.
pub async fn run(config: &Config, command: OperatorCommand) -> anyhow::Result<ExitCode> {
    use reqwest::Method;
    let result = async {
        match command {
            OperatorCommand::Inbox { api } => {
                let value = Client::new(config, &api)?
                    .call(Method::GET, "/api/approvals", None)
                    .await?;
                print_inbox(&value).map_err(|e| Failure {
                    message: e.to_string(),
                    code: 1,
                })?;
            }
            OperatorCommand::Approve { id, api } => {
                let value = Client::new(config, &api)?
                    .call(Method::POST, &format!("/api/approvals/{id}/approve"), None)
                    .await?;
                println!("approved {id}: {}", describe(&value));
            }
            OperatorCommand::Reject { id, reason, api } => {
                let value = Client::new(config, &api)?
                    .call(
                        Method::POST,
                        &format!("/api/approvals/{id}/reject"),
                        Some(serde_json::json!({ "reason": reason })),
                    )
                    .await?;
                println!("rejected {id}: {}", describe(&value));
            }
            OperatorCommand::Resolve {
                id,
                happened,
                note,
                api,
            } => {
                Client::new(config, &api)?
                    .call(
                        Method::POST,
                        &format!("/api/approvals/{id}/resolve"),
                        Some(serde_json::json!({ "happened": happened, "note": note })),
                    )
                    .await?;
                let what = if happened {
                    "it happened"
                } else {
                    "it did not happen"
                };
                println!("resolved {id}: {what}");
            }
            OperatorCommand::Contact {
                listing,
                address,
                api,
            } => contact(config, &listing, &address, &api).await?,
            OperatorCommand::Undo { id, api } => {
                let value = Client::new(config, &api)?
                    .call(Method::POST, &format!("/api/actions/{id}/undo"), None)
                    .await?;
                println!("{}", describe(&value));
            }
            OperatorCommand::Pause { api } => {
                Client::new(config, &api)?
                    .call(Method::POST, "/api/pause", None)
                    .await?;
                println!("paused: every new action is blocked until `bazaar resume`");
            }
            OperatorCommand::Resume { api } => {
                Client::new(config, &api)?
                    .call(Method::POST, "/api/resume", None)
                    .await?;
                println!("resumed");
            }
            OperatorCommand::Item(ItemCommand::Add(args)) => add_item(config, args).await?,
            OperatorCommand::Item(ItemCommand::Edit(args)) => edit_item(config, args).await?,
            OperatorCommand::Sold {
                item,
                channel,
                order,
                total,
                api,
            } => {
                let body = serde_json::json!({ "order": order, "total": total });
                let path = format!("/api/v1/items/{item}/listings/{channel}/sold");
                Client::new(config, &api)?
                    .call(Method::POST, &path, Some(body))
                    .await?;
                println!("booked the sale of {item} on {channel}; taking it down everywhere else");
            }
            OperatorCommand::Shipped {
                item,
                carrier,
                tracking,
                api,
            } => shipped(config, &item, &carrier, &tracking, &api).await?,
            OperatorCommand::Item(ItemCommand::Show { id, api }) => {
                let item = Client::new(config, &api)?
                    .call(Method::GET, &format!("/api/v1/items/{id}"), None)
                    .await?;
                print_item(&item);
            }
            OperatorCommand::List(args) => list(config, args).await?,
        }
        Ok::<(), Failure>(())
    }
    .await;
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(failure) => {
            eprintln!("bazaar: {}", failure.message);
            Ok(ExitCode::from(failure.code))
        }
    }
}

/// `bazaar item add`: the item is created through the API and printed.
async fn add_item(config: &Config, args: NewItemArgs) -> Result<(), Failure> {
    let client = Client::new(config, &args.api)?;
    let body = serde_json::json!({
        "title": args.title,
        "condition": args.condition,
        "cost": args.cost,
        "photos": photo_locations(args.photos)?,
        "floor": args.floor,
        "price": args.price,
        "category": args.category,
        "description": args.description,
        "attributes": attribute_map(args.attributes)?,
    });
    let item = client
        .call(reqwest::Method::POST, "/api/v1/items", Some(body))
        .await?;
    print_item(&item);
    Ok(())
}

/// `bazaar item edit`: the change goes through the API; the item is printed as it is now.
async fn edit_item(config: &Config, args: EditItemArgs) -> Result<(), Failure> {
    let client = Client::new(config, &args.api)?;
    let mut body = serde_json::json!({
        "title": args.title,
        "condition": args.condition,
        "price": args.price,
        "floor": args.floor,
        "category": args.category,
        "description": args.description,
        "notes": args.notes,
        "attributes": attribute_map(args.attributes)?,
    });
    if !args.photos.is_empty() {
        body["photos"] = photo_locations(args.photos)?.into();
    }
    let item = client
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/items/{}", args.id),
            Some(body),
        )
        .await?;
    print_item(&item);
    Ok(())
}

/// `bazaar list`: starts, retries, confirms or cancels a listing job, then prints the job
/// once its queued channels have moved on (or `--wait` ran out).
async fn list(config: &Config, args: ListArgs) -> Result<(), Failure> {
    use reqwest::Method;
    let client = Client::new(config, &args.api)?;
    let item = &args.item;
    if let Some(pair) = &args.confirm {
        let Some((channel, url)) = pair.split_once('=') else {
            return Err(failure(format!("--confirm {pair:?} is not CHANNEL=URL")));
        };
        client
            .call(
                Method::POST,
                &format!("/api/v1/items/{item}/listings/{channel}/confirm"),
                Some(serde_json::json!({ "url": url })),
            )
            .await?;
        println!("{channel} confirmed at {url}");
    } else if args.cancel {
        client
            .call(
                Method::DELETE,
                &format!("/api/v1/items/{item}/listings"),
                None,
            )
            .await?;
        println!("cancelling the listing job of {item}");
    } else if let Some(channel) = &args.retry {
        client
            .call(
                Method::POST,
                &format!("/api/v1/items/{item}/listings/{channel}/retry"),
                None,
            )
            .await?;
        println!("retrying {channel} for {item}");
    } else if !args.channels.is_empty() {
        client
            .call(
                Method::POST,
                &format!("/api/v1/items/{item}/listings"),
                Some(serde_json::json!({ "channels": args.channels })),
            )
            .await?;
    }
    let jobs = settled_jobs(&client, item, args.wait).await?;
    println!("{item}:");
    print_jobs(&jobs["listings"]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::exposes_token;

    #[test]
    fn only_plain_http_to_another_host_exposes_the_token() {
        let check = |url: &str, expected: bool| assert_eq!(exposes_token(url), expected, "{url}");
        check("http://127.0.0.1:7878", false);
        check("http://localhost:7878", false);
        check("http://[::1]:7878", false);
        check("https://bazaar.example.com", false);
        check("http://bazaar.example.com", true);
        check("http://192.168.1.20:7878", true);
        check("http://0.0.0.0:7878", true);
    }
}
