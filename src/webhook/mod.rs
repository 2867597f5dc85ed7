//! The completion webhook: its Standard Webhooks signature, and its delivery.

pub mod deliver;
pub mod sign;
