//! The control socket: `<data dir>/control.sock`, which `bazaar run` always serves, so the
//! read commands (`status`, `inventory`, `pnl`, `audit`, …) answer while the daemon holds
//! the store, with no configuration. The socket is the owner's alone (mode 0600 in a 0700
//! directory): whoever can connect could read the store's files anyway.
//!
//! One command per connection. The client writes a JSON line, `{"command": …}` (a
//! [`ReadCommand`]); the daemon answers with frames of `[kind: u8][length: u32 BE][bytes]`:
//! `o` for the command's output, `e` for its remarks, and last `x` with the exit code.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Semaphore};

use crate::commands::read::{ReadCommand, ReadContext};

/// The socket's file name in the data directory.
pub const SOCKET_FILE: &str = "control.sock";

/// The longest request accepted: a command line, not a payload.
const MAX_REQUEST: u64 = 64 * 1024;

/// Commands answered at once; more wait for a turn (each may read the whole store).
const CONCURRENT_COMMANDS: usize = 2;

/// Output is sent in frames of up to this many bytes.
const FRAME: usize = 32 * 1024;

/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a data directory's control socket is.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_FILE)
}

#[derive(Serialize, Deserialize)]
struct Request {
    command: ReadCommand,
}

/// The control socket a daemon serves; [`ControlSocket::stop`] closes it and removes it.
pub struct ControlSocket {
    path: PathBuf,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl ControlSocket {
    /// Serves `context` on the data directory's control socket. Only the process that holds
    /// the store calls this, so a socket file already there is a dead daemon's and is
    /// replaced.
    pub fn serve(data_dir: &Path, context: Arc<ReadContext>) -> anyhow::Result<ControlSocket> {
        use std::os::unix::fs::PermissionsExt;
        let path = socket_path(data_dir);
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::debug!(path = %path.display(), "removed a stale control socket"),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("cannot remove stale {}", path.display()))
            }
        }
        let listener = tokio::net::UnixListener::bind(&path)
            .with_context(|| format!("cannot serve the control socket {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot make {} private", path.display()))?;
        let (stop, mut stopped) = watch::channel(false);
        let turns = Arc::new(Semaphore::new(CONCURRENT_COMMANDS));
        let task = tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    _ = stopped.changed() => break,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(error) => {
                            tracing::warn!(%error, "control socket: accept failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    },
                };
                let Ok(turn) = turns.clone().acquire_owned().await else {
                    break;
                };
                let context = context.clone();
                tokio::task::spawn_blocking(move || {
                    let _turn = turn;
                    if let Err(error) = answer(stream, &context) {
                        tracing::warn!(error = %format!("{error:#}"), "control socket: command not answered");
                    }
                });
            }
        });
        tracing::info!(path = %path.display(), "read commands answer over the control socket");
        Ok(ControlSocket { path, stop, task })
    }

    /// Stops accepting commands and removes the socket file (commands being answered
    /// finish).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        if let Err(error) = std::fs::remove_file(&self.path) {
            tracing::warn!(%error, path = %self.path.display(), "cannot remove the control socket");
        }
    }
}

/// Reads one request from `stream` and answers it.
fn answer(stream: tokio::net::UnixStream, context: &ReadContext) -> anyhow::Result<()> {
    let stream = stream.into_std()?;
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    let mut line = Vec::new();
    std::io::BufReader::new((&stream).take(MAX_REQUEST)).read_until(b'\n', &mut line)?;
    let mut out = Frames::new(&stream, b'o');
    let mut err = Frames::new(&stream, b'e');
    let code = match serde_json::from_slice::<Request>(&line) {
        Ok(request) => {
            tracing::debug!(command = ?request.command, "control socket: read command");
            match request.command.execute(context, &mut out, &mut err) {
                Ok(code) => code,
                Err(error) => {
                    writeln!(err, "bazaar: {error:#}")?;
                    1
                }
            }
        }
        Err(error) => {
            writeln!(
                err,
                "bazaar: the daemon did not understand the command ({error}); is it the same version as this bazaar?"
            )?;
            super::commands::EXIT_USAGE
        }
    };
    out.flush()?;
    err.flush()?;
    write_frame(&mut &stream, b'x', &[code])?;
    Ok(())
}

/// A writer that sends what is written as frames of one kind.
struct Frames<'a> {
    stream: &'a std::os::unix::net::UnixStream,
    kind: u8,
    buffer: Vec<u8>,
}

impl<'a> Frames<'a> {
    fn new(stream: &'a std::os::unix::net::UnixStream, kind: u8) -> Frames<'a> {
        Frames {
            stream,
            kind,
            buffer: Vec::new(),
        }
    }
}

impl Write for Frames<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= FRAME {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        write_frame(&mut self.stream, self.kind, &self.buffer)?;
        self.buffer.clear();
        Ok(())
    }
}

fn write_frame(out: &mut impl Write, kind: u8, bytes: &[u8]) -> std::io::Result<()> {
    let length = u32::try_from(bytes.len()).map_err(std::io::Error::other)?;
    out.write_all(&[kind])?;
    out.write_all(&length.to_be_bytes())?;
    out.write_all(bytes)
}

/// Runs `command` in the daemon serving `data_dir`'s control socket, copying its output to
/// `out` and its remarks to `err`: its exit code, or `None` when no daemon answers there.
pub fn ask(
    data_dir: &Path,
    command: &ReadCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Option<u8>> {
    let path = socket_path(data_dir);
    let mut stream = match std::os::unix::net::UnixStream::connect(&path) {
        Ok(stream) => stream,
        // No daemon, or a dead one's socket: the command runs here.
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None)
        }
        Err(error) => {
            return Err(error)
                .with_context(|| format!("cannot reach the running daemon at {}", path.display()))
        }
    };
    let mut request = serde_json::to_vec(&Request {
        command: command.clone(),
    })?;
    request.push(b'\n');
    stream.write_all(&request)?;
    stream.shutdown(std::net::Shutdown::Write)?;
    let mut reader = std::io::BufReader::new(stream);
    loop {
        let mut head = [0u8; 5];
        reader.read_exact(&mut head).with_context(|| {
            format!(
                "the daemon at {} stopped answering mid-command",
                path.display()
            )
        })?;
        let length = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut bytes = vec![0; length];
        reader.read_exact(&mut bytes)?;
        match head[0] {
            b'o' => out.write_all(&bytes)?,
            b'e' => err.write_all(&bytes)?,
            b'x' => return Ok(Some(bytes.first().copied().unwrap_or(1))),
            other => anyhow::bail!(
                "the daemon at {} sent a frame of unknown kind {other}; is it the same version as this bazaar?",
                path.display()
            ),
        }
    }
}
