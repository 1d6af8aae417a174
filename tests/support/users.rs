//! Accounts journeys act as.

use holdfast::accounts::Role;

/// An account: what its holder signs in with and the API token it holds.
#[derive(Clone, Debug)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub password: String,
    pub token: String,
    pub role: Role,
}

impl User {
    /// Every account the harness makes has this password.
    pub const PASSWORD: &'static str = "a long enough password";
}

/// One account of each role, made by [`crate::support::TestApp::users`].
#[derive(Clone, Debug)]
pub struct Users {
    pub depositor: User,
    pub curator: User,
    pub admin: User,
}
