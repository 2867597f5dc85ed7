//! Requests, their products and images, webhook deliveries with their attempts, and settings.
//! A request is `accepted` once all its jobs are queued; until then it is invisible, and one
//! never accepted (its upload died half-way) is removed.
//! Ids are UUID strings so that the same schema serves SQLite and PostgreSQL; every stored row
//! carries a tenant id.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Settings::Table)
                .if_not_exists()
                .col(string(Settings::Key).primary_key())
                .col(text(Settings::Value))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Requests::Table)
                .if_not_exists()
                .col(string_len(Requests::Id, 36).primary_key())
                .col(string(Requests::TenantId))
                .col(string(Requests::Status))
                .col(boolean(Requests::Accepted).default(false))
                .col(text_null(Requests::WebhookUrl))
                .col(integer(Requests::Quality))
                .col(integer(Requests::Products))
                .col(integer(Requests::Images))
                .col(integer(Requests::Succeeded).default(0))
                .col(integer(Requests::Failed).default(0))
                .col(timestamp_with_time_zone(Requests::CreatedAt))
                .col(timestamp_with_time_zone(Requests::UpdatedAt))
                .col(timestamp_with_time_zone_null(Requests::CompletedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_requests_tenant_created",
            Requests::Table,
            [Requests::TenantId, Requests::CreatedAt],
            false,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(Products::Table)
                .if_not_exists()
                .col(string_len(Products::Id, 36).primary_key())
                .col(string(Products::TenantId))
                .col(string_len(Products::RequestId, 36))
                .col(integer(Products::Position))
                .col(big_integer(Products::Line))
                .col(big_integer(Products::SerialNumber))
                .col(text(Products::Name))
                .foreign_key(&mut cascade(
                    "fk_products_request",
                    (Products::Table, Products::RequestId),
                    (Requests::Table, Requests::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_products_request_position",
            Products::Table,
            [Products::RequestId, Products::Position],
            true,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(Images::Table)
                .if_not_exists()
                .col(string_len(Images::Id, 36).primary_key())
                .col(string(Images::TenantId))
                .col(string_len(Images::RequestId, 36))
                .col(string_len(Images::ProductId, 36))
                .col(integer(Images::Position))
                .col(text(Images::InputUrl))
                .col(string(Images::Status))
                .col(integer(Images::Attempts).default(0))
                .col(text_null(Images::Error))
                .col(text_null(Images::OutputKey))
                .col(big_integer_null(Images::InputBytes))
                .col(big_integer_null(Images::OutputBytes))
                .col(integer_null(Images::Width))
                .col(integer_null(Images::Height))
                .col(timestamp_with_time_zone(Images::UpdatedAt))
                .foreign_key(&mut cascade(
                    "fk_images_product",
                    (Images::Table, Images::ProductId),
                    (Products::Table, Products::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_images_product_position",
            Images::Table,
            [Images::ProductId, Images::Position],
            true,
        ))
        .await?;
        m.create_index(index("idx_images_request_status", Images::Table, [Images::RequestId, Images::Status], false))
            .await?;
        m.create_table(
            Table::create()
                .table(WebhookDeliveries::Table)
                .if_not_exists()
                .col(string_len(WebhookDeliveries::Id, 64).primary_key())
                .col(string(WebhookDeliveries::TenantId))
                .col(string_len(WebhookDeliveries::RequestId, 36).unique_key())
                .col(text(WebhookDeliveries::Url))
                .col(text(WebhookDeliveries::Payload))
                .col(string(WebhookDeliveries::Status))
                .col(integer(WebhookDeliveries::Attempts).default(0))
                .col(timestamp_with_time_zone_null(WebhookDeliveries::NextAttemptAt))
                .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                .col(timestamp_with_time_zone(WebhookDeliveries::UpdatedAt))
                .foreign_key(&mut cascade(
                    "fk_deliveries_request",
                    (WebhookDeliveries::Table, WebhookDeliveries::RequestId),
                    (Requests::Table, Requests::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_deliveries_status_due",
            WebhookDeliveries::Table,
            [WebhookDeliveries::Status, WebhookDeliveries::NextAttemptAt],
            false,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(WebhookAttempts::Table)
                .if_not_exists()
                .col(pk_auto(WebhookAttempts::Id))
                .col(string(WebhookAttempts::TenantId))
                .col(string_len(WebhookAttempts::DeliveryId, 64))
                .col(integer(WebhookAttempts::Number))
                .col(timestamp_with_time_zone(WebhookAttempts::AttemptedAt))
                .col(integer_null(WebhookAttempts::StatusCode))
                .col(text_null(WebhookAttempts::Error))
                .col(big_integer(WebhookAttempts::DurationMs))
                .foreign_key(&mut cascade(
                    "fk_attempts_delivery",
                    (WebhookAttempts::Table, WebhookAttempts::DeliveryId),
                    (WebhookDeliveries::Table, WebhookDeliveries::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index("idx_attempts_delivery", WebhookAttempts::Table, [WebhookAttempts::DeliveryId], false))
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(WebhookAttempts::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Images::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Products::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Requests::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Settings::Table).to_owned()).await
    }
}

/// A foreign key from `from` to `to` whose rows go when the row they point at goes.
fn cascade<T: IntoIden, C: IntoIden, U: IntoIden, D: IntoIden>(
    name: &str,
    from: (T, C),
    to: (U, D),
) -> ForeignKeyCreateStatement {
    ForeignKey::create().name(name).from(from.0, from.1).to(to.0, to.1).on_delete(ForeignKeyAction::Cascade).to_owned()
}

/// An index on `columns` of `table`.
fn index<T: IntoIden, C: IntoIden, const N: usize>(
    name: &str,
    table: T,
    columns: [C; N],
    unique: bool,
) -> IndexCreateStatement {
    let mut index = Index::create().name(name).table(table).to_owned();
    for column in columns {
        index.col(column);
    }
    if unique {
        index.unique();
    }
    index
}

#[derive(DeriveIden)]
enum Settings {
    Table,
    Key,
    Value,
}

#[derive(DeriveIden)]
enum Requests {
    Table,
    Id,
    TenantId,
    Status,
    Accepted,
    WebhookUrl,
    Quality,
    Products,
    Images,
    Succeeded,
    Failed,
    CreatedAt,
    UpdatedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
    TenantId,
    RequestId,
    Position,
    Line,
    SerialNumber,
    Name,
}

#[derive(DeriveIden)]
enum Images {
    Table,
    Id,
    TenantId,
    RequestId,
    ProductId,
    Position,
    InputUrl,
    Status,
    Attempts,
    Error,
    OutputKey,
    InputBytes,
    OutputBytes,
    Width,
    Height,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    TenantId,
    RequestId,
    Url,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    Id,
    TenantId,
    DeliveryId,
    Number,
    AttemptedAt,
    StatusCode,
    Error,
    DurationMs,
}
