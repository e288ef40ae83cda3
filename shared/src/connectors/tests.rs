use std::collections::BTreeSet;
use std::path::PathBuf;

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::catalogue::FILES;
use super::*;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn shipped() -> &'static Catalogue {
    Catalogue::shipped()
}

fn params(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn build(connector: &str, v: Value) -> Result<ConnectorConfig> {
    ConnectorConfig::build(shipped(), connector, Some(&params(v)))
}

fn field_of(e: &Error) -> String {
    e.details()["field"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn every_file_in_config_connectors_is_compiled_in() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(repo().join("config/connectors"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let compiled: BTreeSet<String> = FILES.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(
        on_disk, compiled,
        "config/connectors and catalogue::FILES differ: add the file to FILES"
    );
    for (file, text) in FILES {
        let disk = std::fs::read_to_string(repo().join("config/connectors").join(file)).unwrap();
        assert_eq!(&disk, text, "{file}");
    }
}

#[test]
fn the_shipped_catalogue_is_valid_and_seeded() {
    let c = Catalogue::from_files(FILES).unwrap();
    assert_eq!(c.entries().len(), FILES.len());
    for name in [
        "filesystem",
        "everything",
        "memory",
        "fetch",
        "git",
        "time",
        "github",
        "slack",
        "postgres",
    ] {
        assert!(c.get(name).is_some(), "{name} is not in the catalogue");
    }
    for shape_only in ["github", "slack", "postgres", "gitlab", "brave-search"] {
        assert_eq!(
            c.get(shape_only).unwrap().availability,
            Availability::ShapeOnly,
            "{shape_only}"
        );
    }
    // Secrets are environment variables, never parameters.
    let github = c.get("github").unwrap();
    assert!(github.parameters.is_empty());
    assert_eq!(github.required_env(), ["GITHUB_PERSONAL_ACCESS_TOKEN"]);
}

/// The `runs_here` entries pin exactly the versions the install installs: npm ones in
/// package.json (and its lock), PyPI ones in tests/servers/requirements.txt.
#[test]
fn runnable_entries_pin_the_installed_versions() {
    let package: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("package.json")).unwrap())
            .unwrap();
    let lock: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("package-lock.json")).unwrap())
            .unwrap();
    let requirements =
        std::fs::read_to_string(repo().join("tests/servers/requirements.txt")).unwrap();
    for c in shipped().entries() {
        assert!(
            catalogue::is_pinned_version(&c.package.version),
            "{}",
            c.name
        );
        if c.availability != Availability::RunsHere {
            continue;
        }
        let p = &c.package;
        match p.registry {
            Registry::Npm => {
                assert_eq!(
                    package["dependencies"][&p.name], p.version,
                    "{}: package.json",
                    c.name
                );
                assert_eq!(
                    lock["packages"][format!("node_modules/{}", p.name)]["version"],
                    p.version,
                    "{}: package-lock.json",
                    c.name
                );
            }
            Registry::Pypi => assert!(
                requirements
                    .lines()
                    .any(|l| l.trim() == format!("{}=={}", p.name, p.version)),
                "{}: tests/servers/requirements.txt lacks {}=={}",
                c.name,
                p.name,
                p.version
            ),
        }
    }
}

fn entry(v: Value) -> std::result::Result<Connector, String> {
    Connector::parse("x.json", &v.to_string())
}

fn good() -> Value {
    json!({
        "name": "x", "title": "X", "description": "An X.", "transport": "stdio",
        "availability": "shape_only",
        "package": {"registry": "npm", "name": "@scope/x", "version": "1.2.3", "bin": "x"},
        "args": ["--root", "{root}", ["--mode={mode}"]],
        "parameters": {
            "root": {"type": "path", "required": true, "description": "Root."},
            "mode": {"type": "enum", "values": ["a", "b"], "default": "a", "description": "Mode."}
        },
        "env": [{"name": "X_TOKEN", "secret": true, "required": true, "description": "Token."}]
    })
}

