//! Mail in the agent: the transports and message types of `bazaar-mail` (re-exported here),
//! the gate's connector that sends through a transport ([`connector`]), and the mailroom
//! that fetches replies and routes them to their negotiations ([`mailroom`]).

pub mod connector;
pub mod mailroom;

pub use bazaar_mail::*;
pub use connector::{message_id_for, Connectors, MailConnector, SendEmailParams};
pub use mailroom::{offered_listing, Delivered, Mailroom, MailroomError, PollReport};
