//! Accounts: tenants, their API keys and their webhook signing secrets. Rows stored before
//! accounts existed belong to the `default` tenant, which becomes the `admin` account.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Tenants::Table)
                .if_not_exists()
                .col(string_len(Tenants::Id, 200).primary_key())
                // Lower-cased; none for the default tenant and for tenants of an outside
                // identity provider.
                .col(string_len_null(Tenants::Email, 254).unique_key())
                .col(text_null(Tenants::PasswordHash))
                // `local` (made here) or `external` (made on first use of an outside token).
                .col(string_len(Tenants::Origin, 16))
                .col(timestamp_with_time_zone(Tenants::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ApiKeys::Table)
                .if_not_exists()
                .col(string_len(ApiKeys::Id, 36).primary_key())
                .col(string_len(ApiKeys::TenantId, 200))
                .col(text(ApiKeys::Name))
                .col(string_len(ApiKeys::Prefix, 16))
                // SHA-256 of the key, hex: keys are 32 random bytes, so a fast hash is enough.
                .col(string_len(ApiKeys::Hash, 64).unique_key())
                .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("idx_api_keys_tenant").table(ApiKeys::Table).col(ApiKeys::TenantId).to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebhookSecrets::Table)
                .if_not_exists()
                .col(pk_auto(WebhookSecrets::Id))
                .col(string_len(WebhookSecrets::TenantId, 200))
                .col(text(WebhookSecrets::Secret))
                .col(timestamp_with_time_zone(WebhookSecrets::CreatedAt))
                // Set when a newer secret replaces it: it keeps signing until then.
                .col(timestamp_with_time_zone_null(WebhookSecrets::RetiresAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_webhook_secrets_tenant")
                .table(WebhookSecrets::Table)
                .col(WebhookSecrets::TenantId)
                .to_owned(),
        )
        .await?;
        // Counting a tenant's images waiting (its limit) and choosing its next ones to queue.
        m.create_index(
            Index::create()
                .name("idx_images_tenant_status")
                .table(Images::Table)
                .col(Images::TenantId)
                .col(Images::Status)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("idx_images_tenant_status").table(Images::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(WebhookSecrets::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(ApiKeys::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Tenants::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Email,
    PasswordHash,
    Origin,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    TenantId,
    Name,
    Prefix,
    Hash,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum WebhookSecrets {
    Table,
    Id,
    TenantId,
    Secret,
    CreatedAt,
    RetiresAt,
}

#[derive(DeriveIden)]
enum Images {
    Table,
    TenantId,
    Status,
}
