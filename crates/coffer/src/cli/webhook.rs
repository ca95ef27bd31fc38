//! Arguments of `coffer org webhook …`: the org's webhooks — HTTPS endpoints Coffer sends the
//! org's events to, signed (docs/webhooks.md) — and their deliveries.

use clap::Subcommand;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use coffer_api::WebhookEvent;
use uuid::Uuid;

/// Event names as clap parses them (each must be one Coffer sends).
fn event_parser() -> impl TypedValueParser<Value = WebhookEvent> {
    PossibleValuesParser::new(WebhookEvent::ALL.iter().map(|e| e.as_str()))
        .map(|s| s.parse().expect("one of the possible values"))
}

/// `coffer org webhook …`.
#[derive(Subcommand)]
pub enum OrgWebhookCommand {
    /// Add a webhook (admins): Coffer POSTs the chosen events to URL as signed JSON. The signing
    /// secret is printed alone on stdout, once; the webhook's id and details go to stderr.
    ///
    /// Give the secret to the receiver, which checks `Coffer-Signature` with it
    /// (docs/webhooks.md), e.g. `SECRET=$(coffer org webhook add https://… --events
    /// secret.revealed)`. The URL must be https and must not point at a private, link-local or
    /// metadata address.
    Add {
        /// Where deliveries are POSTed, e.g. https://hooks.example.com/coffer.
        url: String,
        /// The events to send, comma-separated.
        #[arg(
            long,
            required = true,
            value_delimiter = ',',
            value_name = "EVENT,…",
            value_parser = event_parser()
        )]
        events: Vec<WebhookEvent>,
        /// What it is for (shown in listings; at most 200 characters).
        #[arg(long)]
        description: Option<String>,
    },
    /// List the org's webhooks (admins; never their secrets).
    List,
    /// Remove a webhook and its deliveries (admins).
    Remove {
        /// Webhook id (from `coffer org webhook list`).
        id: Uuid,
    },
    /// Give a webhook a new signing secret (admins), printed alone on stdout, once. Every
    /// delivery from now on, retries included, is signed with it.
    RotateSecret {
        /// Webhook id.
        id: Uuid,
    },
    /// A webhook's deliveries, newest event first: state, attempts, the last answer or error.
    Deliveries {
        /// Webhook id.
        id: Uuid,
        /// Only the dead-lettered ones (every attempt failed).
        #[arg(long)]
        failed: bool,
        /// At most this many.
        #[arg(long, default_value_t = 50, value_name = "N")]
        limit: u32,
    },
    /// Queue a delivery again, with a fresh set of attempts (a dead-lettered one, or one a
    /// receiver lost).
    Redeliver {
        /// Delivery id (from `coffer org webhook deliveries`).
        delivery_id: Uuid,
    },
}
