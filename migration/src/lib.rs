//! Schema migrations for imgbatch, run by `imgbatch migrate` and on `imgbatch serve` start-up.
//! The same migrations run on SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_tables;
mod m20261202_000001_accounts;
mod m20261202_000002_queue_windows;
mod m20261202_000003_request_transforms;
mod m20261202_000004_jobs;
mod m20261207_000001_leaner_image_indexes;
mod m20261208_000001_images_without_product_check;

/// Every migration of imgbatch, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_tables::Migration),
            Box::new(m20261202_000001_accounts::Migration),
            Box::new(m20261202_000002_queue_windows::Migration),
            Box::new(m20261202_000003_request_transforms::Migration),
            Box::new(m20261202_000004_jobs::Migration),
            Box::new(m20261207_000001_leaner_image_indexes::Migration),
            Box::new(m20261208_000001_images_without_product_check::Migration),
        ]
    }
}
