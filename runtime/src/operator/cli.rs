//! `bazaar inbox | approve | reject | resolve | undo | pause | resume`: the operator API from the
//! command line. They talk to the running daemon (`--api`, default `operator.public_url`)
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
        let http = reqwest::Client::builder()
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
