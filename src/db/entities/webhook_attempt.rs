//! `webhook_attempts`: one try at sending a delivery.

use sea_orm::entity::prelude::*;

use crate::domain::ids::DeliveryId;

/// One attempt.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub tenant_id: crate::domain::ids::TenantId,
    pub delivery_id: DeliveryId,
    /// 1-based attempt number.
    pub number: i32,
    /// When it started.
    pub attempted_at: DateTimeUtc,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<i32>,
    /// Why it failed without an answer, or a note on a non-2xx answer.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

impl ActiveModelBehavior for ActiveModel {}
