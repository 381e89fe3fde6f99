//! What differs between the two engines, as one small trait. Everything else — every
//! statement, every transaction — is the one generic body in `queries.rs` and its
//! siblings; opening a database is in `lib.rs`.

use std::future::Future;
use std::pin::Pin;

use sqlx::postgres::{PgQueryResult, Postgres};
use sqlx::sqlite::{Sqlite, SqliteQueryResult};
use sqlx::{Database, Executor, FromRow, QueryBuilder};

/// A boxed, sendable future of an sqlx call, as `Backend`'s methods return them.
pub type SqlFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, sqlx::Error>> + Send + 'a>>;

/// An engine the store runs on: SQLite or PostgreSQL.
pub trait Backend: Database {
    /// What `Store::backend` answers.
    const BACKEND_NAME: &'static str;

    /// The statement that opens a transaction that will write: SQLite takes its write
    /// lock up front (`BEGIN IMMEDIATE`) on its single writer; PostgreSQL relies on
    /// row locks and needs only `BEGIN`.
    const BEGIN_WRITE: &'static str;

    /// How many rows a statement wrote (each engine's result type has the method; no
    /// sqlx trait names it).
    fn rows_affected(done: &Self::QueryResult) -> u64;

    /// Runs the statement `builder` built (chunks of rows, `IN` lists).
    ///
    /// Why here and not in the generic code: there, sqlx 0.8 cannot run what a
    /// `QueryBuilder` builds. Its arguments type `Self::Arguments<'args>` is invariant
    /// in `'args` when the engine is generic, so running `builder.build()` would keep
    /// the builder borrowed until it is dropped, which the borrow checker refuses
    /// (sqlx issues #1978, #4188). Each engine's own arguments type shrinks to the
    /// borrow, so the same one line compiles per engine.
    fn execute_built<'b, 'c: 'b, E>(builder: &'b mut QueryBuilder<'_, Self>, executor: E) -> SqlFuture<'b, Self::QueryResult>
    where
        E: 'b + Executor<'c, Database = Self>;

    /// As `execute_built`, for a statement that reads rows of `O`.
    fn fetch_all_built<'b, 'c: 'b, E, O>(builder: &'b mut QueryBuilder<'_, Self>, executor: E) -> SqlFuture<'b, Vec<O>>
    where
        E: 'b + Executor<'c, Database = Self>,
        O: 'b + Send + Unpin + for<'r> FromRow<'r, Self::Row>;
}

impl Backend for Sqlite {
    const BACKEND_NAME: &'static str = "sqlite";
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";

    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    fn execute_built<'b, 'c: 'b, E>(builder: &'b mut QueryBuilder<'_, Self>, executor: E) -> SqlFuture<'b, SqliteQueryResult>
    where
        E: 'b + Executor<'c, Database = Self>,
    {
        Box::pin(builder.build().execute(executor))
    }

    fn fetch_all_built<'b, 'c: 'b, E, O>(builder: &'b mut QueryBuilder<'_, Self>, executor: E) -> SqlFuture<'b, Vec<O>>
    where
        E: 'b + Executor<'c, Database = Self>,
        O: 'b + Send + Unpin + for<'r> FromRow<'r, Self::Row>,
    {
        Box::pin(builder.build_query_as::<O>().fetch_all(executor))
    }
}

impl Backend for Postgres {
    const BACKEND_NAME: &'static str = "postgres";
    const BEGIN_WRITE: &'static str = "BEGIN";

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }

    fn execute_built<'b, 'c: 'b, E>(builder: &'b mut QueryBuilder<'_, Self>, executor: E) -> SqlFuture<'b, PgQueryResult>
    where
        E: 'b + Executor<'c, Database = Self>,
    {
        Box::pin(builder.build().execute(executor))
    }

    fn fetch_all_built<'b, 'c: 'b, E, O>(builder: &'b mut QueryBuilder<'_, Self>, executor: E) -> SqlFuture<'b, Vec<O>>
    where
        E: 'b + Executor<'c, Database = Self>,
        O: 'b + Send + Unpin + for<'r> FromRow<'r, Self::Row>,
    {
        Box::pin(builder.build_query_as::<O>().fetch_all(executor))
    }
}
