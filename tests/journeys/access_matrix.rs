//! The authorization matrix: who may do what with a dataset, asked of the real server.
//!
//! Each row of [`MATRIX`] is an action on a dataset in one state, with the status every
//! role must get; the journey prepares one dataset per state, asks every cell with that
//! role's own credentials (a browser session for pages and downloads, an API token for
//! the API, a partner token for replica downloads) and lists every cell that answered
//! otherwise. A cell that succeeds and changes the dataset (a submission, a review, a
//! new version, a deaccession) is asked on a fresh dataset of its own, so no cell
//! depends on another. The rule itself lives in src/accounts/access.rs.

use reqwest::{Method, StatusCode};
use serde_json::json;
use std::collections::HashMap;

use crate::support::*;

/// The roles, in the order of each row's statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Anonymous,
    /// Another depositor.
    Stranger,
    Owner,
    Curator,
    Admin,
    /// A partner node with its token (replica pulls).
    Partner,
}

const ROLES: [Role; 6] = [
    Role::Anonymous,
    Role::Stranger,
    Role::Owner,
    Role::Curator,
    Role::Admin,
    Role::Partner,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum State {
    Draft,
    /// Submitted and claimed by a curator.
    InReview,
    Published,
    Deaccessioned,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    /// GET /datasets/{id}
    Page,
    /// GET /api/datasets/{id}
    ApiJson,
    /// GET /datasets/{id}/files/{path}
    File,
    /// GET /datasets/{id}/versions/1/download?format=zip
    Zip,
    /// GET /datasets/{id}/versions/1/download?format=bagit
    Bag,
    /// GET /federation/objects/{id}/inventory.json
    Object,
    /// GET /datasets/{id}/edit
    EditForm,
    /// POST /datasets/{id}/edit (valid metadata)
    EditPost,
    /// POST /api/datasets/{id}/submit
    Submit,
    /// POST /api/datasets/{id}/review (request changes)
    Review,
    /// POST /api/datasets/{id}/versions
    NewVersion,
    /// POST /api/datasets/{id}/deaccession
    Deaccession,
    /// GET /api/datasets/{id}/tickets
    Tickets,
    /// GET /tickets/{ticket}
    TicketPage,
    /// GET /api/datasets/{id}/validation
    Report,
}

impl Action {
    /// Whether a successful answer changes the dataset.
    fn changes_the_dataset(self) -> bool {
        matches!(
            self,
            Action::EditPost
                | Action::Submit
                | Action::Review
                | Action::NewVersion
                | Action::Deaccession
        )
    }
}

/// Not asked: the role does not use this route.
const N: u16 = 0;

use Action::*;
use State::*;

/// Action × state → the status of each role: anonymous, stranger, owner, curator,
/// admin, partner. Pages that need an account send visitors to sign in (303); the API
/// answers them 401. What a role may not see is "not found" (404); what it sees but may
/// not do is 403; what nobody may do in this state is 409; a withdrawn dataset's files
/// are gone (410).
#[rustfmt::skip]
const MATRIX: &[(Action, State, [u16; 6])] = &[
    //                            anon stranger owner curator admin partner
    (Page,        Draft,         [404, 404, 200, 200, 200, N]),
    (Page,        InReview,      [404, 404, 200, 200, 200, N]),
    (Page,        Published,     [200, 200, 200, 200, 200, N]),
    (Page,        Deaccessioned, [410, 410, 410, 200, 200, N]),
    (ApiJson,     Draft,         [404, 404, 200, 200, 200, N]),
    (ApiJson,     InReview,      [404, 404, 200, 200, 200, N]),
    (ApiJson,     Published,     [200, 200, 200, 200, 200, N]),
    (ApiJson,     Deaccessioned, [200, 200, 200, 200, 200, N]),
    (File,        Draft,         [404, 404, 200, 200, 200, 404]),
    (File,        InReview,      [404, 404, 200, 200, 200, 404]),
    (File,        Published,     [200, 200, 200, 200, 200, 200]),
    (File,        Deaccessioned, [410, 410, 410, 410, 410, 410]),
    (Zip,         Draft,         [404, 404, 200, 200, 200, 404]),
    (Zip,         InReview,      [404, 404, 200, 200, 200, 404]),
    (Zip,         Published,     [200, 200, 200, 200, 200, 200]),
    (Zip,         Deaccessioned, [410, 410, 410, 410, 410, 410]),
    (Bag,         Draft,         [404, 404, 200, 200, 200, N]),
    (Bag,         Published,     [200, 200, 200, 200, 200, N]),
    (Bag,         Deaccessioned, [410, 410, 410, 410, 410, N]),
    (Object,      Draft,         [404, N, N, N, N, 404]),
    (Object,      Published,     [200, N, N, N, N, 200]),
    (Object,      Deaccessioned, [410, N, N, N, N, 410]),
    (EditForm,    Draft,         [303, 404, 200, 403, 403, N]),
    (EditForm,    InReview,      [303, 404, 409, 403, 403, N]),
    (EditForm,    Published,     [303, 404, 409, 403, 403, N]),
    (EditForm,    Deaccessioned, [303, 404, 409, 403, 403, N]),
    (EditPost,    Draft,         [303, 404, 303, 403, 403, N]),
    (EditPost,    InReview,      [303, 404, 409, 403, 403, N]),
    (EditPost,    Published,     [303, 404, 409, 403, 403, N]),
    (Submit,      Draft,         [401, 404, 200, 403, 403, N]),
    (Submit,      InReview,      [401, 404, 409, 403, 403, N]),
    (Submit,      Published,     [401, 404, 409, 403, 403, N]),
    (Review,      Draft,         [401, 403, 403, 409, 409, N]),
    (Review,      InReview,      [401, 403, 403, 200, 200, N]),
    (Review,      Published,     [401, 403, 403, 409, 409, N]),
    (NewVersion,  Draft,         [401, 404, 409, 403, 403, N]),
    (NewVersion,  Published,     [401, 404, 201, 403, 403, N]),
    (NewVersion,  Deaccessioned, [401, 404, 409, 403, 403, N]),
    (Deaccession, InReview,      [401, 403, 403, 403, 409, N]),
    (Deaccession, Published,     [401, 403, 403, 403, 200, N]),
    (Deaccession, Deaccessioned, [401, 403, 403, 403, 409, N]),
    (Tickets,     Draft,         [401, 404, 200, 200, 200, N]),
    (Tickets,     Published,     [401, 404, 200, 200, 200, N]),
    (TicketPage,  Draft,         [303, 404, 200, 200, 200, N]),
    (TicketPage,  InReview,      [303, 404, 200, 200, 200, N]),
    (TicketPage,  Deaccessioned, [303, 404, 200, 200, 200, N]),
    (Report,      InReview,      [401, 404, 200, 200, 200, N]),
    (Report,      Published,     [401, 404, 200, 200, 200, N]),
];

/// How each role talks to the archive.
struct Caller {
    /// Pages and downloads: a signed-in browser (anonymous: none).
    browser: Option<Browser>,
    /// The API with the role's token (anonymous: none).
    api: Api,
    /// A bearer token sent to downloads (the partner's).
    bearer: Option<String>,
}

/// A dataset prepared in one state, with a ticket a curator opened on it.
#[derive(Clone, Copy)]
struct Prepared {
    id: i64,
    ticket: i64,
}

struct World {
    app: TestApp,
    callers: HashMap<&'static str, Caller>,
    owner: Api,
    curator: Api,
    admin: Api,
    curator_browser: Browser,
}

fn key(role: Role) -> &'static str {
    match role {
        Role::Anonymous => "anonymous",
        Role::Stranger => "stranger",
        Role::Owner => "owner",
        Role::Curator => "curator",
        Role::Admin => "admin",
        Role::Partner => "partner",
    }
}

