//! Users, roles, password sign-in, sessions, API tokens, and who may do what with a
//! dataset (`access`, the one authorization rule).

pub mod access;
pub mod passwords;
pub mod sessions;
pub mod tokens;
pub mod users;

pub use access::Access;
pub use users::{Role, User};
