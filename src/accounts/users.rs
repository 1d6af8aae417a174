use chrono::{Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

use super::passwords;
use crate::db::schema::{sign_in_failures, users};
use crate::db::AnyConnection;
use crate::error::{DomainError, FieldError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Depositor,
    Curator,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Depositor, Role::Curator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Depositor => "depositor",
            Role::Curator => "curator",
            Role::Admin => "admin",
        }
    }

    /// Curators and admins review submissions and may see every draft.
    pub fn can_curate(self) -> bool {
        matches!(self, Role::Curator | Role::Admin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "depositor" => Ok(Role::Depositor),
            "curator" => Ok(Role::Curator),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "'{other}' is not a role; choose depositor, curator or admin"
            )),
        }
    }
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = users)]
struct UserRow {
    id: i64,
    email: String,
    name: String,
    role: String,
    password_hash: String,
    created_at: NaiveDateTime,
}

#[derive(Clone, Debug, Serialize)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_at: NaiveDateTime,
}

impl TryFrom<UserRow> for User {
    type Error = DomainError;
    fn try_from(row: UserRow) -> Result<User, DomainError> {
        Ok(User {
            id: row.id,
            role: row
                .role
                .parse()
                .map_err(|e: String| DomainError::internal(format!("user {}: {e}", row.id)))?,
            email: row.email,
            name: row.name,
            created_at: row.created_at,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUserRow<'a> {
    email: &'a str,
    name: &'a str,
    role: &'a str,
    password_hash: &'a str,
    created_at: NaiveDateTime,
}

/// An email address as we store it: trimmed, lower-case, plausibly deliverable.
pub fn normalize_email(raw: &str) -> Result<String, FieldError> {
    let email = raw.trim().to_lowercase();
    let bad = || FieldError::new("email", "enter an email address like name@example.org");
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(bad());
    }
    Ok(email)
}

pub fn normalize_name(raw: &str) -> Result<String, FieldError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(FieldError::new("name", "enter your name"));
    }
    if name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(FieldError::new(
            "name",
            "use at most 200 characters, without control characters",
        ));
    }
    Ok(name.to_string())
}

/// Creates an account. All field problems are reported together.
pub fn create(
    conn: &mut AnyConnection,
    email: &str,
    name: &str,
    role: Role,
    password: &str,
) -> Result<User, DomainError> {
    let mut errors = Vec::new();
    let email = normalize_email(email).map_err(|e| errors.push(e)).ok();
    let name = normalize_name(name).map_err(|e| errors.push(e)).ok();
    if let Err(e) = passwords::check_strength(password) {
        errors.push(e);
    }
    let (Some(email), Some(name), true) = (email, name, errors.is_empty()) else {
        return Err(DomainError::Invalid(errors));
    };
    if find_by_email(conn, &email)?.is_some() {
        return Err(DomainError::invalid(
            "email",
            "an account with this email already exists; sign in instead",
        ));
    }
    let password_hash = passwords::hash(password)?;
    let id = crate::insert_returning_id!(
        conn,
        crate::db::schema::users,
        &NewUserRow {
            email: &email,
            name: &name,
            role: role.as_str(),
            password_hash: &password_hash,
            created_at: Utc::now().naive_utc(),
        }
    )?;
    find_by_id(conn, id)
}

pub fn find_by_id(conn: &mut AnyConnection, id: i64) -> Result<User, DomainError> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)?
        .try_into()
}

