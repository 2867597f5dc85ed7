//! The one place tenant-scoped queries are built. Every read or write that a handler makes, and
//! every one a job makes after loading the row its id names, starts here, so that another
//! tenant's rows are never matched: for the caller they do not exist (404, as an unknown id).

use sea_orm::{ColumnTrait, DeleteMany, EntityTrait, QueryFilter, Select, UpdateMany};

use super::entities::{api_key, image, product, request, webhook_attempt, webhook_delivery, webhook_secret};
use crate::domain::ids::TenantId;

/// A table whose rows each belong to one tenant.
pub trait Owned: EntityTrait {
    /// The column naming the row's tenant.
    fn tenant_column() -> Self::Column;
}

macro_rules! owned {
    ($($module:ident),+) => {
        $(impl Owned for $module::Entity {
            fn tenant_column() -> Self::Column {
                $module::Column::TenantId
            }
        })+
    };
}

owned!(request, product, image, webhook_delivery, webhook_attempt, api_key, webhook_secret);

/// Queries limited to one tenant's rows.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a>(pub &'a TenantId);

impl Scope<'_> {
    /// `SELECT … WHERE tenant_id = ?`.
    pub fn find<E: Owned>(self) -> Select<E> {
        E::find().filter(E::tenant_column().eq(self.0.clone()))
    }

    /// `UPDATE … WHERE tenant_id = ?`.
    pub fn update<E: Owned>(self) -> UpdateMany<E> {
        E::update_many().filter(E::tenant_column().eq(self.0.clone()))
    }

    /// `DELETE … WHERE tenant_id = ?`.
    pub fn delete<E: Owned>(self) -> DeleteMany<E> {
        E::delete_many().filter(E::tenant_column().eq(self.0.clone()))
    }
}
