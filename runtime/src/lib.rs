//! The `bazaar` runtime: system assembly, the supervision tree, and the CLI's commands.

pub mod commands;
pub mod control;
pub mod ebay_notifications;
pub mod health;
pub mod operator;
pub mod report_html;
pub mod simulate;
pub mod supervisor;
pub mod system;
