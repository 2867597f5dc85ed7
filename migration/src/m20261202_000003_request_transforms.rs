//! What a request asks done to its images besides recompressing them: the box (`box_width`,
//! `box_height`; none for full size), how they fit it, and the output format. Older requests kept
//! full size, in JPEG.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        for column in [
            integer_null(Requests::BoxWidth),
            integer_null(Requests::BoxHeight),
            string(Requests::Fit).default("inside").to_owned(),
            string(Requests::Format).default("jpeg").to_owned(),
        ] {
            m.alter_table(Table::alter().table(Requests::Table).add_column(column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [Requests::BoxWidth, Requests::BoxHeight, Requests::Fit, Requests::Format] {
            m.alter_table(Table::alter().table(Requests::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Requests {
    Table,
    BoxWidth,
    BoxHeight,
    Fit,
    Format,
}
