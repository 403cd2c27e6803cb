//! The actors' and connectors' integration tests in one binary (the agents crate's `tests/`):
//! each connector against the simulated marketplaces and real saved pages, hostile input,
//! the LLM client. One build and one link for all of them.

mod connectors_common;

mod connectors_craigslist;
mod connectors_ebay;
mod connectors_ebay_sell;
mod connectors_marketplace;
mod craigslist_real;
mod hostile;
mod llm;
