//! The simulated world's integration tests in one binary (the sim crate's `tests/`): its eBay
//! against the official contracts, its sites, its mail (in process and real Postfix +
//! Dovecot), its LLM and sellers. One build and one link for all of them.

mod mail_common;
mod support;

mod ebay;
mod llm;
mod mail_in_process;
mod mail_postfix;
mod negotiation_eval;
mod sites_craigslist;
mod sites_js;
mod world;
