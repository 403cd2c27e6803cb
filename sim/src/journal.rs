//! The world's write-ahead journal, so a world can outlive the process that runs it.
//!
//! The world is a function of its scenario, its seed and what the agent does to it. The
//! journal records the last part as it happens — every request to the eBay API, every mail
//! the agent sends, every consent the seller gives, and each step of simulated time — each
//! line written before the input takes effect. A world started on an existing journal
//! rebuilds itself from the seed and plays the journal back ([`crate::world::World::start`]),
//! so `bazaar sim --data-dir D`, killed at any moment and started again on `D`, finds the
//! same world it left: the same listings, threads, orders and ids, and the world remembers a
//! request whose answer the agent never saw.
//!
//! Each line is written with one `write` to a file opened for appending and not fsynced:
//! that survives the process being killed (the kernel holds the bytes), which is what the
//! journal is for; a simulated world does not need to survive the machine losing power. A
//! torn last line (killed mid-write) is an input that never took effect and is cut off.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// The first line: which world this is.
    Header {
        /// The scenario's name.
        scenario: String,
        seed: u64,
        /// The scenario's length in days.
        days: u32,
    },
    /// The world was asked to play up to `until`.
    Advance {
        /// Where the clock goes.
        until: DateTime<Utc>,
        /// How many world events had started playing when it was asked (a step cut short
        /// by a crash leaves events unplayed that the next step plays).
        started: u64,
    },
    /// A request to the eBay API.
    Http {
        /// The simulated time it arrived.
        at: DateTime<Utc>,
        /// How many world events had started playing when it arrived.
        started: u64,
        method: String,
        /// Path and query.
        uri: String,
        /// Every header but `host` and `content-length`, in order.
        headers: Vec<(String, String)>,
        /// The body, base64.
        body: String,
    },
    /// A mail the agent sent.
    Mail {
        /// The simulated time it was sent.
        at: DateTime<Utc>,
        /// How many world events had started playing when it was sent.
        started: u64,
        /// Where it went.
        recipients: Vec<String>,
        /// The RFC 5322 bytes, base64.
        raw: String,
    },
    /// How a notification destination's challenge went (it follows the request that
    /// created the destination; played back, the answer comes from here, as the endpoint
    /// that gave it belonged to an agent process that is gone).
    Challenge {
        /// Whether the endpoint answered the challenge correctly.
        verified: bool,
    },
    /// The seller consented on eBay (an authorization code was issued).
    Consent {
        /// The scopes granted.
        scopes: Vec<String>,
    },
}

impl Entry {
    /// Encodes bytes for [`Entry::Http::body`] and [`Entry::Mail::raw`].
    pub fn encode(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// Decodes [`Entry::encode`]'s text; bad text decodes to nothing.
    pub fn decode(text: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap_or_default()
    }
}

/// Why the journal could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Reading or writing the file failed.
    #[error("world journal {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line other than the last is not an entry.
    #[error("world journal {path} line {line} is not a journal entry ({message}); the file was changed by hand or another program: start with a new --data-dir")]
    Corrupt {
        /// The file.
        path: String,
        /// The 1-based line.
        line: usize,
        /// The parse error.
        message: String,
    },
    /// The journal belongs to another world.
    #[error("world journal {path} was written by scenario {found}, not {wanted}: run with the same scenario, seed and days, or use a new --data-dir")]
    OtherWorld {
        /// The file.
        path: String,
        /// What the journal says.
        found: String,
        /// What this run asked for.
        wanted: String,
    },
}

/// The open journal, shared by the world's parts that take the agent's input.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    started: AtomicU64,
    replaying: AtomicBool,
    /// The challenges' outcomes still to be played back, in order.
    challenges: Mutex<std::collections::VecDeque<bool>>,
    /// One input at a time, so the journal's order is the order inputs took effect in.
    serial: tokio::sync::Mutex<()>,
}

impl Journal {
    /// Opens (or creates) the journal at `path` and returns it with the entries it holds. A
    /// torn last line is cut off.
    pub fn open(path: &Path) -> Result<(Journal, Vec<Entry>), JournalError> {
        let io = |source| JournalError::Io {
            path: path.display().to_string(),
            source,
        };
        use std::os::unix::fs::OpenOptionsExt;
        // It holds the simulated eBay's tokens (requests are played back as they came).
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(io)?;
        let (entries, good_len) = parse(path, &text)?;
        if good_len < text.len() {
            file.set_len(good_len as u64).map_err(io)?;
            file.seek(SeekFrom::End(0)).map_err(io)?;
        }
        let journal = Journal {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            started: AtomicU64::new(0),
            replaying: AtomicBool::new(false),
            challenges: Mutex::new(
                entries
                    .iter()
                    .filter_map(|e| match e {
                        Entry::Challenge { verified } => Some(*verified),
                        _ => None,
                    })
                    .collect(),
            ),
            serial: tokio::sync::Mutex::new(()),
        };
        Ok((journal, entries))
    }

