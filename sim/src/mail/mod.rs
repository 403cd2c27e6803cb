//! Mail in the simulated world: the mail types and transports of `bazaar-mail` (the same
//! crate the agent speaks through; re-exported here) plus [`PostOffice`], an in-process server with
//! one mailbox per address, IMAP-like UIDs and UIDVALIDITY, fully deterministic, so
//! `bazaar sim` needs nothing installed. Against a real server the world uses
//! [`SmtpImapTransport`] like the agent does (`sim/scripts/mail-server.sh` starts a throwaway
//! Postfix + Dovecot).

mod in_process;
mod throwaway;

pub use bazaar_mail::*;
pub use in_process::{InProcessTransport, PostOffice};
pub use throwaway::{script as mail_server_script, ThrowawayServer};
