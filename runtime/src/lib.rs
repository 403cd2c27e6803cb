//! The `bazaar` runtime: system assembly, the supervision tree, and the CLI's commands.

#![warn(missing_docs)]

pub mod appraise;
pub mod books;
pub mod ebay_notifications;
pub mod operator;
pub mod parse;
pub mod report_html;
pub mod session;
pub mod simulate;
pub mod supervisor;
pub mod system;
pub mod understand;
