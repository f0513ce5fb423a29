//! Users signing in at the token service: the password grant, refresh-token rotation and
//! replay, the device-code grant with its verification page, and the refusals Entra gives
//! (wrong password, lockout, disabled user), over real HTTPS.

use super::{temp_dir, Wid, T0};
use serde_json::Value;
use wid_core::clock::ManualClock;
use wid_core::model::User;
use wid_core::password::SignInState;
use wid_server::datadir::AdminUser;

const AZ: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

fn admin_user(wid: &Wid) -> AdminUser {
    serde_json::from_slice(&std::fs::read(wid.dir.join("admin-user.json")).unwrap()).unwrap()
}

fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn code(body: &Value) -> u64 {
    body["error_codes"][0].as_u64().unwrap_or_default()
}

async fn store(wid: &Wid) -> wid_store::Store {
    wid_store::Store::connect(&format!("sqlite://{}", wid.dir.join("wid.db").display()))
        .await
        .unwrap()
}

impl Wid {
    fn arm_scope(&self) -> String {
        format!(
            "{}.default offline_access openid profile",
            self.info().management_resource
        )
    }

    async fn password(&self, tenant: &str, upn: &str, password: &str) -> (u16, Value) {
        let scope = self.arm_scope();
        self.post_form(
            &format!("/{tenant}/oauth2/v2.0/token"),
            &[
                ("grant_type", "password"),
                ("client_id", AZ),
                ("username", upn),
                ("password", password),
                ("scope", &scope),
            ],
        )
        .await
    }

    async fn refresh(&self, token: &str, scope: &str) -> (u16, Value) {
        let path = format!("/{}/oauth2/v2.0/token", self.creds.tenant_id);
        self.post_form(
            &path,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", AZ),
                ("refresh_token", token),
                ("scope", scope),
            ],
        )
        .await
    }
}

async fn add_user(wid: &Wid, upn: &str, password: &str) -> User {
    let user = User {
        object_id: uuid::Uuid::new_v4().to_string(),
        tenant_id: wid.creds.tenant_id.clone(),
        user_principal_name: upn.to_owned(),
        display_name: "Second".to_owned(),
        mail_nickname: "second".to_owned(),
        account_enabled: true,
        password_hash: wid_core::password::hash(password).unwrap(),
        sign_in: SignInState::default(),
        created_at: T0,
    };
    store(wid).await.insert_user(&user).await.unwrap();
    user
}

#[tokio::test]
async fn password_grant_issues_user_tokens_that_arm_accepts() {
    let wid = Wid::start().await;
    let admin = admin_user(&wid);
    assert_eq!(
        admin.user_principal_name,
        format!("admin@{}", wid.info().dns_suffix)
    );
    wid_core::password::check_complexity(&admin.password).unwrap();
    let (status, body) = wid
        .password("organizations", &admin.user_principal_name, &admin.password)
        .await;
    assert_eq!(status, 200, "{body}");
    for field in [
        "token_type",
        "scope",
        "expires_in",
        "ext_expires_in",
        "access_token",
        "refresh_token",
        "id_token",
        "client_info",
    ] {
        assert!(!body[field].is_null(), "{field} missing: {body}");
    }
    let at = claims(body["access_token"].as_str().unwrap());
    assert_eq!(at["idtyp"], "user");
    assert_eq!(at["oid"], admin.object_id.as_str());
    assert_eq!(at["appid"], AZ);
    assert_eq!(at["appidacr"], "0");
    assert_eq!(at["upn"], admin.user_principal_name.as_str());
    assert_eq!(at["scp"], "user_impersonation");
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], AZ);
    assert_eq!(
        id["iss"],
        format!("{}/{}/v2.0", wid.info().url, wid.creds.tenant_id)
    );
    assert_eq!(id["preferred_username"], admin.user_principal_name.as_str());

    // The admin user is Owner of the subscription.
    let token = body["access_token"].as_str().unwrap();
    let path = wid.sub_path("/resourcegroups?api-version=2021-04-01");
    let (status, _) = wid
        .raw(reqwest::Method::GET, &path, Some(token), None)
        .await;
    assert_eq!(status, 200);

    // The v1 endpoint answers in its shape, for a resource.
    let (status, v1) = wid
        .post_form(
            &format!("/{}/oauth2/token", wid.creds.tenant_id),
            &[
                ("grant_type", "password"),
                ("client_id", AZ),
                ("username", &admin.user_principal_name),
                ("password", &admin.password),
                ("resource", &wid.info().management_resource),
            ],
        )
        .await;
    assert_eq!(status, 200, "{v1}");
    assert!(v1["expires_in"].is_string() && v1["refresh_token"].is_string());
    wid.stop().await;
}

