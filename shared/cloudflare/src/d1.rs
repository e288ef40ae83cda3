//! [`Database`] over a D1 binding.

use serde_json::Value;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use crate::db::{normalize_number, Database, Row, SqlValue, Statement};
use crate::error::{Error, Result};

pub struct D1Store {
    db: D1Database,
}

impl D1Store {
    pub fn new(db: D1Database) -> Self {
        D1Store { db }
    }

    fn prepare(&self, stmt: &Statement) -> Result<D1PreparedStatement> {
        let params: Vec<JsValue> = stmt.params.iter().map(to_js).collect();
        self.db
            .prepare(stmt.sql)
            .bind(&params)
            .map_err(|e| Error::internal(format!("D1 bind: {e}")))
    }
}

fn to_js(value: &SqlValue) -> JsValue {
    match value {
        SqlValue::Null => JsValue::NULL,
        SqlValue::Integer(i) => JsValue::from_f64(*i as f64),
        SqlValue::Real(f) => JsValue::from_f64(*f),
        SqlValue::Text(s) => JsValue::from_str(s),
    }
}

fn changes(result: &worker::D1Result) -> u64 {
    result
        .meta()
        .ok()
        .flatten()
        .and_then(|m| m.changes)
        .unwrap_or_default() as u64
}

fn d1_error(e: worker::Error) -> Error {
    Error::internal(format!("D1: {e}"))
}

impl Database for D1Store {
    async fn query(&self, stmt: Statement) -> Result<Vec<Row>> {
        let result = self.prepare(&stmt)?.all().await.map_err(d1_error)?;
        let rows: Vec<Value> = result.results().map_err(d1_error)?;
        Ok(rows
            .into_iter()
            .filter_map(|row| match row {
                Value::Object(m) => Some(
                    m.into_iter()
                        .map(|(k, v)| (k, normalize_number(v)))
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }

    async fn execute(&self, stmt: Statement) -> Result<u64> {
        let result = self.prepare(&stmt)?.run().await.map_err(d1_error)?;
        Ok(changes(&result))
    }

    async fn batch(&self, stmts: Vec<Statement>) -> Result<Vec<u64>> {
        let prepared = stmts
            .iter()
            .map(|s| self.prepare(s))
            .collect::<Result<Vec<_>>>()?;
        let results = self.db.batch(prepared).await.map_err(d1_error)?;
        Ok(results.iter().map(changes).collect())
    }
}
