//! Single-image jobs. A job is a request of kind `job` with one product and one image, so it
//! shares the queue, the tenant's window, recovery and the webhook outbox with CSV requests.
//! `requests.kind` tells them apart (older rows are CSV requests); `images.input_key` names an
//! uploaded input kept in the store (none: the image is fetched from `input_url`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let kind = string(Requests::Kind).default("request").to_owned();
        m.alter_table(Table::alter().table(Requests::Table).add_column(kind).to_owned()).await?;
        let input_key = string_null(Images::InputKey);
        m.alter_table(Table::alter().table(Images::Table).add_column(input_key).to_owned()).await?;
        // Listing a tenant's requests or jobs, newest first.
        m.create_index(
            Index::create()
                .name("idx_requests_tenant_kind_created")
                .table(Requests::Table)
                .col(Requests::TenantId)
                .col(Requests::Kind)
                .col(Requests::CreatedAt)
                .to_owned(),
        )
        .await?;
        // Finding whether another row still refers to a stored object before deleting it.
        for (name, column) in [("idx_images_output_key", Images::OutputKey), ("idx_images_input_key", Images::InputKey)]
        {
            m.create_index(Index::create().name(name).table(Images::Table).col(column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in ["idx_images_input_key", "idx_images_output_key", "idx_requests_tenant_kind_created"] {
            m.drop_index(Index::drop().name(name).to_owned()).await?;
        }
        m.alter_table(Table::alter().table(Images::Table).drop_column(Images::InputKey).to_owned()).await?;
        m.alter_table(Table::alter().table(Requests::Table).drop_column(Requests::Kind).to_owned()).await?;
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Requests {
    Table,
    TenantId,
    Kind,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Images {
    Table,
    InputKey,
    OutputKey,
}