#[test]
fn entries_that_break_an_invariant_are_refused() {
    assert!(entry(good()).is_ok());
    let with = |path: &[&str], value: Value| {
        let mut v = good();
        let mut at = &mut v;
        for p in &path[..path.len() - 1] {
            at = at.get_mut(*p).unwrap();
        }
        at[path[path.len() - 1]] = value;
        entry(v)
    };
    for (path, value, why) in [
        (
            &["package", "version"][..],
            json!("^1.2.3"),
            "exact version",
        ),
        (
            &["package", "version"][..],
            json!("latest"),
            "exact version",
        ),
        (&["package", "version"][..], json!("1"), "exact version"),
        (
            &["package", "bin"][..],
            json!("/usr/bin/x"),
            "bare executable",
        ),
        (&["package", "bin"][..], json!("x y"), "bare executable"),
        (
            &["args"][..],
            json!(["{nope}", "{root}", ["{mode}"]]),
            "undeclared",
        ),
        (&["args"][..], json!(["{root}"]), "not used"),
        (&["args"][..], json!(["{root", "{mode}"]), "unmatched"),
        (
            &["args"][..],
            json!(["{Root}", "{mode}"]),
            "bad placeholder",
        ),
        (&["args"][..], json!(["{root}", []]), "empty group"),
        (&["name"][..], json!("X"), "name"),
        (&["name"][..], json!("y"), "holds connector"),
        (
            &["parameters", "mode", "default"][..],
            json!("c"),
            "default",
        ),
        (
            &["parameters", "mode", "values"][..],
            json!([]),
            "no values",
        ),
        (
            &["parameters", "root", "pattern"][..],
            json!("a+"),
            "pattern",
        ),
        (
            &["parameters", "root", "default"][..],
            json!("/x"),
            "has a default",
        ),
        (
            &["env"][..],
            json!([{"name": "LD_PRELOAD", "secret": false, "required": false, "description": "d"}]),
            "cannot be set",
        ),
        (
            &["env"][..],
            json!([{"name": "A", "secret": false, "required": false, "description": "d"},
                              {"name": "A", "secret": false, "required": false, "description": "d"}]),
            "twice",
        ),
        (&["transport"][..], json!("carrier_pigeon"), "not an entry"),
        (&["command"][..], json!("bash"), "not an entry"),
    ] {
        let err = with(path, value).unwrap_err();
        assert!(err.contains(why), "{path:?}: {err}");
    }
    let twice = Catalogue::from_files(&[
        ("x.json", &good().to_string()),
        ("x.json", &good().to_string()),
    ])
    .unwrap_err();
    assert!(twice.contains("twice"), "{twice}");
}

#[test]
fn parameters_are_exactly_the_declared_ones() {
    let ok = build("filesystem", json!({"folder": "/srv/data"})).unwrap();
    assert_eq!(ok.connector, "filesystem");
    assert_eq!(
        ok.version,
        shipped().get("filesystem").unwrap().package.version
    );
    let unknown = build("no-such", json!({})).unwrap_err();
    assert_eq!(field_of(&unknown), "connector");
    assert!(unknown.details()["allowed"]
        .as_array()
        .unwrap()
        .contains(&json!("filesystem")));
    let missing = build("filesystem", json!({})).unwrap_err();
    assert_eq!(field_of(&missing), "parameters.folder");
    let extra = build("filesystem", json!({"folder": "/a", "command": "sh"})).unwrap_err();
    assert_eq!(field_of(&extra), "parameters.command");
    let typed = build("filesystem", json!({"folder": 7})).unwrap_err();
    assert_eq!(field_of(&typed), "parameters.folder");
    for e in [&unknown, &missing, &extra, &typed] {
        assert_eq!(e.code(), "validation_error");
    }
    // Defaults fill in; an absent optional parameter without one stays absent.
    assert_eq!(
        build("time", json!({})).unwrap().parameters["local_timezone"],
        "UTC"
    );
    assert!(build("fetch", json!({})).unwrap().parameters.is_empty());
}

