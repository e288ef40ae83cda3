//! A connector's argument template and the values its parameters take.
//!
//! Invariants:
//! - A template argument is a literal with `{parameter}` placeholders, or a group of such
//!   literals; a group is rendered only when every parameter it names has a value (given or
//!   default), a lone argument only when its parameters do, else it is left out.
//! - A value is substituted as-is into the one argument that holds its placeholder: it never
//!   becomes several arguments, and no value can start an option (`-…`), hold a control
//!   character or exceed [`MAX_VALUE_LEN`] bytes, whatever its type.
//! - `path` values are absolute and normalised (no `.`, `..` or empty segments); `url` values
//!   are absolute URLs of an allowed scheme with no password; `enum` values are listed;
//!   `string` values match the parameter's pattern when it has one.
//! - Errors are `validation_error`s with `details.field = "parameters.<name>"`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::catalogue::{ParamType, Parameter};
use super::pattern::Pattern;
use crate::error::{Error, Result};

/// Longest accepted parameter value.
pub const MAX_VALUE_LEN: usize = 1024;

/// One argument of a connector's template (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ArgTemplate {
    One(String),
    Group(Vec<String>),
}

impl ArgTemplate {
    fn literals(&self) -> &[String] {
        match self {
            ArgTemplate::One(s) => std::slice::from_ref(s),
            ArgTemplate::Group(g) => g,
        }
    }

    /// The parameters this argument names (a malformed placeholder is an error).
    pub fn parameters(&self) -> std::result::Result<Vec<String>, String> {
        if let ArgTemplate::Group(g) = self {
            if g.is_empty() {
                return Err("argument template has an empty group".into());
            }
        }
        let mut names = Vec::new();
        for literal in self.literals() {
            names.extend(placeholders(literal)?);
        }
        Ok(names)
    }

    /// The rendered arguments, or none when a parameter it names has no value.
    fn render(&self, values: &BTreeMap<String, String>) -> Vec<String> {
        let mut out = Vec::new();
        for literal in self.literals() {
            match substitute(literal, values) {
                Some(arg) => out.push(arg),
                None => return Vec::new(),
            }
        }
        out
    }
}

/// The `{name}` placeholders of `text`, in order. `{` and `}` only ever delimit one.
pub fn placeholders(text: &str) -> std::result::Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return Err(format!("argument {text:?} has an unmatched '}}'"));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("argument {text:?} has an unmatched '{{'"))?;
        let name = &after[..close];
        let well_formed = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !well_formed {
            return Err(format!(
                "argument {text:?} has a bad placeholder {{{name}}}"
            ));
        }
        names.push(name.to_string());
        rest = &after[close + 1..];
    }
    Ok(names)
}

fn substitute(literal: &str, values: &BTreeMap<String, String>) -> Option<String> {
    let mut out = String::with_capacity(literal.len());
    let mut rest = literal;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}')?;
        out.push_str(values.get(&after[..close])?);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Renders `template` with `values` (already checked, defaults filled in).
pub fn render_args(template: &[ArgTemplate], values: &BTreeMap<String, String>) -> Vec<String> {
    template.iter().flat_map(|a| a.render(values)).collect()
}

fn param_error(name: &str, problem: &str) -> Error {
    Error::validation_with(
        format!("parameter '{name}' {problem}"),
        json!({ "field": format!("parameters.{name}") }),
    )
}

/// Checks one value against its parameter's type (see the module doc).
pub fn check_value(name: &str, param: &Parameter, value: &str) -> Result<()> {
    if value.is_empty() || value.len() > MAX_VALUE_LEN {
        return Err(param_error(
            name,
            &format!("must be 1 to {MAX_VALUE_LEN} bytes"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(param_error(name, "must not hold control characters"));
    }
    if value.starts_with('-') {
        return Err(param_error(
            name,
            "must not start with '-' (it would be read as an option)",
        ));
    }
    match param.kind {
        ParamType::String => {}
        ParamType::Path => check_path(name, value)?,
        ParamType::Url => check_url(name, param, value)?,
        ParamType::Enum => {
            if !param.values.iter().any(|v| v == value) {
                return Err(Error::validation_with(
                    format!(
                        "parameter '{name}' must be one of {}",
                        param.values.join(", ")
                    ),
                    json!({ "field": format!("parameters.{name}"), "allowed": param.values }),
                ));
            }
        }
    }
    if let Some(pattern) = &param.pattern {
        let ok = Pattern::parse(pattern).is_ok_and(|p| p.matches(value));
        if !ok {
            return Err(param_error(name, &format!("must match {pattern}")));
        }
    }
    Ok(())
}

fn check_path(name: &str, value: &str) -> Result<()> {
    let Some(rest) = value.strip_prefix('/') else {
        return Err(param_error(
            name,
            "must be an absolute path (start with '/')",
        ));
    };
    if rest.is_empty() {
        return Ok(());
    }
    if rest
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err(param_error(
            name,
            "must be a normalised path: no '..', '.' or empty segments",
        ));
    }
    Ok(())
}

fn check_url(name: &str, param: &Parameter, value: &str) -> Result<()> {
    let url = url::Url::parse(value).map_err(|_| param_error(name, "must be an absolute URL"))?;
    let https = ["https".to_string()];
    let schemes: &[String] = if param.schemes.is_empty() {
        &https
    } else {
        &param.schemes
    };
    if !schemes.iter().any(|s| s == url.scheme()) {
        return Err(param_error(
            name,
            &format!("must be a {} URL", schemes.join(" or ")),
        ));
    }
    if url.password().is_some() {
        return Err(param_error(
            name,
            "must not hold a password: set secrets with set_credential",
        ));
    }
    if value.chars().any(char::is_whitespace) {
        return Err(param_error(name, "must not hold whitespace"));
    }
    Ok(())
}
