//! The storage seam for D1: a minimal SQL interface that the D1 adapter implements in workers
//! and SQLite implements natively in tests, so every query in `repo` runs for real on both.
//!
//! Invariants:
//! - Statements are parameterised; values never get spliced into SQL text.
//! - [`Database::batch`] is atomic (D1 batches are a transaction; so is the SQLite adapter's).
//! - Rows come back as JSON objects with integral numbers as integers, whatever the engine
//!   reported, so typed decoding behaves the same on D1 and SQLite.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_string())
    }
}
impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}
impl From<&String> for SqlValue {
    fn from(v: &String) -> Self {
        SqlValue::Text(v.clone())
    }
}
impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Integer(v)
    }
}
impl From<u64> for SqlValue {
    fn from(v: u64) -> Self {
        SqlValue::Integer(v.min(i64::MAX as u64) as i64)
    }
}
impl From<u32> for SqlValue {
    fn from(v: u32) -> Self {
        SqlValue::Integer(v.into())
    }
}
impl From<f64> for SqlValue {
    fn from(v: f64) -> Self {
        SqlValue::Real(v)
    }
}
impl From<bool> for SqlValue {
    fn from(v: bool) -> Self {
        SqlValue::Integer(v as i64)
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// One parameterised SQL statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: &'static str,
    pub params: Vec<SqlValue>,
}

impl Statement {
    pub fn new(sql: &'static str, params: Vec<SqlValue>) -> Self {
        Statement { sql, params }
    }
}

/// Builds a [`Statement`]: `stmt!("SELECT … WHERE id = ?1", id)`.
#[macro_export]
macro_rules! stmt {
    ($sql:expr $(, $param:expr)* $(,)?) => {
        $crate::db::Statement::new($sql, vec![$($crate::db::SqlValue::from($param)),*])
    };
}

pub type Row = Map<String, Value>;

#[allow(async_fn_in_trait)]
pub trait Database {
    async fn query(&self, stmt: Statement) -> Result<Vec<Row>>;
    /// Runs a write; answers the number of rows changed.
    async fn execute(&self, stmt: Statement) -> Result<u64>;
    /// Runs writes atomically; answers each statement's changed-row count.
    async fn batch(&self, stmts: Vec<Statement>) -> Result<Vec<u64>>;
    /// Runs reads together and answers each one's rows, in order: one round trip on D1 (a
    /// batch), one query after another where that costs nothing (SQLite in tests).
    async fn query_many(&self, stmts: Vec<Statement>) -> Result<Vec<Vec<Row>>> {
        let mut out = Vec::with_capacity(stmts.len());
        for stmt in stmts {
            out.push(self.query(stmt).await?);
        }
        Ok(out)
    }

    async fn query_as<T: DeserializeOwned>(&self, stmt: Statement) -> Result<Vec<T>> {
        self.query(stmt)
            .await?
            .into_iter()
            .map(decode_row)
            .collect()
    }

    async fn query_one<T: DeserializeOwned>(&self, stmt: Statement) -> Result<Option<T>> {
        match self.query(stmt).await?.into_iter().next() {
            Some(row) => decode_row(row).map(Some),
            None => Ok(None),
        }
    }
}

pub fn decode_row<T: DeserializeOwned>(row: Row) -> Result<T> {
    serde_json::from_value(Value::Object(row))
        .map_err(|e| Error::internal(format!("decoding row: {e}")))
}

/// JavaScript hands every number over as a double; give whole numbers back their integer type.
pub fn normalize_number(value: Value) -> Value {
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or_default();
            if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
                Value::from(f as i64)
            } else {
                Value::Number(n)
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_doubles_become_integers_and_fractions_stay() {
        assert_eq!(normalize_number(json!(3.0)), json!(3));
        assert!(normalize_number(json!(3.0)).is_i64());
        assert_eq!(normalize_number(json!(2.5)), json!(2.5));
        assert_eq!(normalize_number(json!("3.0")), json!("3.0"));
    }

    #[test]
    fn stmt_macro_converts_parameters() {
        let s = stmt!("SELECT ?1, ?2, ?3, ?4", "a", 5i64, None::<String>, true);
        assert_eq!(
            s.params,
            vec![
                SqlValue::Text("a".into()),
                SqlValue::Integer(5),
                SqlValue::Null,
                SqlValue::Integer(1)
            ]
        );
    }
}