#[test]
fn values_that_could_inject_options_or_escape_are_refused() {
    for (connector, name, value) in [
        ("filesystem", "folder", "--help"),
        ("filesystem", "folder", "-rf"),
        ("filesystem", "folder", "relative/dir"),
        ("filesystem", "folder", "/srv/../etc"),
        ("filesystem", "folder", "/srv/./x"),
        ("filesystem", "folder", "/srv//x"),
        ("filesystem", "folder", "/srv/x/.."),
        ("filesystem", "folder", "/srv/a\nb"),
        ("filesystem", "folder", "/srv/a\0b"),
        ("filesystem", "folder", ""),
        ("git", "repository", "--upload-pack=touch /tmp/pwned"),
        ("time", "local_timezone", "-x"),
        ("time", "local_timezone", "Europe/Paris; rm -rf /"),
        ("fetch", "user_agent", "--ignore-robots-txt"),
        (
            "postgres",
            "database_url",
            "postgresql://u:secret@db:5432/x",
        ),
        ("postgres", "database_url", "http://db/x"),
        ("postgres", "database_url", "not a url"),
    ] {
        let err = build(connector, json!({ name: value })).unwrap_err();
        assert_eq!(err.code(), "validation_error", "{connector} {value:?}");
        assert_eq!(
            field_of(&err),
            format!("parameters.{name}"),
            "{connector} {value:?}"
        );
        assert!(
            !err.public_message().contains("secret@"),
            "{}",
            err.public_message()
        );
    }
    let long = format!("/{}", "a".repeat(template::MAX_VALUE_LEN));
    assert!(build("filesystem", json!({ "folder": long })).is_err());
    assert!(build(
        "postgres",
        json!({"database_url": "postgresql://reader@db:5432/x"})
    )
    .is_ok());
}

#[test]
fn rendering_follows_the_launch_mode() {
    let fs = build("filesystem", json!({"folder": "/srv/data"})).unwrap();
    let installed = fs.render(shipped(), ConnectorLaunch::Installed).unwrap();
    assert_eq!(installed.command, "mcp-server-filesystem");
    assert_eq!(installed.args, ["/srv/data"]);
    let registry = fs.render(shipped(), ConnectorLaunch::Registry).unwrap();
    assert_eq!(registry.command, "npx");
    let version = &shipped().get("filesystem").unwrap().package.version;
    assert_eq!(
        registry.args,
        [
            "-y".to_string(),
            format!("@modelcontextprotocol/server-filesystem@{version}"),
            "/srv/data".to_string()
        ]
    );
    let git = build("git", json!({"repository": "/srv/repo"})).unwrap();
    let uvx = git.render(shipped(), ConnectorLaunch::Registry).unwrap();
    assert_eq!(uvx.command, "uvx");
    assert_eq!(
        uvx.args[..3],
        ["--from", "mcp-server-git==2026.10.19", "mcp-server-git"]
    );
    assert_eq!(uvx.args[3..], ["--repository", "/srv/repo"]);
    // A group whose parameter has no value is left out whole.
    let fetch = build("fetch", json!({})).unwrap();
    assert!(fetch
        .render(shipped(), ConnectorLaunch::Installed)
        .unwrap()
        .args
        .is_empty());
    let time = build("time", json!({})).unwrap();
    assert_eq!(
        time.render(shipped(), ConnectorLaunch::Installed)
            .unwrap()
            .args,
        ["--local-timezone", "UTC"]
    );
    // Environment: the declared names only, the required ones needed before a start.
    let gh = build("github", json!({})).unwrap();
    let rendered = gh.render(shipped(), ConnectorLaunch::Installed).unwrap();
    assert_eq!(rendered.env_names, ["GITHUB_PERSONAL_ACCESS_TOKEN"]);
    assert_eq!(
        rendered.env_allowed.as_deref(),
        Some(&["GITHUB_PERSONAL_ACCESS_TOKEN".to_string()][..])
    );
    assert_eq!(
        ConnectorLaunch::from_setting(None),
        ConnectorLaunch::Registry
    );
    assert_eq!(
        ConnectorLaunch::from_setting(Some(" installed ")),
        ConnectorLaunch::Installed
    );
}

