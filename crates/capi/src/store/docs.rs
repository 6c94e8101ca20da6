//! Resources stored as JSON documents: apps, processes, packages, droplets, builds, tasks,
//! stacks, buildpacks, domains, routes, route mappings, security groups and their bindings to
//! spaces, and the markers of seeds that run once. A row holds the whole resource in
//! `doc`, plus copies of the few fields that are filtered on or must stay unique (the table's
//! key columns). Adding a field to such a resource needs no migration; only a new filter does.
//!
//! The [`Store`] methods take and return raw JSON so the trait stays object safe; the typed
//! helpers here ([`get`], [`list`], [`DocOp::insert`], ...) do the serde on top.

use chrono::{DateTime, Utc};
use serde::{Serialize, de::DeserializeOwned};

use super::{Store, StoreError, StoreResult};

/// A table of documents, with its key columns in a fixed order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Apps,
    Processes,
    Packages,
    Droplets,
    Builds,
    Tasks,
    Stacks,
    Buildpacks,
    Domains,
    Routes,
    RouteMappings,
    EnvironmentVariableGroups,
    SecurityGroups,
    SecurityGroupSpaces,
    Seeds,
}

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Table::Apps => "apps",
            Table::Processes => "processes",
            Table::Packages => "packages",
            Table::Droplets => "droplets",
            Table::Builds => "builds",
            Table::Tasks => "tasks",
            Table::Stacks => "stacks",
            Table::Buildpacks => "buildpacks",
            Table::Domains => "domains",
            Table::Routes => "routes",
            Table::RouteMappings => "route_mappings",
            Table::EnvironmentVariableGroups => "environment_variable_groups",
            Table::SecurityGroups => "security_groups",
            Table::SecurityGroupSpaces => "security_group_spaces",
            Table::Seeds => "seeds",
        }
    }

    /// The key columns besides `guid`, `doc` and `created_at`, in the order
    /// [`Document::keys`] returns their values.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Table::Apps => &["space_guid", "name", "state"],
            Table::Processes => &["app_guid", "type"],
            Table::Packages => &["app_guid", "state"],
            Table::Droplets => &["app_guid", "package_guid", "state"],
            Table::Builds => &["app_guid", "package_guid", "state"],
            Table::Tasks => &["app_guid", "state", "sequence_id"],
            Table::Stacks => &["name"],
            Table::Buildpacks => &["name", "stack"],
            Table::Domains => &["name", "organization_guid"],
            Table::Routes => &["space_guid", "domain_guid", "host", "path", "port"],
            Table::RouteMappings => &["route_guid", "app_guid", "process_type"],
            Table::EnvironmentVariableGroups | Table::Seeds => &[],
            Table::SecurityGroups => &["name"],
            Table::SecurityGroupSpaces => &["security_group_guid", "space_guid", "lifecycle"],
        }
    }

    /// What a broken unique constraint of this table means, for [`StoreError::Conflict`].
    pub fn conflict(self) -> &'static str {
        match self {
            Table::Apps => "app name",
            Table::Processes => "process type",
            Table::Tasks => "task sequence id",
            Table::Stacks => "stack name",
            Table::Buildpacks => "buildpack name",
            Table::Domains => "domain name",
            Table::Routes => "route",
            Table::RouteMappings => "route mapping",
            Table::SecurityGroups => "security group name",
            Table::SecurityGroupSpaces => "security group binding",
            Table::Seeds => "seed",
            Table::Packages
            | Table::Droplets
            | Table::Builds
            | Table::EnvironmentVariableGroups => "guid",
        }
    }
}

/// A resource kept as a document.
pub trait Document: Serialize + DeserializeOwned + Send + Sync {
    const TABLE: Table;
    fn guid(&self) -> &str;
    fn created_at(&self) -> DateTime<Utc>;
    /// Values of [`Table::columns`], in that order; `None` stores NULL.
    fn keys(&self) -> Vec<Option<String>>;
}

