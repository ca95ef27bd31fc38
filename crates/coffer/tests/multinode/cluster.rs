//! A deployment of several `coffer serve` nodes, as docs/deployment.md describes it: one
//! PostgreSQL database (its own per test), one bucket on the moto server (shared per test
//! binary, a bucket per test), one master key file every node points `keys.master_key_file`
//! at, and per node its own `coffer.toml`, data directory and port. All nodes are spawned before
//! any is waited for, so every cluster start is also a bootstrap race.

use crate::moto::{Moto, unique};
use crate::node::Node;
use crate::pg::TestDb;
use coffer_server::blob::S3BlobStore;
use std::path::{Path, PathBuf};

/// The bucket's region.
pub const REGION: &str = "us-east-1";

/// Per-cluster knobs (durations as `coffer.toml` writes them).
#[derive(Clone, Copy)]
pub struct Knobs {
    /// `sweeper.interval` (`0s`: off).
    pub sweep_interval: &'static str,
    /// `sweeper.grace`.
    pub sweep_grace: &'static str,
    /// Reach PostgreSQL through this local port (a [`crate::proxy::Proxy`]).
    pub pg_port: Option<u16>,
    /// Reach S3 through this local port (a [`crate::proxy::Proxy`]).
    pub s3_port: Option<u16>,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            sweep_interval: "0s",
            sweep_grace: "1h",
            pg_port: None,
            s3_port: None,
        }
    }
}

/// Running nodes and what they share. Fields drop in order: nodes, then the database.
pub struct Cluster {
    /// The nodes, in start order.
    pub nodes: Vec<Node>,
    /// The token of `admin`, first owner of org `default`, that exactly one node wrote.
    pub token: String,
    /// The operator's token, that exactly one node wrote.
    pub operator: String,
    /// The shared database.
    pub db: TestDb,
    /// The shared bucket.
    pub bucket: String,
    knobs: Knobs,
    dir: tempfile::TempDir,
}

/// Creates a fresh bucket on the shared moto server.
pub async fn new_bucket() -> String {
    let bucket = unique("coffer-mn");
    coffer_server::aws::s3_client(&Moto::shared().settings(REGION))
        .await
        .expect("s3 client")
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket");
    bucket
}

/// The `coffer.toml` of one node.
fn node_config(data_dir: &Path, key: &Path, db: &TestDb, bucket: &str, k: Knobs) -> String {
    let db_url = k
        .pg_port
        .map_or(db.url.clone(), |p| crate::pg::via_port(&db.url, p));
    let endpoint = k.s3_port.map_or(Moto::shared().endpoint().to_owned(), |p| {
        format!("http://127.0.0.1:{p}")
    });
    format!(
        r#"listen = "127.0.0.1:0"
data_dir = "{data}"

[keys]
master_key_file = "{key}"

[catalog]
kind = "postgres"
url = "{db_url}"
pool_size = 4

[blobs]
kind = "s3"
bucket = "{bucket}"
region = "{REGION}"
endpoint = "{endpoint}"
force_path_style = true

[sweeper]
interval = "{interval}"
grace = "{grace}"
"#,
        data = data_dir.display(),
        key = key.display(),
        interval = k.sweep_interval,
        grace = k.sweep_grace,
    )
}

impl Cluster {
    /// `n` nodes on a new database and bucket, waited for until all listen.
    pub async fn start(n: usize, knobs: Knobs) -> Cluster {
        let db = TestDb::create().await;
        let bucket = new_bucket().await;
        let dir = tempfile::tempdir().expect("temp dir");
        // The deployment's one master key, made by the code that makes every master key
        // (mode 0600); "copied" to every node by pointing all configs at it.
        let key = dir.path().join("master.key");
        coffer_server::keys::LocalKeyProvider::open(&key).expect("creating the master key");
        let mut nodes: Vec<Node> = (0..n)
            .map(|i| {
                let name = format!("n{i}");
                let config = dir.path().join(format!("{name}.toml"));
                let data = dir.path().join(&name);
                std::fs::write(&config, node_config(&data, &key, &db, &bucket, knobs))
                    .expect("writing coffer.toml");
                Node::spawn(&name, &config, dir.path())
            })
            .collect();
        for node in &mut nodes {
            node.wait_listening();
        }
        let written: Vec<String> = nodes
            .iter()
            .filter_map(|n| n.written_token("admin.token"))
            .collect();
        assert_eq!(
            written.len(),
            1,
            "exactly one node of a fresh deployment creates the first owner's token: {written:?}"
        );
        let token = written[0].clone();
        let operator = nodes
            .iter()
            .find_map(|n| n.written_token("operator.token"))
            .expect("one node seats the operator");
        Cluster {
            nodes,
            token,
            operator,
            db,
            bucket,
            knobs,
            dir,
        }
    }

    /// Spawns, without waiting, one more node of this deployment that uses `key` as its
    /// master key file.
    pub fn spawn_node(&self, name: &str, key: &Path) -> Node {
        let config = self.dir.path().join(format!("{name}.toml"));
        let data = self.dir.path().join(name);
        let toml = node_config(&data, key, &self.db, &self.bucket, self.knobs);
        std::fs::write(&config, toml).expect("writing coffer.toml");
        Node::spawn(name, &config, self.dir.path())
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// The cluster's scratch directory.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    /// Direct access to the shared bucket, as the nodes see it.
    pub async fn bucket_store(&self) -> S3BlobStore {
        S3BlobStore::open(&Moto::shared().settings(REGION), self.bucket.clone(), None)
            .await
            .expect("open the bucket")
    }
}
