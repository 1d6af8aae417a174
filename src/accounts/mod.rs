//! Users, roles, password sign-in, sessions and API tokens.

pub mod passwords;
pub mod sessions;
pub mod tokens;
pub mod users;

pub use users::{Role, User};
