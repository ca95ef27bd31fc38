//! Which backends the apps under test use: the embedded default (SQLite catalog in the data
//! directory, filesystem blobs), or with `--catalog postgres://…` a fresh PostgreSQL database per
//! app, and with `--s3-endpoint URL` a fresh bucket (one per run, one key prefix per app). The
//! load, the scenarios and the report are the same whichever is chosen.

use crate::pg;
use crate::s3::{self, Bucket};
use anyhow::{Result, anyhow, bail};
use coffer_server::blob::BlobSettings;
use coffer_server::catalog::CatalogSettings;
use coffer_server::config::Config;
use coffer_server::domain::{OrgSlug, UserName};
use coffer_server::testing::fill::{self, Target};
use coffer_server::testing::pg::TestDb;
use serde::Serialize;
use std::path::PathBuf;

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
    db: Option<TestDb>,
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
                let db = pg::create(server).await?;
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
    fn target(&self) -> Target<'_> {
        match &self.db {
            Some(db) => Target::Postgres(&db.url),
            None => Target::Sqlite(&self.sqlite),
        }
    }

    /// Secrets in the catalog.
    pub async fn count_secrets(&self) -> Result<u64> {
        fill::count_secrets(self.target())
            .await
            .map_err(|e| anyhow!("counting the catalog's secrets: {e}"))
    }

    /// Bulk-inserts `count` filler secrets of `admin` into org `default` (the app must be
    /// stopped), through the catalog's filler hook (`coffer_server::testing::fill`).
    pub async fn fill(&self, count: u64) -> Result<()> {
        let org = OrgSlug::parse("default").expect("a valid slug");
        let user = UserName::parse("admin").expect("a valid name");
        fill::fill(self.target(), &org, &user, count)
            .await
            .map_err(|e| anyhow!("filling the catalog: {e}"))
    }
}
