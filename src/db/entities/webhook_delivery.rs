//! `webhook_deliveries`: the one completion event of a request, written in the transaction that
//! finishes the request (an outbox), and its delivery state.

use sea_orm::entity::prelude::*;

use crate::domain::{
    ids::{DeliveryId, RequestId},
    status::DeliveryState,
};

/// One webhook delivery.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    /// The delivery id, sent as `webhook-id` on every attempt.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: DeliveryId,
    pub tenant_id: crate::domain::ids::TenantId,
    pub request_id: RequestId,
    /// Where it is sent.
    pub url: String,
    /// The exact JSON body sent.
    pub payload: String,
    pub status: DeliveryState,
    /// Attempts started so far.
    pub attempts: i32,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
