//! Images are handed to the job queue in bounded windows per tenant, not all at upload: `queued`
//! says an image's job has been handed over. Rows from before were all queued at upload.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Images::Table).add_column(boolean(Images::Queued).default(true)).to_owned())
            .await?;
        // A tenant's waiting images in queue order (ids are time-ordered: upload, then file order).
        m.create_index(
            Index::create()
                .name("idx_images_tenant_waiting")
                .table(Images::Table)
                .col(Images::TenantId)
                .col(Images::Status)
                .col(Images::Queued)
                .col(Images::Id)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("idx_images_tenant_waiting").table(Images::Table).to_owned()).await?;
        m.alter_table(Table::alter().table(Images::Table).drop_column(Images::Queued).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Images {
    Table,
    Id,
    TenantId,
    Status,
    Queued,
}
