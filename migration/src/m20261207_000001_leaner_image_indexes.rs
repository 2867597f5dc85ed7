//! Fewer index entries per image written, which is most of what a large upload costs the
//! database: `idx_images_tenant_status` goes (`idx_images_tenant_waiting` starts with the same two
//! columns and serves every query it did), and the stored-object keys are indexed only where
//! a row has one, as the lookups for a key never match an empty one. A new image row has neither
//! key, so it adds no entry to those indexes.
//!
//! The partial indexes take new names: SQLite runs these statements on whichever pooled
//! connection is free, and one that has not seen the old index dropped refuses to create another
//! of its name. Drops say `IF EXISTS`, so a run stopped part-way is finished by the next.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The full index of each key column, and the partial one that replaces it.
const KEY_INDEXES: [(&str, &str, Images); 2] = [
    ("idx_images_output_key", "idx_images_stored_output", Images::OutputKey),
    ("idx_images_input_key", "idx_images_stored_input", Images::InputKey),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(drop("idx_images_tenant_status")).await?;
        for (full, partial, column) in KEY_INDEXES {
            m.drop_index(drop(full)).await?;
            let index = Index::create()
                .name(partial)
                .table(Images::Table)
                .col(column)
                .and_where(Expr::col(column).is_not_null())
                .if_not_exists()
                .to_owned();
            m.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (full, partial, column) in KEY_INDEXES {
            m.drop_index(drop(partial)).await?;
            m.create_index(Index::create().name(full).table(Images::Table).col(column).to_owned()).await?;
        }
        let tenant_status = Index::create()
            .name("idx_images_tenant_status")
            .table(Images::Table)
            .col(Images::TenantId)
            .col(Images::Status)
            .to_owned();
        m.create_index(tenant_status).await
    }
}

fn drop(name: &str) -> IndexDropStatement {
    Index::drop().name(name).table(Images::Table).if_exists().to_owned()
}

#[derive(DeriveIden, Clone, Copy)]
enum Images {
    Table,
    TenantId,
    Status,
    InputKey,
    OutputKey,
}