#[tokio::test]
async fn wrong_passwords_lock_the_account_for_a_while() {
    let clock = ManualClock::new(T0);
    let wid = Wid::start_in(temp_dir(), clock.clone()).await;
    let admin = admin_user(&wid);
    let tenant = wid.creds.tenant_id.clone();
    let (status, body) = wid
        .password(&tenant, "nobody@wid.localhost", "Whatever-1")
        .await;
    assert_eq!(
        (status, code(&body), body["error"].as_str()),
        (400, 50034, Some("invalid_grant"))
    );
    for _ in 0..10 {
        let (status, body) = wid
            .password(&tenant, &admin.user_principal_name, "Wrong-1a")
            .await;
        assert_eq!((status, code(&body)), (400, 50126), "{body}");
    }
    let (_, body) = wid
        .password(&tenant, &admin.user_principal_name, &admin.password)
        .await;
    assert_eq!(
        code(&body),
        50053,
        "the right password is refused while locked"
    );
    clock.advance(wid_core::password::LOCKOUT_SECS);
    let (status, body) = wid
        .password(&tenant, &admin.user_principal_name, &admin.password)
        .await;
    assert_eq!(status, 200, "{body}");
    let user = store(&wid)
        .await
        .user_by_object_id(&tenant, &admin.object_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        user.sign_in,
        SignInState::default(),
        "a sign-in clears the count"
    );
    wid.stop().await;
}

#[tokio::test]
async fn refresh_tokens_rotate_expire_and_replay_revokes_the_family() {
    let clock = ManualClock::new(T0);
    let wid = Wid::start_in(temp_dir(), clock.clone()).await;
    let admin = admin_user(&wid);
    let (_, body) = wid
        .password("common", &admin.user_principal_name, &admin.password)
        .await;
    let rt1 = body["refresh_token"].as_str().unwrap().to_owned();
    let vault_scope = format!(
        "https://vault.{}:{}/.default",
        wid.info().dns_suffix,
        wid.server.as_ref().unwrap().local_addr.port()
    );
    let (status, body) = wid.refresh(&rt1, &vault_scope).await;
    assert_eq!(status, 200, "{body}");
    let at = claims(body["access_token"].as_str().unwrap());
    assert_eq!(at["oid"], admin.object_id.as_str());
    assert!(at["aud"].as_str().unwrap().starts_with("https://vault."));
    let rt2 = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);

    let (status, body) = wid.refresh(&rt1, &wid.arm_scope()).await;
    assert_eq!((status, code(&body)), (400, 70000), "replay: {body}");
    let (_, body) = wid.refresh(&rt2, &wid.arm_scope()).await;
    assert_eq!(code(&body), 50173, "the family is revoked: {body}");

    // A new session expires after 90 days unused, not before.
    let (_, body) = wid
        .password("organizations", &admin.user_principal_name, &admin.password)
        .await;
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    clock.advance(wid_core::session::REFRESH_INACTIVITY_SECS - 10);
    let (status, body) = wid.refresh(&rt, &wid.arm_scope()).await;
    assert_eq!(status, 200, "{body}");
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    clock.advance(wid_core::session::REFRESH_INACTIVITY_SECS);
    let (status, body) = wid.refresh(&rt, &wid.arm_scope()).await;
    assert_eq!((status, code(&body)), (400, 70008), "{body}");
    wid.stop().await;
}

#[tokio::test]
async fn one_users_tokens_never_act_as_another_and_disabled_users_are_refused() {
    let wid = Wid::start().await;
    let admin = admin_user(&wid);
    let second = add_user(&wid, "second@wid.localhost", "Second-pass-1").await;
    let tenant = wid.creds.tenant_id.clone();
    let (_, body) = wid
        .password(&tenant, "second@wid.localhost", "Second-pass-1")
        .await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&token)["oid"], second.object_id.as_str());
    // The second user holds no role: ARM refuses what the admin may do.
    let path = wid.sub_path("/resourcegroups?api-version=2021-04-01");
    let (status, _) = wid
        .raw(reqwest::Method::GET, &path, Some(&token), None)
        .await;
    assert_eq!(status, 403);
    // The second user's refresh token, sent with the admin's name, is still the second user's.
    let scope = wid.arm_scope();
    let (status, body) = wid
        .post_form(
            &format!("/{tenant}/oauth2/v2.0/token"),
            &[
                ("grant_type", "refresh_token"),
                ("client_id", AZ),
                ("refresh_token", &rt),
                ("username", &admin.user_principal_name),
                ("password", &admin.password),
                ("scope", &scope),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["oid"],
        second.object_id.as_str()
    );
    let rt = body["refresh_token"].as_str().unwrap().to_owned();

    let changes = wid_store::UserChanges {
        account_enabled: Some(false),
        ..Default::default()
    };
    store(&wid)
        .await
        .update_user(&tenant, &second.object_id, &changes)
        .await
        .unwrap();
    let (_, body) = wid
        .password(&tenant, "second@wid.localhost", "Second-pass-1")
        .await;
    assert_eq!(code(&body), 50057, "{body}");
    let (_, body) = wid
        .password(&tenant, "second@wid.localhost", "Wrong-pass-1")
        .await;
    assert_eq!(
        code(&body),
        50126,
        "a disabled account does not tell a wrong password apart"
    );
    let (_, body) = wid.refresh(&rt, &scope).await;
    assert_eq!(code(&body), 50057, "{body}");
    wid.stop().await;
}

