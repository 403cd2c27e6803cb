//! A configuration file, hostile: layered over the defaults and validated. Nothing may
//! panic; a config that loads has passed validation.
#![no_main]

use bazaar_config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = Config::from_text(Some((&text, "fuzz.toml")), std::iter::empty());
});