/// One row as the store sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub table: Table,
    pub guid: String,
    pub keys: Vec<Option<String>>,
    pub doc: String,
    pub created_at: DateTime<Utc>,
}

impl Row {
    fn of<R: Document>(resource: &R) -> Self {
        let keys = resource.keys();
        debug_assert_eq!(keys.len(), R::TABLE.columns().len(), "{:?} keys", R::TABLE);
        Row {
            table: R::TABLE,
            guid: resource.guid().to_owned(),
            keys,
            doc: serde_json::to_string(resource).unwrap_or_else(|_| "null".into()),
            created_at: resource.created_at(),
        }
    }
}

/// One write of a [`Store::write_docs`] batch; the batch is one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocOp {
    /// Conflict when a unique key is taken.
    Insert(Row),
    /// Replaces the row with the same guid; a missing row is fine. Conflict as for Insert.
    Update(Row),
    Delete {
        table: Table,
        guid: String,
    },
}

impl DocOp {
    pub fn insert<R: Document>(resource: &R) -> Self {
        DocOp::Insert(Row::of(resource))
    }

    pub fn update<R: Document>(resource: &R) -> Self {
        DocOp::Update(Row::of(resource))
    }

    pub fn delete<R: Document>(guid: &str) -> Self {
        DocOp::Delete {
            table: R::TABLE,
            guid: guid.to_owned(),
        }
    }
}

/// A condition on a key column; the filters of one query are AND-ed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// The column equals one of the values (no values: nothing matches).
    In(&'static str, Vec<String>),
}

impl Filter {
    pub fn eq(column: &'static str, value: impl Into<String>) -> Self {
        Filter::In(column, vec![value.into()])
    }

    pub fn column(&self) -> &'static str {
        match self {
            Filter::In(c, _) => c,
        }
    }
}

/// Rejects a filter or delete on a column the table does not have; column names are spliced
/// into SQL, so only the table's own names may pass.
pub fn check_column(table: Table, column: &str) -> StoreResult<()> {
    if column == "guid" || table.columns().contains(&column) {
        Ok(())
    } else {
        Err(StoreError::Database(format!(
            "{} has no key column {column}",
            table.name()
        )))
    }
}

fn decode<R: Document>(raw: &str) -> StoreResult<R> {
    serde_json::from_str(raw)
        .map_err(|e| StoreError::Database(format!("bad {} document: {e}", R::TABLE.name())))
}

/// The resource with this guid.
pub async fn get<R: Document>(store: &dyn Store, guid: &str) -> StoreResult<Option<R>> {
    store
        .doc(R::TABLE, guid)
        .await?
        .map(|raw| decode(&raw))
        .transpose()
}

/// The resources matching every filter, oldest first.
pub async fn list<R: Document>(store: &dyn Store, filters: &[Filter]) -> StoreResult<Vec<R>> {
    store
        .docs(R::TABLE, filters)
        .await?
        .iter()
        .map(|raw| decode(raw))
        .collect()
}

/// The first resource matching every filter.
pub async fn find<R: Document>(store: &dyn Store, filters: &[Filter]) -> StoreResult<Option<R>> {
    Ok(list(store, filters).await?.into_iter().next())
}

/// A key column value for an enum that serialises as a string (a state, a type).
pub fn key<T: Serialize>(value: &T) -> Option<String> {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
}

/// Implements [`Document`] for a struct with `guid` and `created_at` fields:
/// `document!(App, Table::Apps, |a| vec![...key column values...]);`
macro_rules! document {
    ($t:ty, $table:expr, |$s:ident| $keys:expr) => {
        impl $crate::store::Document for $t {
            const TABLE: $crate::store::Table = $table;
            fn guid(&self) -> &str {
                &self.guid
            }
            fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
                self.created_at
            }
            fn keys(&self) -> Vec<Option<String>> {
                let $s = self;
                $keys
            }
        }
    };
}
pub(crate) use document;
