//! The OpenAPI 3.1 document at `/api/v1/openapi.json`, generated from the handlers' annotations
//! and the wire types, so it cannot drift from the code.

use super::{audit, keys, orgs, people, secrets, storage, uploads};
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
        people::list_users,
        people::add_user,
        people::set_user_role,
        people::remove_user,
        people::create_service_account,
        people::set_service_role,
        people::remove_service_account,
        people::invite,
        people::list_invitations,
        people::revoke_invitation,
        people::accept_invitation,
        people::create_token,
        people::list_tokens,
        people::revoke_token,
        people::create_operator_token,
        people::list_operator_tokens,
        people::revoke_operator_token,
        people::set_own_password,
        people::reset_credentials,
        people::redeem_reset,
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
