//! The shape ARCHITECTURE.md promises of the code: no function in a crate's `src` longer
//! than a screenful twice over, and a binary that only parses and dispatches.

use std::path::{Path, PathBuf};

/// The most lines a function in `src` may span, from `fn` to its closing brace.
const MAX_FUNCTION_LINES: usize = 120;
/// The most lines `runtime/src/main.rs` may have: parsing and dispatch, the commands live
/// in `runtime/src/commands/`.
const MAX_MAIN_LINES: usize = 300;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under each workspace crate's `src`.
fn sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for krate in std::fs::read_dir(workspace()).unwrap() {
        let src = krate.unwrap().path().join("src");
        if src.is_dir() && src.parent().unwrap().join("Cargo.toml").is_file() {
            walk(&src, &mut files);
        }
    }
    assert!(files.len() > 50, "found only {} source files", files.len());
    files
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// A token that matters for finding function bodies.
#[derive(Debug, PartialEq)]
enum Token {
    Fn { name: String },
    Open,
    Close,
    Semicolon,
}

/// The `fn` keywords, braces and semicolons of Rust source with the line each is on;
/// comments, strings and character literals are skipped.
fn tokens(source: &str) -> Vec<(usize, Token)> {
    let bytes = source.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let word = |i: usize| {
        let end = bytes[i..]
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
            .map_or(bytes.len(), |n| i + n);
        (&source[i..end], end)
    };
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        match b {
            b'\n' => line += 1,
            b'/' if next == Some(b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if next == Some(b'*') => {
                let mut depth = 0;
                loop {
                    if bytes[i..].starts_with(b"/*") {
                        depth += 1;
                        i += 2;
                    } else if bytes[i..].starts_with(b"*/") {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        line += usize::from(bytes[i] == b'\n');
                        i += 1;
                    }
                }
                continue;
            }
            b'r' | b'b' if is_raw_string(&bytes[i..]) => {
                let start = i + if b == b'b' { 2 } else { 1 };
                let hashes = bytes[start..].iter().take_while(|c| **c == b'#').count();
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                i = start + hashes + 1;
                while !bytes[i..].starts_with(&close) {
                    line += usize::from(bytes[i] == b'\n');
                    i += 1;
                }
                i += close.len();
                continue;
            }
            b'"' => {
                i += 1;
                while bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    line += usize::from(bytes[i] == b'\n');
                    i += 1;
                }
            }
            // A character literal ('x', '\n', '\u{..}', '{'); a lifetime has no closing quote.
            b'\'' => {
                if next == Some(b'\\') {
                    i += 2;
                    while bytes[i] != b'\'' {
                        i += 1;
                    }
                } else if bytes.get(i + 2) == Some(&b'\'') {
                    i += 2;
                } else if let Some(c) = source[i + 1..].chars().next() {
                    if source[i + 1 + c.len_utf8()..].starts_with('\'') {
                        i += c.len_utf8() + 1;
                    }
                }
            }
            b'{' => out.push((line, Token::Open)),
            b'}' => out.push((line, Token::Close)),
            b';' => out.push((line, Token::Semicolon)),
            _ if b.is_ascii_alphabetic() || b == b'_' => {
                let (text, end) = word(i);
                if text == "fn" {
                    let mut j = end;
                    while bytes[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    let (name, _) = word(j);
                    if !name.is_empty() {
                        out.push((
                            line,
                            Token::Fn {
                                name: name.to_string(),
                            },
                        ));
                    }
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

fn is_raw_string(rest: &[u8]) -> bool {
    let rest = rest.strip_prefix(b"b").unwrap_or(rest);
    let Some(rest) = rest.strip_prefix(b"r") else {
        return false;
    };
    let hashes = rest.iter().take_while(|c| **c == b'#').count();
    rest.get(hashes) == Some(&b'"')
}

/// Each function with a body: its name and the lines from `fn` to its closing brace.
fn functions(source: &str) -> Vec<(String, usize, usize)> {
    let tokens = tokens(source);
    let mut found = Vec::new();
    for (at, (line, token)) in tokens.iter().enumerate() {
        let Token::Fn { name } = token else { continue };
        let mut depth = 0usize;
        for (end_line, token) in &tokens[at + 1..] {
            match token {
                Token::Semicolon if depth == 0 => break,
                Token::Open => depth += 1,
                Token::Close => {
                    depth -= 1;
                    if depth == 0 {
                        found.push((name.clone(), *line, end_line - line + 1));
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    found
}

#[test]
fn the_function_finder_reads_what_it_must() {
    let check = |source: &str, expected: &[(&str, usize)]| {
        let found: Vec<(String, usize)> = functions(source)
            .into_iter()
            .map(|(name, _, lines)| (name, lines))
            .collect();
        let expected: Vec<(String, usize)> =
            expected.iter().map(|(n, l)| (n.to_string(), *l)).collect();
        assert_eq!(found, expected, "{source}");
    };
    check("fn a() {\n}\n", &[("a", 2)]);
    check("fn a() { let s = \"}\"; let c = '}';\n}\n", &[("a", 2)]);
    check(
        "fn a<'x>(v: &'x str) {\n // }\n /* } */ let r = r#\"}\"#;\n}",
        &[("a", 4)],
    );
    check("trait T { fn a(&self);\n fn b() {\n}\n}", &[("b", 2)]);
    check("fn a() {\n fn b() {}\n}\n", &[("a", 3), ("b", 1)]);
    check("fn a() -> impl Fn() { || {} }", &[("a", 1)]);
}

#[test]
fn no_function_is_longer_than_a_screenful_twice_over() {
    let mut long = Vec::new();
    for file in sources() {
        let source = std::fs::read_to_string(&file).unwrap();
        for (name, line, lines) in functions(&source) {
            if lines > MAX_FUNCTION_LINES {
                let shown = file
                    .strip_prefix(workspace())
                    .unwrap_or(&file)
                    .display()
                    .to_string();
                long.push(format!("{shown}:{line} {name} ({lines} lines)"));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FUNCTION_LINES} lines; split them:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_binary_only_parses_and_dispatches() {
    let main = std::fs::read_to_string(workspace().join("runtime/src/main.rs")).unwrap();
    let lines = main.lines().count();
    assert!(
        lines <= MAX_MAIN_LINES,
        "runtime/src/main.rs has {lines} lines; move the command into runtime/src/commands/"
    );
}