    /// Appends `entry` unless the journal is being played back (what is played back is
    /// already there).
    pub fn record(&self, entry: &Entry) -> Result<(), JournalError> {
        if self.replaying() {
            return Ok(());
        }
        let mut line = serde_json::to_string(entry).unwrap_or_default();
        line.push('\n');
        self.lock()
            .write_all(line.as_bytes())
            .map_err(|source| JournalError::Io {
                path: self.path.display().to_string(),
                source,
            })
    }

    /// How many world events have started playing.
    pub fn started(&self) -> u64 {
        self.started.load(Ordering::SeqCst)
    }

    pub(crate) fn set_started(&self, started: u64) {
        self.started.store(started, Ordering::SeqCst);
    }

    /// Whether the world is playing the journal back (pushes to the agent are not sent
    /// then: the agent that would have received them is gone).
    pub fn replaying(&self) -> bool {
        self.replaying.load(Ordering::SeqCst)
    }

    pub(crate) fn set_replaying(&self, replaying: bool) {
        self.replaying.store(replaying, Ordering::SeqCst);
    }

    /// The next challenge outcome of the journal being played back; `false` when the
    /// journal ends first (the process was stopped before the endpoint answered).
    pub fn replayed_challenge(&self) -> bool {
        let mut challenges = self.challenges.lock().unwrap_or_else(|e| e.into_inner());
        challenges.pop_front().unwrap_or(false)
    }

    /// Held while one input is recorded and takes effect.
    pub(crate) async fn serialize(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.serial.lock().await
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, File> {
        self.file.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The entries in `text` and the length of the part that holds them (a torn last line is
/// not part of it).
fn parse(path: &Path, text: &str) -> Result<(Vec<Entry>, usize), JournalError> {
    let mut entries = Vec::new();
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let complete = line.ends_with('\n');
        match serde_json::from_str::<Entry>(line.trim_end()) {
            Ok(entry) if complete => entries.push(entry),
            // Killed while writing it: the input never took effect.
            _ if !complete => break,
            Ok(_) => unreachable!("complete lines are handled above"),
            Err(error) => {
                return Err(JournalError::Corrupt {
                    path: path.display().to_string(),
                    line: index + 1,
                    message: error.to_string(),
                })
            }
        }
        offset += line.len();
    }
    Ok((entries, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Entry {
        Entry::Header {
            scenario: "default".into(),
            seed: 7,
            days: 30,
        }
    }

    #[test]
    fn entries_survive_reopening_and_a_torn_last_line_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let (journal, entries) = Journal::open(&path).unwrap();
        assert!(entries.is_empty());
        let mail = Entry::Mail {
            at: Utc::now(),
            started: 3,
            recipients: vec!["seller@sim.test".into()],
            raw: Entry::encode(b"Subject: hi\r\n\r\nbody"),
        };
        journal.record(&header()).unwrap();
        journal.record(&mail).unwrap();
        drop(journal);
        // A line the process was writing when it was killed.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"kind\":\"adv").unwrap();
        drop(file);

        let (journal, entries) = Journal::open(&path).unwrap();
        assert_eq!(entries, vec![header(), mail.clone()]);
        let Entry::Mail { raw, .. } = &entries[1] else {
            panic!("not mail")
        };
        assert_eq!(Entry::decode(raw), b"Subject: hi\r\n\r\nbody");
        // Appending after the cut gives whole lines again.
        journal.record(&header()).unwrap();
        drop(journal);
        let (_, entries) = Journal::open(&path).unwrap();
        assert_eq!(entries.len(), 3);
    }

    #[test]
    fn nothing_is_written_while_replaying_and_a_corrupt_middle_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let (journal, _) = Journal::open(&path).unwrap();
        journal.set_replaying(true);
        journal.record(&header()).unwrap();
        journal.set_replaying(false);
        drop(journal);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");

        std::fs::write(&path, "not json\n{\"kind\":\"consent\",\"scopes\":[]}\n").unwrap();
        let error = Journal::open(&path).unwrap_err().to_string();
        assert!(error.contains("line 1"), "{error}");
        assert!(error.contains("new --data-dir"), "{error}");
    }
}