async fn poll(wid: &Wid, tenant: &str, device_code: &str) -> (u16, Value) {
    wid.post_form(
        &format!("/{tenant}/oauth2/v2.0/token"),
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", AZ),
            ("device_code", device_code),
        ],
    )
    .await
}

/// The hidden `name`'s value in a page's form.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
}

#[tokio::test]
async fn device_code_flow_through_the_verification_page() {
    let clock = ManualClock::new(T0);
    let wid = Wid::start_in(temp_dir(), clock.clone()).await;
    let admin = admin_user(&wid);
    let tenant = wid.creds.tenant_id.clone();
    let scope = wid.arm_scope();
    let (status, flow) = wid
        .post_form(
            "/organizations/oauth2/v2.0/devicecode",
            &[("client_id", AZ), ("scope", &scope)],
        )
        .await;
    assert_eq!(status, 200, "{flow}");
    let device_code = flow["device_code"].as_str().unwrap().to_owned();
    let user_code = flow["user_code"].as_str().unwrap().to_owned();
    assert_eq!(
        flow["verification_uri"],
        format!("{}/devicelogin", wid.info().url)
    );
    let (_, body) = poll(&wid, &tenant, &device_code).await;
    assert_eq!(
        (body["error"].as_str(), code(&body)),
        (Some("authorization_pending"), 70016)
    );

    let browser = wid.client.http().clone();
    let url = wid.client.url("/devicelogin");
    let first = browser.get(url.clone()).send().await.unwrap();
    let set_cookie = first.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let html = first.text().await.unwrap();
    assert!(html.contains("<label for=\"user_code\">"));
    let post = |form: Vec<(&'static str, String)>, cookie: Option<String>| {
        let mut req = browser.post(url.clone()).form(&form);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let csrf = hidden(&html, "csrf");
    // Without the cookie, or with another step's token, the form is refused.
    let (status, _) = post(
        vec![
            ("step", "code".into()),
            ("csrf", csrf.clone()),
            ("user_code", user_code.clone()),
        ],
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = post(
        vec![
            ("step", "signin".into()),
            ("csrf", csrf.clone()),
            ("user_code", user_code.clone()),
        ],
        Some(cookie.clone()),
    )
    .await;
    assert_eq!(status, 403);
    let (status, html) = post(
        vec![
            ("step", "code".into()),
            ("csrf", csrf),
            ("user_code", user_code.to_lowercase()),
        ],
        Some(cookie.clone()),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Microsoft Azure CLI") && html.contains("type=\"password\""),
        "{html}"
    );
    let csrf = hidden(&html, "csrf");
    let (_, html) = post(
        vec![
            ("step", "signin".into()),
            ("csrf", csrf.clone()),
            ("user_code", user_code.clone()),
            ("username", admin.user_principal_name.clone()),
            ("password", "Wrong-pass-1".into()),
        ],
        Some(cookie.clone()),
    )
    .await;
    assert!(html.contains("incorrect"), "{html}");
    assert!(!html.contains("Wrong-pass-1"), "a password is never echoed");
    let (_, html) = post(
        vec![
            ("step", "signin".into()),
            ("csrf", csrf),
            ("user_code", user_code.clone()),
            ("username", admin.user_principal_name.clone()),
            ("password", admin.password.clone()),
        ],
        Some(cookie.clone()),
    )
    .await;
    let proof = hidden(&html, "proof");
    let csrf = hidden(&html, "csrf");
    // The proof is bound to this browser: a second browser, signed in on its own, cannot
    // confirm with the first one's proof.
    let other_cookie = format!("__Host-wid-dl={}", "A".repeat(43));
    let other = browser
        .get(url.clone())
        .header("cookie", other_cookie.clone())
        .send()
        .await
        .unwrap();
    let other_csrf = hidden(&other.text().await.unwrap(), "csrf");
    let (_, html) = post(
        vec![
            ("step", "code".into()),
            ("csrf", other_csrf),
            ("user_code", user_code.clone()),
        ],
        Some(other_cookie.clone()),
    )
    .await;
    let (_, html) = post(
        vec![
            ("step", "signin".into()),
            ("csrf", hidden(&html, "csrf")),
            ("user_code", user_code.clone()),
            ("username", admin.user_principal_name.clone()),
            ("password", admin.password.clone()),
        ],
        Some(other_cookie.clone()),
    )
    .await;
    let (status, _) = post(
        vec![
            ("step", "confirm".into()),
            ("csrf", hidden(&html, "csrf")),
            ("user_code", user_code.clone()),
            ("proof", proof.clone()),
            ("decision", "continue".into()),
        ],
        Some(other_cookie),
    )
    .await;
    assert_eq!(status, 403);
    let (status, html) = post(
        vec![
            ("step", "confirm".into()),
            ("csrf", csrf),
            ("user_code", user_code.clone()),
            ("proof", proof),
            ("decision", "continue".into()),
        ],
        Some(cookie.clone()),
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("signed in"), "{html}");

    let (status, body) = poll(&wid, &tenant, &device_code).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["oid"],
        admin.object_id.as_str()
    );
    let (_, body) = poll(&wid, &tenant, &device_code).await;
    assert_eq!(code(&body), 70018, "a device code is redeemed once");

    // An unconfirmed code expires.
    let (_, flow) = wid
        .post_form(
            "/organizations/oauth2/v2.0/devicecode",
            &[("client_id", AZ), ("scope", &scope)],
        )
        .await;
    clock.advance(wid_core::session::DEVICE_CODE_LIFETIME_SECS);
    let (_, body) = wid
        .post_form(
            &format!("/{tenant}/oauth2/v2.0/token"),
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", AZ),
                ("device_code", flow["device_code"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(
        (body["error"].as_str(), code(&body)),
        (Some("expired_token"), 70019)
    );
    wid.stop().await;
}

#[tokio::test]
async fn bootstrap_admin_user_survives_restarts() {
    let wid = Wid::start().await;
    let first = admin_user(&wid);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(wid.dir.join("admin-user.json"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let (dir, clock) = wid.stop().await;
    let wid = Wid::start_in(dir, clock).await;
    let again = admin_user(&wid);
    assert_eq!(
        (first.object_id, first.password),
        (again.object_id, again.password)
    );
    wid.stop().await;
}

/// The admin user is the directory's Global Administrator: with its own delegated Graph token it
/// creates a user and, by resetting that user's password, ends the user's sessions.
#[tokio::test]
async fn the_admin_user_administers_the_directory_and_a_reset_ends_sessions() {
    let wid = Wid::start_in(temp_dir(), ManualClock::new(T0)).await;
    let admin = admin_user(&wid);
    let graph_scope = format!("{}.default offline_access", wid.graph_resource());
    let (_, body) = wid
        .password("organizations", &admin.user_principal_name, &admin.password)
        .await;
    let (status, body) = wid
        .refresh(body["refresh_token"].as_str().unwrap(), &graph_scope)
        .await;
    assert_eq!(status, 200, "{body}");
    let admin_graph = body["access_token"].as_str().unwrap().to_owned();
    let upn = "carol@wid.localhost";
    let (status, carol) = wid
        .raw(
            reqwest::Method::POST,
            "/v1.0/users",
            Some(&admin_graph),
            Some(
                serde_json::json!({
                    "accountEnabled": true, "displayName": "Carol", "mailNickname": "carol",
                    "userPrincipalName": upn,
                    "passwordProfile": {"password": "First-Passw0rd"},
                })
                .to_string()
                .into_bytes(),
            ),
        )
        .await;
    assert_eq!(status, 201, "{carol}");
    let (status, body) = wid.password("common", upn, "First-Passw0rd").await;
    assert_eq!(status, 200, "{body}");
    let carol_refresh = body["refresh_token"].as_str().unwrap().to_owned();

    let (status, body) = wid
        .raw(
            reqwest::Method::PATCH,
            &format!("/v1.0/users/{}", carol["id"].as_str().unwrap()),
            Some(&admin_graph),
            Some(
                serde_json::json!({"passwordProfile": {"password": "Second-Passw0rd"}})
                    .to_string()
                    .into_bytes(),
            ),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = wid.refresh(&carol_refresh, &wid.arm_scope()).await;
    assert_eq!(
        (status, code(&body)),
        (400, 50173),
        "revoked by the reset: {body}"
    );
    let (status, _) = wid.password("common", upn, "First-Passw0rd").await;
    assert_eq!(status, 400, "the old password is gone");
    let (status, body) = wid.password("common", upn, "Second-Passw0rd").await;
    assert_eq!(status, 200, "{body}");
    wid.stop().await;
}
