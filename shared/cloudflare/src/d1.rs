//! [`Database`] over a D1 binding.

use serde_json::Value;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use shared::db::{normalize_number, Database, Row, SqlValue, Statement};
use shared::error::Result;

use crate::error::WorkerResultExt;

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
            .or_internal("D1 bind")
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

fn rows_of(result: &worker::D1Result) -> Result<Vec<Row>> {
    let rows: Vec<Value> = result.results().or_internal("D1")?;
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

fn changes(result: &worker::D1Result) -> u64 {
    result
        .meta()
        .ok()
        .flatten()
        .and_then(|m| m.changes)
        .unwrap_or_default() as u64
}

impl Database for D1Store {
    async fn query(&self, stmt: Statement) -> Result<Vec<Row>> {
        let result = self.prepare(&stmt)?.all().await.or_internal("D1")?;
        rows_of(&result)
    }

    async fn query_many(&self, stmts: Vec<Statement>) -> Result<Vec<Vec<Row>>> {
        let prepared = stmts
            .iter()
            .map(|s| self.prepare(s))
            .collect::<Result<Vec<_>>>()?;
        let results = self.db.batch(prepared).await.or_internal("D1")?;
        results.iter().map(rows_of).collect()
    }

    async fn execute(&self, stmt: Statement) -> Result<u64> {
        let result = self.prepare(&stmt)?.run().await.or_internal("D1")?;
        Ok(changes(&result))
    }

    async fn batch(&self, stmts: Vec<Statement>) -> Result<Vec<u64>> {
        let prepared = stmts
            .iter()
            .map(|s| self.prepare(s))
            .collect::<Result<Vec<_>>>()?;
        let results = self.db.batch(prepared).await.or_internal("D1")?;
        Ok(results.iter().map(changes).collect())
    }
}
