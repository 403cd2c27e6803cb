//! Bazaar's integration tests in one binary (the runtime crate's `tests/`): the modules share
//! one build and one link, and the long ones (chaos, the simulated months, real mail) run
//! beside the rest instead of one binary after another. Each module's doc says what it
//! covers; `cargo test -p bazaar-runtime --test it chaos` runs one of them.

mod negotiation_common;
mod support;

mod chaos;
mod cli;
mod code_shape;
mod crate_graph;
mod cross_listing;
mod daemon_business;
mod inbox_page;
mod mail_outage;
mod negotiation;
mod operator_api;
mod outage;
mod parse;
mod researcher;
mod run_selling;
mod scan;
mod selling;
mod session;
mod sim_run;
mod sim_serve;
mod supervisor;
mod system;
mod understand;
mod webhooks;
