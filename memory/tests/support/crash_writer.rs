//! `store-crash-writer <dir>`: writes deterministic records into the store at `<dir>`
//! forever, flushing every few puts and printing `flushed <seq>` once every record up to
//! `<seq>` is durable. Continues from the store's `crash.next` meta entry, so it can be
//! killed and restarted at any moment. Driven by `tests/crash.rs`.

use std::io::Write;
use std::path::PathBuf;

use bazaar_memory::{SledStore, Store};

mod crash_record;

use crash_record::{record, FLUSH_EVERY, NEXT_KEY};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: store-crash-writer <dir>");
        std::process::exit(2);
    };
    let store = match SledStore::open(&dir) {
        Ok(store) => store,
        Err(error) => {
            eprintln!("store-crash-writer: {error}");
            std::process::exit(1);
        }
    };
    let mut next: u64 = store
        .get_meta(NEXT_KEY)
        .expect("read crash.next")
        .unwrap_or(0);
    let mut stdout = std::io::stdout().lock();
    loop {
        store.put(&record(next)).expect("put");
        next += 1;
        if next.is_multiple_of(FLUSH_EVERY) {
            store.put_meta(NEXT_KEY, &next).expect("put crash.next");
            store.flush().await.expect("flush");
            // a closed pipe means the test is gone: stop quietly
            if writeln!(stdout, "flushed {}", next - 1)
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return;
            }
        }
    }
}
