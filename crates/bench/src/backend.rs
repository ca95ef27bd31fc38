//! Which backends the apps under test use: the embedded default (SQLite catalog in the data
//! directory, filesystem blobs), or with `--catalog postgres://…` a fresh PostgreSQL database per
//! app, and with `--s3-endpoint URL` a fresh bucket (one per run, one key prefix per app). The
//! load, the scenarios and the report are the same whichever is chosen.

use crate::pg::{self, PgDb};
use crate::s3::{self, Bucket};
use anyhow::{Result, bail};
use coffer_server::blob::BlobSettings;
use coffer_server::catalog::CatalogSettings;
use coffer_server::config::Config;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The backends chosen on the command line.
#[derive(Clone, Debug, Default)]
pub struct Backends {
    /// `--catalog postgres://…`: the server to create databases on.
    pub postgres: Option<String>,
    /// `--s3-endpoint URL`.
    pub s3_endpoint: Option<String>,
}

/// What the report says about them.
#[derive(Clone, Debug, Serialize)]
pub struct Described {
    /// `sqlite` or `postgres (server, password hidden)`.
    pub catalog: String,
    /// `fs` or `s3 (endpoint, bucket)`.
    pub blobs: String,
}

/// The backends of one app; its PostgreSQL database is dropped with it.
pub struct Stores {
    db: Option<PgDb>,
    sqlite: PathBuf,
}

impl Backends {
    /// Checks the flags' values.
    pub fn check(&self) -> Result<()> {
        if let Some(url) = &self.postgres
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            bail!("--catalog takes a postgres:// URL (the default is the embedded SQLite catalog)");
        }
        if let Some(url) = &self.s3_endpoint {
            coffer_server::aws::check_endpoint(url, true)
                .map_err(|e| anyhow::anyhow!("--s3-endpoint: {e}"))?;
        }
        Ok(())
    }

    /// Creates the run's bucket, if blobs go to S3.
    pub async fn bucket(&self) -> Result<Option<Bucket>> {
        match &self.s3_endpoint {
            Some(url) => Ok(Some(Bucket::create(url).await?)),
            None => Ok(None),
        }
    }

    /// For the report.
    pub fn describe(&self, bucket: Option<&Bucket>) -> Described {
        Described {
            catalog: match &self.postgres {
                Some(url) => format!("postgres ({})", pg::redact(url)),
                None => "sqlite".into(),
            },
            blobs: match bucket {
                Some(b) => format!("s3 ({}, bucket {})", b.endpoint, b.name),
                None => "fs".into(),
            },
        }
    }

    /// Points `config` (an app with its own `data_dir`) at fresh stores; `name` tells this
    /// app's objects apart in the run's bucket.
    pub async fn stores(
        &self,
        config: &mut Config,
        bucket: Option<&Bucket>,
        name: &str,
    ) -> Result<Stores> {
        let db = match &self.postgres {
            Some(server) => {
                let db = PgDb::create(server).await?;
                config.catalog = CatalogSettings::Postgres {
                    url: db.url.clone(),
                    pool_size: 16,
                    connect_timeout: std::time::Duration::from_secs(10),
                };
                Some(db)
            }
            None => None,
        };
        if let Some(b) = bucket {
            config.blobs = BlobSettings::S3 {
                bucket: b.name.clone(),
                region: s3::REGION.into(),
                endpoint: Some(b.endpoint.clone()),
                prefix: Some(name.into()),
                force_path_style: true,
                credentials: s3::credentials(),
            };
        }
        Ok(Stores {
            db,
            sqlite: config.data_dir.join("catalog.db"),
        })
    }
}

impl Stores {
    /// Secrets in the catalog.
    pub async fn count_secrets(&self) -> Result<u64> {
        match &self.db {
            Some(db) => pg::count_secrets(&db.url).await,
            None => crate::seed::count_secrets(&self.sqlite),
        }
    }

    /// Bulk-inserts `count` filler secrets (the app must be stopped).
    pub async fn fill(&self, count: u64) -> Result<()> {
        match &self.db {
            Some(db) => pg::fill(&db.url, count).await,
            None => {
                let file: PathBuf = Path::new(&self.sqlite).to_owned();
                tokio::task::spawn_blocking(move || crate::seed::fill(&file, count)).await?
            }
        }
    }
}
