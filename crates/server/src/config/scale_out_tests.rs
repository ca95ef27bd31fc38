//! Loading the settings of a scale-out deployment: a shared master key file, and the
//! `postgres` / `s3` backends from a file plus environment overrides.

#![allow(clippy::result_large_err)] // figment::Jail's closure signature, not ours

use super::*;

#[test]
fn master_key_file_defaults_to_the_data_dir_and_may_be_shared() {
    figment::Jail::expect_with(|jail| {
        let c = Config::load(None, Overrides::default()).unwrap();
        assert_eq!(c.master_key_path(), Path::new("coffer-data/master.key"));
        jail.create_file(
            "coffer.toml",
            "[keys]\nmaster_key_file = \"/etc/coffer/master.key\"\n",
        )?;
        let c = Config::load(Some(Path::new("coffer.toml")), Overrides::default()).unwrap();
        assert_eq!(c.master_key_path(), Path::new("/etc/coffer/master.key"));
        Ok(())
    });
}

#[test]
fn scale_out_backends_load_from_the_file_and_env() {
    figment::Jail::expect_with(|jail| {
        let file = "[catalog]\nkind = \"postgres\"\nurl = \"postgres://db/coffer\"\n\n\
                    [blobs]\nkind = \"s3\"\nbucket = \"b\"\nregion = \"eu-west-1\"\n";
        jail.create_file("coffer.toml", file)?;
        jail.set_env("COFFER_CATALOG__POOL_SIZE", "3");
        let c = Config::load(Some(Path::new("coffer.toml")), Overrides::default()).unwrap();
        assert!(
            matches!(&c.catalog, CatalogSettings::Postgres { url, pool_size: 3, .. } if url == "postgres://db/coffer"),
            "{:?}",
            c.catalog
        );
        assert!(matches!(&c.blobs, BlobSettings::S3 { bucket, .. } if bucket == "b"));
        assert_eq!(c.listen, "127.0.0.1:8420", "defaults still apply");
        Ok(())
    });
}