/// The names of the given accounts (lists that show who is assigned).
pub fn names_of(
    conn: &mut AnyConnection,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, String>, DomainError> {
    Ok(users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect())
}

pub fn find_by_email(conn: &mut AnyConnection, email: &str) -> Result<Option<User>, DomainError> {
    let email = email.trim().to_lowercase();
    users::table
        .filter(users::email.eq(email))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .map(User::try_from)
        .transpose()
}

pub fn list(conn: &mut AnyConnection) -> Result<Vec<User>, DomainError> {
    users::table
        .order(users::id.asc())
        .select(UserRow::as_select())
        .load(conn)?
        .into_iter()
        .map(User::try_from)
        .collect()
}

/// Ids of everyone who can curate (curators and admins), e.g. to tell them of a submission.
pub fn curator_ids(conn: &mut AnyConnection) -> Result<Vec<i64>, DomainError> {
    Ok(users::table
        .filter(users::role.eq_any([Role::Curator.as_str(), Role::Admin.as_str()]))
        .order(users::id.asc())
        .select(users::id)
        .load(conn)?)
}

/// How many people other than `user_id` can curate (curators and admins).
pub fn other_curators(conn: &mut AnyConnection, user_id: i64) -> Result<i64, DomainError> {
    Ok(users::table
        .filter(users::role.eq_any([Role::Curator.as_str(), Role::Admin.as_str()]))
        .filter(users::id.ne(user_id))
        .count()
        .get_result(conn)?)
}

/// Everyone who can curate, for assignment menus.
pub fn curators(conn: &mut AnyConnection) -> Result<Vec<User>, DomainError> {
    users::table
        .filter(users::role.eq_any([Role::Curator.as_str(), Role::Admin.as_str()]))
        .order(users::name.asc())
        .select(UserRow::as_select())
        .load(conn)?
        .into_iter()
        .map(User::try_from)
        .collect()
}

pub fn set_role(conn: &mut AnyConnection, user_id: i64, role: Role) -> Result<User, DomainError> {
    let updated = diesel::update(users::table.find(user_id))
        .set(users::role.eq(role.as_str()))
        .execute(conn)?;
    if updated == 0 {
        return Err(DomainError::NotFound);
    }
    find_by_id(conn, user_id)
}

pub fn set_password(
    conn: &mut AnyConnection,
    user_id: i64,
    password: &str,
) -> Result<(), DomainError> {
    passwords::check_strength(password).map_err(|e| DomainError::Invalid(vec![e]))?;
    let hash = passwords::hash(password)?;
    diesel::update(users::table.find(user_id))
        .set(users::password_hash.eq(hash))
        .execute(conn)?;
    Ok(())
}

/// The window in which failed sign-ins count towards the pause.
pub const SIGN_IN_WINDOW_MINUTES: i64 = 15;

/// Checks a password sign-in. Repeated failures for one account or from one client
/// address pause sign-in for that account or address (the pause is kept in the
/// database, so it holds across restarts and across nodes).
pub fn sign_in(
    conn: &mut AnyConnection,
    email: &str,
    password: &str,
    client_ip: &str,
    max_failures: u32,
) -> Result<User, DomainError> {
    let email = email.trim().to_lowercase();
    let now = Utc::now().naive_utc();
    // The attempt is written before anything is checked, so guesses sent in parallel
    // each see the others and no more than the limit get a password hashed.
    let attempt: i64 = diesel::insert_into(sign_in_failures::table)
        .values((
            sign_in_failures::email.eq(&email),
            sign_in_failures::client_ip.eq(client_ip),
            sign_in_failures::failed_at.eq(now),
        ))
        .returning(sign_in_failures::id)
        .get_result(conn)?;
    let limits = SignInLimits::new(max_failures);
    let since = now - Duration::minutes(SIGN_IN_WINDOW_MINUTES);
    let recent = || {
        sign_in_failures::table
            .filter(sign_in_failures::failed_at.gt(since))
            .filter(sign_in_failures::id.le(attempt))
            .into_boxed()
    };
    let from_here: i64 = recent()
        .filter(sign_in_failures::client_ip.eq(client_ip))
        .count()
        .get_result(conn)?;
    let this_pair: i64 = recent()
        .filter(sign_in_failures::client_ip.eq(client_ip))
        .filter(sign_in_failures::email.eq(&email))
        .count()
        .get_result(conn)?;
    let this_account: i64 = recent()
        .filter(sign_in_failures::email.eq(&email))
        .count()
        .get_result(conn)?;
    if this_pair > limits.per_account_and_address
        || from_here > limits.per_address
        || this_account > limits.per_account
    {
        return Err(DomainError::TooManyRequests(format!(
            "too many failed sign-ins; wait {SIGN_IN_WINDOW_MINUTES} minutes and try again"
        )));
    }
    let row: Option<UserRow> = users::table
        .filter(users::email.eq(&email))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?;
    let stored_hash = row
        .as_ref()
        .map(|r| r.password_hash.as_str())
        .unwrap_or(passwords::dummy_hash());
    let password_ok = passwords::verify(password, stored_hash);
    match row {
        Some(row) if password_ok => {
            // A good attempt is not a failure.
            diesel::delete(sign_in_failures::table.find(attempt)).execute(conn)?;
            row.try_into()
        }
        _ => Err(DomainError::Unauthorized(
            "the email or password is not right".into(),
        )),
    }
}

/// Attempts allowed within [`SIGN_IN_WINDOW_MINUTES`]. The tight limit is per account
/// *and* address, so a stranger guessing from elsewhere cannot lock the owner out;
/// an address guessing across accounts, and an account guessed at from many
/// addresses, get wider ones.
struct SignInLimits {
    per_account_and_address: i64,
    per_address: i64,
    per_account: i64,
}

impl SignInLimits {
    fn new(max_failures: u32) -> SignInLimits {
        let max = i64::from(max_failures.max(1));
        SignInLimits {
            per_account_and_address: max,
            per_address: max * 4,
            per_account: max * 20,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalize_email("  Ada@Example.ORG ").ok().as_deref(),
            Some("ada@example.org")
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.org",
            "a b@example.org",
            "ada@localhost",
            "a@b@c.org",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn roles_parse() {
        assert_eq!("curator".parse::<Role>(), Ok(Role::Curator));
        assert!("root".parse::<Role>().is_err());
        assert!(Role::Admin.can_curate() && !Role::Depositor.can_curate());
    }
}
