//! The schemas DataFusion sees over the store: `public` (store tables, plus external tables and
//! views) and the read-only `metrics` and `spirit` schemas.
//!
//! DataFusion's own DDL lands here. `CREATE TABLE [AS]` arrives as an in-memory table, which is
//! turned into a DuckDB table so it survives restarts; `DROP TABLE` drops it from the file.
//! Other providers (external tables, views) are kept in memory; the engine re-creates external
//! tables from their saved definitions at start-up.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use arrow::array::RecordBatch;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use crate::store::Store;

/// Schema provider for `spirit.public`.
#[derive(Debug)]
pub struct StoreSchemaProvider {
    store: Store,
    /// Providers of store tables opened so far.
    opened: OpenedProviders,
    /// External tables and views, which live outside the store file.
    attached: RwLock<HashMap<String, Arc<dyn TableProvider>>>,
}

impl StoreSchemaProvider {
    /// A provider over `store`.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            opened: RwLock::default(),
            attached: RwLock::default(),
        }
    }

    fn attached(&self, name: &str) -> Option<Arc<dyn TableProvider>> {
        self.attached.read().expect("lock").get(name).cloned()
    }

    /// Registers external table `name`, whose saved definition failed to load, as a table that
    /// answers every query with `error`, so users see why and can `DROP TABLE` it.
    pub fn register_unavailable(&self, name: &str, error: String) {
        let table = Arc::new(UnavailableTable {
            message: format!(
                "external table \"{name}\" could not be loaded at start-up: {error}; fix its \
                 location and restart, or DROP TABLE {name}"
            ),
        });
        self.attached
            .write()
            .expect("lock")
            .insert(name.to_string(), table);
    }

    /// Forgets cached store-table providers, after the store was changed behind DataFusion's back
    /// (for example by demo-data generation).
    pub fn invalidate(&self) {
        self.opened.write().expect("lock").clear();
    }
}

#[async_trait]
impl SchemaProvider for StoreSchemaProvider {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.store.table_names().unwrap_or_else(|e| {
            tracing::error!("cannot list store tables: {e}");
            Vec::new()
        });
        names.extend(self.attached.read().expect("lock").keys().cloned());
        names.sort();
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(provider) = self.attached(name) {
            return Ok(Some(provider));
        }
        open_cached(&self.opened, name, async {
            if !self.store.has_table(name)? {
                return Ok(None);
            }
            Ok(Some(self.store.table_provider(name).await?))
        })
        .await
    }

    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        if self.table_exist(&name) {
            return Err(DataFusionError::Plan(format!(
                "table \"{name}\" already exists; drop it first or choose another name"
            )));
        }
        match table.downcast_ref::<MemTable>() {
            Some(mem) => {
                let (schema, batches) = store_compatible(&mem.schema(), mem)?;
                self.store.create_table(&name, &schema, &batches)?;
            }
            None => {
                self.attached.write().expect("lock").insert(name, table);
            }
        }
        Ok(None)
    }

    fn deregister_table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(provider) = self.attached.write().expect("lock").remove(name) {
            self.store.remove_external_table(name)?;
            return Ok(Some(provider));
        }
        let opened = self.opened.write().expect("lock").remove(name);
        if !self.store.has_table(name)? {
            return Ok(None);
        }
        self.store.drop_table(name)?;
        Ok(Some(opened.unwrap_or_else(|| {
            Arc::new(MemTable::try_new(Arc::new(Schema::empty()), vec![vec![]]).expect("empty"))
        })))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.attached.read().expect("lock").contains_key(name)
            || self.store.has_table(name).unwrap_or(false)
    }
}

/// Providers of store tables opened so far, by name.
type OpenedProviders = RwLock<HashMap<String, Arc<dyn TableProvider>>>;

/// The provider `name` from `opened`, or the one `open` makes (remembered for next time).
async fn open_cached(
    opened: &OpenedProviders,
    name: &str,
    open: impl Future<Output = Result<Option<Arc<dyn TableProvider>>>>,
) -> Result<Option<Arc<dyn TableProvider>>> {
    if let Some(provider) = opened.read().expect("lock").get(name).cloned() {
        return Ok(Some(provider));
    }
    let provider = open.await?;
    if let Some(provider) = &provider {
        opened
            .write()
            .expect("lock")
            .insert(name.to_string(), Arc::clone(provider));
    }
    Ok(provider)
}

/// An external table whose definition no longer loads.
#[derive(Debug)]
struct UnavailableTable {
    message: String,
}

#[async_trait]
impl TableProvider for UnavailableTable {
    fn schema(&self) -> SchemaRef {
        Arc::new(Schema::empty())
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Err(DataFusionError::Plan(self.message.clone()))
    }
}

/// The schema and batches of `mem` with types DuckDB stores natively (view types become their
/// plain counterparts).
fn store_compatible(schema: &SchemaRef, mem: &MemTable) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_data_type(store_type(f.data_type())))
        .collect();
    let target = Arc::new(Schema::new(fields));
    let mut batches = Vec::new();
    for partition in &mem.batches {
        let partition = partition.try_read().map_err(|_| {
            DataFusionError::Internal("new table's data is locked while creating it".into())
        })?;
        for batch in partition.iter() {
            let columns = batch
                .columns()
                .iter()
                .zip(target.fields())
                .map(|(col, field)| cast(col, field.data_type()))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            batches.push(RecordBatch::try_new(Arc::clone(&target), columns)?);
        }
    }
    Ok((target, batches))
}

fn store_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
        other => other.clone(),
    }
}

/// A read-only schema of the store (`metrics`, `spirit`): its tables and views as DuckDB has them.
/// Metric views are defined by files in `metrics_dir`; system tables are written by the engine.
#[derive(Debug)]
pub struct StoreReadOnlySchema {
    store: Store,
    schema: String,
    /// What users are told to do instead of writing here.
    read_only_hint: &'static str,
    opened: OpenedProviders,
}

impl StoreReadOnlySchema {
    /// A provider over store schema `schema`.
    pub fn new(store: Store, schema: &str, read_only_hint: &'static str) -> Self {
        Self {
            store,
            schema: schema.to_string(),
            read_only_hint,
            opened: RwLock::default(),
        }
    }

    /// Forgets cached providers, after the schema's views were redefined.
    pub fn invalidate(&self) {
        self.opened.write().expect("lock").clear();
    }
}

#[async_trait]
impl SchemaProvider for StoreReadOnlySchema {
    fn table_names(&self) -> Vec<String> {
        match self.store.relations(&self.schema) {
            Ok(relations) => relations.into_iter().map(|r| r.name).collect(),
            Err(e) => {
                tracing::error!("cannot list schema {}: {e}", self.schema);
                Vec::new()
            }
        }
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        open_cached(&self.opened, name, async {
            match self.store.relation(&self.schema, name)? {
                Some(relation) => Ok(Some(
                    self.store.read_provider(&self.schema, &relation).await?,
                )),
                None => Ok(None),
            }
        })
        .await
    }

    fn register_table(
        &self,
        name: String,
        _table: Arc<dyn TableProvider>,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        Err(DataFusionError::Plan(format!(
            "cannot create \"{name}\" in schema {}: it is read-only; {}",
            self.schema, self.read_only_hint
        )))
    }

    fn deregister_table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        Err(DataFusionError::Plan(format!(
            "cannot drop {}.{name}: the schema is read-only; {}",
            self.schema, self.read_only_hint
        )))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.opened.read().expect("lock").contains_key(name)
            || matches!(self.store.relation(&self.schema, name), Ok(Some(_)))
    }
}