impl World {
    async fn new(app: TestApp) -> Result<World, Error> {
        let users = app.users().await?;
        let stranger = app
            .new_user("other@example.org", holdfast::accounts::Role::Depositor)
            .await?;
        let partner_token = app
            .archive
            .db
            .run(|conn| {
                holdfast::federation::partners::create(
                    conn,
                    "Partner",
                    "https://partner.example.org",
                )
            })
            .await?;
        let mut callers = HashMap::new();
        for (role, user) in [
            (Role::Stranger, &stranger),
            (Role::Owner, &users.depositor),
            (Role::Curator, &users.curator),
            (Role::Admin, &users.admin),
        ] {
            let caller = Caller {
                browser: Some(app.signed_in(user).await?),
                api: app.api(&user.token),
                bearer: None,
            };
            callers.insert(key(role), caller);
        }
        for (role, bearer) in [
            (Role::Anonymous, None),
            (Role::Partner, Some(partner_token)),
        ] {
            let caller = Caller {
                browser: None,
                api: app.public_api(),
                bearer,
            };
            callers.insert(key(role), caller);
        }
        Ok(World {
            owner: app.api(&users.depositor.token),
            curator: app.api(&users.curator.token),
            admin: app.api(&users.admin.token),
            curator_browser: app.signed_in(&users.curator).await?,
            callers,
            app,
        })
    }

    /// A new dataset with one checked file and a ticket, taken to `state`.
    async fn prepare(&self, state: State) -> Result<Prepared, Error> {
        let id = self.owner.create_draft("Soil respiration").await?;
        self.owner.put_file(id, "a.csv", b"x,y\n1,2\n").await?;
        self.app.run_jobs().await?;
        match state {
            Draft => {}
            InReview => {
                self.owner.submit(id).await?;
                self.curator.claim(id).await?;
            }
            Published | Deaccessioned => {
                self.app.publish(&self.owner, &self.curator, id).await?;
            }
        }
        // Opened before a withdrawal, as it would have been.
        let ticket = self.ticket_on(id).await?;
        if state == Deaccessioned {
            self.admin
                .post(
                    &format!("/api/datasets/{id}/deaccession"),
                    &json!({"reason": "withdrawn by the authors"}),
                )
                .await?
                .expect(StatusCode::OK)?;
        }
        Ok(Prepared { id, ticket })
    }

