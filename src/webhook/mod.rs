//! The completion webhook: the event, its Standard Webhooks signature, and its delivery.

pub mod deliver;
pub mod event;
pub mod sign;
