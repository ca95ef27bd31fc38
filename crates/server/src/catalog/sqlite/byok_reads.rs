//! The read side of [`ByokCatalog`](crate::catalog::ByokCatalog) on SQLite: key settings with
//! their region keys and last probes, every org-key version's wraps, and the BYOK org list, as
//! plain functions over a connection (a pooled reader, or the writer inside `enable_byok`).

use super::map_err as e;
use crate::catalog::{
    AWS_KMS, CatalogError, KeyProviderKind, OrgKeySettings, ProbeResult, RegionKey,
};
use crate::domain::{AwsRegion, ExternalId, KmsKeyArn, OrgId, RoleArn, Timestamp};
use crate::keys::OrgKeyWrap;
use rusqlite::Connection;

type R<T> = Result<T, CatalogError>;

fn provider_kind(s: &str) -> R<KeyProviderKind> {
    match s {
        "local" => Ok(KeyProviderKind::Local),
        AWS_KMS => Ok(KeyProviderKind::AwsKms),
        other => Err(CatalogError::Corrupt(format!(
            "unknown key provider {other:?}"
        ))),
    }
}

fn parsed<T, E: std::fmt::Display>(r: Result<T, E>) -> R<T> {
    r.map_err(|err| CatalogError::Corrupt(err.to_string()))
}

pub(super) fn key_settings(conn: &Connection, org: OrgId) -> R<OrgKeySettings> {
    type Head = (String, String, Option<String>, Option<i64>, bool);
    let head: Head = conn
        .prepare_cached(
            "SELECT provider, external_id, role_arn, byok_since, suspended_by_keys \
             FROM org_key_settings WHERE org_id = ?1",
        )
        .and_then(|mut s| {
            s.query_row([org.to_bytes()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
        })
        .map_err(e)?;
    type KeyRow = (
        String,
        String,
        Vec<u8>,
        Option<i64>,
        Option<String>,
        Option<bool>,
        Option<String>,
    );
    let mut s = conn
        .prepare_cached(
            "SELECT region, key_arn, probe_ciphertext, probe_at, probe_state, probe_ok, probe_problem \
             FROM org_kms_keys WHERE org_id = ?1 ORDER BY position",
        )
        .map_err(e)?;
    let key_rows: Vec<KeyRow> = s
        .query_map([org.to_bytes()], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .and_then(|it| it.collect())
        .map_err(e)?;
    let mut keys = Vec::with_capacity(key_rows.len());
    for (region, arn, probe_ciphertext, at, state, ok, problem) in key_rows {
        let last_probe = match (at, state, ok) {
            (Some(at), Some(state), Some(ok)) => Some(ProbeResult {
                at: Timestamp::from_millis(at),
                state,
                ok,
                problem,
            }),
            _ => None,
        };
        keys.push(RegionKey {
            region: parsed(AwsRegion::parse(&region))?,
            key_arn: parsed(KmsKeyArn::parse(&arn))?,
            probe_ciphertext,
            last_probe,
        });
    }
    let (provider, external_id, role_arn, since, suspended_by_keys) = head;
    Ok(OrgKeySettings {
        org,
        provider: provider_kind(&provider)?,
        external_id: parsed(ExternalId::parse(&external_id))?,
        role_arn: role_arn
            .as_deref()
            .map(RoleArn::parse)
            .transpose()
            .map_err(|err| CatalogError::Corrupt(err.to_string()))?,
        byok_since: since.map(Timestamp::from_millis),
        keys,
        suspended_by_keys,
    })
}

pub(super) fn all_org_key_wraps(conn: &Connection, org: OrgId) -> R<Vec<(u32, Vec<OrgKeyWrap>)>> {
    let mut s = conn
        .prepare_cached(
            "SELECT version, provider, key_ref, wrapped FROM org_key_wraps \
             WHERE org_id = ?1 ORDER BY version, slot",
        )
        .map_err(e)?;
    let flat: Vec<(u32, OrgKeyWrap)> = s
        .query_map([org.to_bytes()], |r| {
            Ok((
                r.get(0)?,
                OrgKeyWrap {
                    provider: r.get(1)?,
                    key_ref: r.get(2)?,
                    bytes: r.get(3)?,
                },
            ))
        })
        .and_then(|it| it.collect())
        .map_err(e)?;
    let mut out: Vec<(u32, Vec<OrgKeyWrap>)> = Vec::new();
    for (version, wrap) in flat {
        match out.last_mut() {
            Some((v, ws)) if *v == version => ws.push(wrap),
            _ => out.push((version, vec![wrap])),
        }
    }
    Ok(out)
}

pub(super) fn list_byok(conn: &Connection) -> R<Vec<OrgKeySettings>> {
    let ids: Vec<[u8; 16]> = conn
        .prepare_cached(
            "SELECT org_id FROM org_key_settings WHERE provider = 'aws-kms' ORDER BY org_id",
        )
        .and_then(|mut s| s.query_map([], |r| r.get(0)).and_then(|it| it.collect()))
        .map_err(e)?;
    ids.into_iter()
        .map(|id| key_settings(conn, OrgId::from_uuid(uuid::Uuid::from_bytes(id))))
        .collect()
}
