//! The `bazaar` processes the tests start: killed when the test ends, and their output read
//! line by line.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

/// A child process killed when the test ends, passed or failed: a failing assertion leaves
/// no daemon behind.
pub struct Stopped(pub Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `command` with its standard output piped; returns it and its lines as they come.
/// A thread reads to the end, so the child never writes into a closed pipe.
pub fn spawn_reading_stdout(command: &mut Command) -> (Stopped, mpsc::Receiver<String>) {
    let mut child = Stopped(command.stdout(Stdio::piped()).spawn().unwrap());
    let stdout = child.0.stdout.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    (child, lines)
}