    /// A curator opens a ticket on the dataset (through its form); the ticket's id.
    async fn ticket_on(&self, id: i64) -> Result<i64, Error> {
        let r = self
            .curator_browser
            .post_form(
                &format!("/datasets/{id}/tickets/new"),
                &format!("/datasets/{id}/tickets"),
                &[("title", "Units of y"), ("body", "Which units is y in?")],
            )
            .await?;
        let location = expect_redirect_prefix(&r, "/tickets/")?;
        let number = location
            .trim_start_matches("/tickets/")
            .split('?')
            .next()
            .unwrap_or("");
        Ok(number.parse()?)
    }

    /// The status `role` gets for `action` on `dataset`.
    async fn ask(&self, role: Role, action: Action, dataset: Prepared) -> Result<u16, Error> {
        let caller = &self.callers[key(role)];
        let id = dataset.id;
        let (method, path, body) = match action {
            Page => (Method::GET, format!("/datasets/{id}"), None),
            File => (Method::GET, format!("/datasets/{id}/files/a.csv"), None),
            Zip => (
                Method::GET,
                format!("/datasets/{id}/versions/1/download?format=zip"),
                None,
            ),
            Bag => (
                Method::GET,
                format!("/datasets/{id}/versions/1/download?format=bagit"),
                None,
            ),
            Object => (
                Method::GET,
                format!("/federation/objects/{id}/inventory.json"),
                None,
            ),
            EditForm => (Method::GET, format!("/datasets/{id}/edit"), None),
            EditPost => (Method::POST, format!("/datasets/{id}/edit"), None),
            TicketPage => (Method::GET, format!("/tickets/{}", dataset.ticket), None),
            ApiJson => (Method::GET, format!("/api/datasets/{id}"), None),
            Tickets => (Method::GET, format!("/api/datasets/{id}/tickets"), None),
            Report => (Method::GET, format!("/api/datasets/{id}/validation"), None),
            Submit => (
                Method::POST,
                format!("/api/datasets/{id}/submit"),
                Some(json!({})),
            ),
            Review => (
                Method::POST,
                format!("/api/datasets/{id}/review"),
                Some(json!({"decision": "request_changes", "comment": "Name the units."})),
            ),
            NewVersion => (
                Method::POST,
                format!("/api/datasets/{id}/versions"),
                Some(json!({})),
            ),
            Deaccession => (
                Method::POST,
                format!("/api/datasets/{id}/deaccession"),
                Some(json!({"reason": "withdrawn"})),
            ),
        };
        if path.starts_with("/api/") {
            let mut request = caller.api.request(method, &path);
            if let Some(body) = body {
                request = request.json(&body);
            }
            return Ok(caller.api.send(request).await?.status.as_u16());
        }
        let client = match &caller.browser {
            Some(browser) => browser.client.clone(),
            None => self.app.client(),
        };
        let mut request = client.request(method, self.app.url(&path));
        if let Some(token) = &caller.bearer {
            request = request.bearer_auth(token);
        }
        if action == EditPost {
            // A valid form with this browser's CSRF token (a visitor has none).
            let token = match &caller.browser {
                Some(browser) => browser.csrf("/").await?,
                None => String::new(),
            };
            let mut fields = vec![("csrf_token", token.as_str())];
            fields.extend(minimal_form("Soil respiration"));
            request = request.form(&fields);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        // Read the body to its end: a streamed zip that breaks off would show here.
        response.bytes().await?;
        Ok(status)
    }
}

#[actix_web::test]
async fn every_role_gets_the_status_the_access_rule_gives_for_every_action_and_state() -> TestResult
{
    on_each_backend(|app| async move {
        let world = World::new(app).await?;
        let mut shared = HashMap::new();
        for state in [Draft, InReview, Published, Deaccessioned] {
            shared.insert(state, world.prepare(state).await?);
        }
        let mut asked = 0;
        let mut wrong = Vec::new();
        for &(action, state, statuses) in MATRIX {
            for (role, want) in ROLES.into_iter().zip(statuses) {
                if want == N {
                    continue;
                }
                let dataset = if action.changes_the_dataset() && want < 400 {
                    world.prepare(state).await?
                } else {
                    shared[&state]
                };
                let got = world.ask(role, action, dataset).await?;
                asked += 1;
                if got != want {
                    wrong.push(format!(
                        "{role:?} {action:?} on a {state:?} dataset: expected {want}, got {got}"
                    ));
                }
            }
        }
        assert!(asked > 200, "only {asked} cells were asked");
        assert!(
            wrong.is_empty(),
            "{} of {asked} cells answered otherwise:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
        Ok(())
    })
    .await
}
