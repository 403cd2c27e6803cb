//! The `bazaar` commands, one module each; `main.rs` parses the command line and calls the
//! module's `run`. Commands that read the store open it here, so each opens it the same way
//! (created if missing, kept private to its owner).

pub mod appraise;
pub mod audit;
pub mod books;
pub mod daemon;
pub mod data;
pub mod demo;
pub mod parse;
pub mod read;
pub mod scan;
pub mod session;
pub mod sim;
pub mod status;
pub mod understand;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use bazaar_config::Config;
use bazaar_memory::{
    Currency, ItemStatus, Money, ProductIndex, ScaledClock, SharedClock, SledStore, SystemClock,
};

use crate::system::{index_config, index_dir, store_dir};

/// Exit code of a command that was given bad input or configuration.
pub const EXIT_USAGE: u8 = 2;

/// Opens the store under `data_dir`, creating the directory if needed and making it the
/// owner's alone.
pub fn open_store(data_dir: &Path) -> anyhow::Result<SledStore> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    keep_private(data_dir)?;
    Ok(SledStore::open(&store_dir(data_dir))?)
}

/// Makes `data_dir` the owner's alone (0700) if it was readable by others: a data
/// directory made before Bazaar set its own umask, or by hand.
fn keep_private(data_dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data_dir)
        .with_context(|| format!("cannot read data directory {}", data_dir.display()))?
        .permissions()
        .mode();
    if mode & 0o077 == 0 {
        return Ok(());
    }
    std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700)).with_context(
        || {
            format!(
                "data directory {} is readable by others (mode {:o}) and cannot be made private; \
             run `chmod 700 {}`",
                data_dir.display(),
                mode & 0o777,
                data_dir.display()
            )
        },
    )?;
    tracing::warn!(data_dir = %data_dir.display(), was = %format!("{:o}", mode & 0o777), "data directory was readable by others; made it 0700");
    Ok(())
}

/// Opens the search index the configuration names.
pub fn open_index(config: &Config) -> anyhow::Result<ProductIndex> {
    Ok(ProductIndex::open(
        &index_dir(&config.store.data_dir),
        index_config(config),
    )?)
}

/// The wall clock, as the actors take it.
pub fn system_clock() -> SharedClock {
    Arc::new(SystemClock)
}

/// The daemon's clock as `[clock]` sets it: the wall clock, or one that follows a simulated
/// world (`bazaar sim serve` writes it).
pub fn configured_clock(config: &Config) -> SharedClock {
    let clock = &config.clock;
    match (clock.origin, clock.origin_wall) {
        (Some(origin), Some(origin_wall)) => {
            Arc::new(ScaledClock::new(origin, origin_wall, clock.speed))
        }
        _ if clock.speed > 1 => {
            let now = chrono::Utc::now();
            Arc::new(ScaledClock::new(now, now, clock.speed))
        }
        _ => system_clock(),
    }
}

/// `--price 79.99` or `$80`: dollars, more than zero.
pub fn parse_dollars(text: &str) -> Result<Money, String> {
    let money = Money::from_decimal_str(text.trim_start_matches('$'), Currency::Usd)
        .map_err(|e| format!("bad price {text:?}: {e}"))?;
    if money.minor <= 0 {
        return Err(format!("bad price {text:?}: it must be more than zero"));
    }
    Ok(money)
}

/// `--status listed`: an item status by its name.
pub fn parse_item_status(text: &str) -> Result<ItemStatus, String> {
    ItemStatus::parse(text).ok_or_else(|| {
        let known: Vec<String> = ItemStatus::ALL.iter().map(|s| s.to_string()).collect();
        format!("unknown status {text:?} (known: {})", known.join(", "))
    })
}