#[test]
fn stored_configs_round_trip_and_render_with_the_current_catalogue() {
    let fs = build("filesystem", json!({"folder": "/srv/data"})).unwrap();
    let stored: Value = serde_json::from_str(&fs.to_json_text()).unwrap();
    assert_eq!(
        stored,
        json!({"connector": "filesystem", "version": fs.version, "parameters": {"folder": "/srv/data"}})
    );
    assert_eq!(ConnectorConfig::from_stored(&stored).unwrap().unwrap(), fs);
    assert!(ConnectorConfig::from_stored(&json!({"command": "npx"})).is_none());
    assert!(
        ConnectorConfig::from_stored(&json!({"connector": "x", "cmd": 1}))
            .unwrap()
            .is_err()
    );
    // An older version recorded still renders (the deployment's catalogue decides what runs);
    // a value stored behind the API's back is checked again.
    let old = ConnectorConfig {
        version: "1.0.0".into(),
        ..fs.clone()
    };
    assert!(old.render(shipped(), ConnectorLaunch::Installed).is_ok());
    let tampered = ConnectorConfig {
        parameters: [("folder".to_string(), "-x".to_string())].into(),
        ..fs.clone()
    };
    assert!(tampered
        .render(shipped(), ConnectorLaunch::Installed)
        .is_err());
    let gone = ConnectorConfig {
        connector: "gone".into(),
        ..fs.clone()
    };
    assert_eq!(
        gone.render(shipped(), ConnectorLaunch::Installed)
            .unwrap_err()
            .code(),
        "conflict"
    );
    // Destination: the parameters, not the version.
    assert_eq!(old.destination(), fs.destination());
    let other = build("filesystem", json!({"folder": "/srv/other"})).unwrap();
    assert_ne!(other.destination(), fs.destination());
}

#[test]
fn the_catalogue_view_shows_members_less_than_admins() {
    let member = catalogue_view(shipped(), false);
    let admin = catalogue_view(shipped(), true);
    let fs_m = member["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "filesystem")
        .unwrap();
    assert_eq!(fs_m["availability"], "runs_here");
    assert!(fs_m.get("parameters").is_none() && fs_m.get("package").is_none());
    let fs_a = admin["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "filesystem")
        .unwrap();
    assert_eq!(fs_a["parameters"]["folder"]["type"], "path");
    assert_eq!(fs_a["package"]["bin"], "mcp-server-filesystem");
}

proptest! {
    /// Whatever an admin sends, a rendered value is one whole argument (never split, never an
    /// option) at the template's place, and accepted paths are normalised absolute ones.
    #[test]
    fn rendered_values_stay_one_argument_and_never_an_option(
        segments in prop::collection::vec("[a-zA-Z0-9 ._\\-~$;|&`'\"*?]{0,12}", 0..6),
        prefix in prop::sample::select(vec!["/", "", "-", "./", "~/", "//"]),
    ) {
        let value = format!("{prefix}{}", segments.join("/"));
        match build("git", json!({ "repository": value })) {
            Ok(c) => {
                let r = c.render(shipped(), ConnectorLaunch::Installed).unwrap();
                prop_assert_eq!(r.command.as_str(), "mcp-server-git");
                prop_assert_eq!(r.args.len(), 2);
                prop_assert_eq!(r.args[0].as_str(), "--repository");
                prop_assert_eq!(&r.args[1], &value);
                prop_assert!(value.starts_with('/') && !value.starts_with("-"));
                prop_assert!(value[1..].is_empty() || value[1..]
                    .split('/')
                    .all(|s| !s.is_empty() && s != "." && s != ".."));
            }
            Err(e) => {
                prop_assert_eq!(e.code(), "validation_error");
                prop_assert_eq!(field_of(&e), "parameters.repository");
            }
        }
    }

    /// String values with a pattern: accepted ones match it and land in their group intact.
    #[test]
    fn pattern_values_render_into_their_group_only_when_accepted(value in "\\PC{0,20}") {
        match build("time", json!({ "local_timezone": value })) {
            Ok(c) => {
                let r = c.render(shipped(), ConnectorLaunch::Installed).unwrap();
                prop_assert_eq!(r.args, vec!["--local-timezone".to_string(), value.clone()]);
                prop_assert!(value.chars().all(|ch| ch.is_ascii_alphanumeric() || "_+/-".contains(ch)));
                prop_assert!(!value.starts_with('-'));
            }
            Err(e) => prop_assert_eq!(field_of(&e), "parameters.local_timezone"),
        }
    }
}
