//! Failed logins and bad bearer tokens, counted per client: past [`MAX_FAILURES`] in a
//! [`WINDOW`], that client is refused (429) until the window ends, so a token is guessed
//! at a few tries a minute, not thousands a second.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per client in one window.
pub const MAX_FAILURES: u32 = 10;

/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Clients remembered at most; past this the oldest windows are forgotten first.
const MAX_CLIENTS: usize = 10_000;

/// Counts failures per client address.
#[derive(Default)]
pub(crate) struct Throttle {
    clients: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Throttle {
    /// `Some(wait)` while `client` has used up its failures.
    pub fn refused(&self, client: IpAddr) -> Option<Duration> {
        let client = super::serve::client_key(client);
        let clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let (started, failures) = clients.get(&client)?;
        let left = WINDOW.checked_sub(started.elapsed())?;
        (*failures >= MAX_FAILURES).then_some(left)
    }

    /// Counts one failure by `client`.
    pub fn failed(&self, client: IpAddr) {
        let client = super::serve::client_key(client);
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if clients.len() >= MAX_CLIENTS && !clients.contains_key(&client) {
            clients.retain(|_, (started, _)| now.duration_since(*started) < WINDOW);
            if clients.len() >= MAX_CLIENTS {
                // Everyone is mid-window: a flood from many addresses. Forget the oldest.
                if let Some(oldest) = clients
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(ip, _)| *ip)
                {
                    clients.remove(&oldest);
                }
            }
        }
        let entry = clients.entry(client).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_refused_after_its_failures_and_others_are_not() {
        let throttle = Throttle::default();
        let guesser: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..MAX_FAILURES - 1 {
            throttle.failed(guesser);
        }
        assert_eq!(throttle.refused(guesser), None);
        throttle.failed(guesser);
        assert!(throttle.refused(guesser).is_some_and(|wait| wait <= WINDOW));
        assert_eq!(throttle.refused(other), None);
        // One IPv6 /64 is one client.
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::ffff:1".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            throttle.failed(a);
        }
        assert!(throttle.refused(b).is_some());
    }
}
