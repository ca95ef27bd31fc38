//! The OpenAPI 3.1 document at `/api/v1/openapi.json`, generated from the handlers' annotations
//! and the wire types, so it cannot drift from the code.

use super::{audit, keys, orgs, secrets, storage, uploads};
use axum::Json;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Coffer",
        description = "Team secrets attached to issue keys. Authenticate with `Authorization: Bearer <token>`."
    ),
    paths(
        orgs::whoami,
        orgs::create,
        orgs::list,
        orgs::show,
        orgs::rotate_key,
        keys::setup,
        keys::show,
        keys::set,
        keys::disable,
        keys::check,
        keys::admin_list,
        storage::show,
        storage::set,
        storage::reset,
        storage::setup,
        orgs::add_user,
        orgs::list_users,
        orgs::create_token,
        orgs::list_tokens,
        orgs::revoke_token,
        secrets::list,
        secrets::put,
        secrets::get,
        secrets::reveal,
        secrets::history,
        secrets::delete,
        secrets::restore,
        secrets::destroy,
        uploads::create,
        uploads::put_envelope,
        uploads::commit,
        uploads::envelope_url,
        audit::list,
        audit::verify
    )
)]
struct ApiDoc;

/// Serves the document.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi().merge_from(<super::web::WebApiDoc as OpenApi>::openapi()))
}
