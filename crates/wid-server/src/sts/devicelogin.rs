//! The device-code verification page (`{public_url}/devicelogin`), server-rendered: the user
//! enters the code, signs in with UPN and password (the same check and throttle as the
//! password grant), and confirms the application. No scripts, no external assets.
//!
//! Forgery: every form carries a token derived from a random cookie (`__Host-wid-dl`,
//! `Secure; HttpOnly; SameSite=Strict`) and the form's step, so a form posted from another
//! site or another browser is refused. The confirmation form also carries a proof of the
//! sign-in (signed with the tenant's key, bound to the cookie, the code and the user, valid
//! five minutes), so confirming needs the password to have been given in this browser.

use super::users::{check_password, public_client};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use subtle::ConstantTimeEq;
use wid_core::session::{self, DeviceCode, DeviceCodeState};

const COOKIE: &str = "__Host-wid-dl";
/// Bounds of what a person types: a UPN and a password are at most 256 characters in Entra.
const MAX_FIELD: usize = 256;
/// The forms' body limit (the route's layer uses it too).
pub const MAX_FORM: usize = 8 * 1024;
const PROOF_SECS: i64 = 300;

#[derive(serde::Deserialize, Default)]
struct Form {
    step: Option<String>,
    csrf: Option<String>,
    user_code: Option<String>,
    username: Option<String>,
    password: Option<String>,
    proof: Option<String>,
    decision: Option<String>,
}

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Form")
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Proof {
    aud: String,
    exp: i64,
    /// The user code, the user, and a hash of the browser's cookie.
    uc: String,
    oid: String,
    bnd: String,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The form token of `step` for the browser holding `cookie`.
fn form_token(cookie: &str, step: &str) -> String {
    b64(&wid_core::secret::hash(&format!(
        "wid devicelogin\n{step}\n{cookie}"
    )))
}

fn cookie_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| v.len() == 43)
}

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn page(status: StatusCode, cookie: Option<&str>, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} - wid</title>\
         <style>body{{font-family:sans-serif;max-width:28em;margin:4em auto;padding:0 1em}}\
         label{{display:block;margin-top:1em}}input{{width:100%;padding:.4em;box-sizing:border-box}}\
         button{{margin-top:1.2em;padding:.5em 1.5em}}.error{{color:#a00}}</style></head>\
         <body><h1>{title}</h1>{body}</body></html>\n",
        title = escape(title),
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    if let Some(cookie) = cookie {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{COOKIE}={cookie}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=1800"
        )) {
            headers.insert(header::SET_COOKIE, v);
        }
    }
    response
}

fn error_line(message: Option<&str>) -> String {
    message.map_or_else(String::new, |m| {
        format!("<p class=\"error\" role=\"alert\">{}</p>", escape(m))
    })
}

fn code_page(cookie: &str, message: Option<&str>) -> String {
    format!(
        "<p>Enter the code displayed on your device or in your terminal.</p>{}\
         <form method=\"post\" action=\"/devicelogin\">\
         <input type=\"hidden\" name=\"step\" value=\"code\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label for=\"user_code\">Code</label>\
         <input id=\"user_code\" name=\"user_code\" autocomplete=\"off\" autofocus required maxlength=\"16\">\
         <button type=\"submit\" id=\"next\">Next</button></form>",
        error_line(message),
        form_token(cookie, "code"),
    )
}

fn signin_page(cookie: &str, code: &DeviceCode, message: Option<&str>, username: &str) -> String {
    format!(
        "<p>Sign in to <strong>{}</strong> on your device.</p>{}\
         <form method=\"post\" action=\"/devicelogin\">\
         <input type=\"hidden\" name=\"step\" value=\"signin\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <input type=\"hidden\" name=\"user_code\" value=\"{}\">\
         <label for=\"username\">User name (UPN)</label>\
         <input id=\"username\" name=\"username\" type=\"email\" autocomplete=\"username\" required maxlength=\"{MAX_FIELD}\" value=\"{}\">\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required maxlength=\"{MAX_FIELD}\">\
         <button type=\"submit\" id=\"signin\">Sign in</button></form>",
        escape(client_name(code)),
        error_line(message),
        form_token(cookie, "signin"),
        escape(&code.user_code),
        escape(username),
    )
}

fn confirm_page(cookie: &str, code: &DeviceCode, upn: &str, proof: &str) -> String {
    format!(
        "<p>Are you trying to sign in to <strong>{}</strong> as <strong>{}</strong>?</p>\
         <p>Only continue if you started this sign-in on your own device.</p>\
         <form method=\"post\" action=\"/devicelogin\">\
         <input type=\"hidden\" name=\"step\" value=\"confirm\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <input type=\"hidden\" name=\"user_code\" value=\"{}\">\
         <input type=\"hidden\" name=\"proof\" value=\"{}\">\
         <button type=\"submit\" name=\"decision\" value=\"continue\" id=\"continue\">Continue</button> \
         <button type=\"submit\" name=\"decision\" value=\"cancel\" id=\"cancel\">Cancel</button></form>",
        escape(client_name(code)),
        escape(upn),
        form_token(cookie, "confirm"),
        escape(&code.user_code),
        escape(proof),
    )
}

fn client_name(code: &DeviceCode) -> &'static str {
    public_client(&code.client_id).unwrap_or("an application")
}

pub async fn show(State(_state): State<AppState>, headers: HeaderMap) -> Response {
    let (cookie, set) = match cookie_of(&headers) {
        Some(c) => (c, false),
        None => match wid_core::secret::generate() {
            Ok(c) => (c, true),
            Err(_) => {
                return page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    "Sign-in failed",
                    "",
                )
            }
        },
    };
    page(
        StatusCode::OK,
        set.then_some(cookie.as_str()),
        "Enter code",
        &code_page(&cookie, None),
    )
}

pub async fn submit(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form: Form = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let Some(cookie) = cookie_of(&headers) else {
        return forbidden();
    };
    let step = form.step.as_deref().unwrap_or_default();
    let presented = form.csrf.as_deref().unwrap_or_default();
    if !bool::from(
        presented
            .as_bytes()
            .ct_eq(form_token(&cookie, step).as_bytes()),
    ) {
        return forbidden();
    }
    let too_long = [&form.user_code, &form.username, &form.password]
        .iter()
        .any(|f| f.as_ref().is_some_and(|v| v.chars().count() > MAX_FIELD));
    if too_long {
        return page(
            StatusCode::BAD_REQUEST,
            None,
            "Enter code",
            &code_page(&cookie, Some("That input is too long.")),
        );
    }
    let now = state.now();
    let code = match live_code(&state, form.user_code.as_deref(), now).await {
        Ok(Some(code)) => code,
        Ok(None) => {
            return page(
                StatusCode::OK,
                None,
                "Enter code",
                &code_page(
                    &cookie,
                    Some("That code didn't work. Check the code and try again."),
                ),
            )
        }
        Err(response) => return response,
    };
    match step {
        "code" => page(
            StatusCode::OK,
            None,
            "Sign in",
            &signin_page(&cookie, &code, None, ""),
        ),
        "signin" => signin(&state, &cookie, &code, &form, now).await,
        "confirm" => confirm(&state, &cookie, &code, &form, now).await,
        _ => forbidden(),
    }
}

fn forbidden() -> Response {
    page(
        StatusCode::FORBIDDEN,
        None,
        "Sign-in failed",
        "<p>This form has expired or did not come from this page. <a href=\"/devicelogin\">Start again</a>.</p>",
    )
}

/// The pending, unexpired device code a typed user code names.
async fn live_code(
    state: &AppState,
    typed: Option<&str>,
    now: i64,
) -> Result<Option<DeviceCode>, Response> {
    let Some(user_code) = typed.and_then(session::normalize_user_code) else {
        return Ok(None);
    };
    match state.store.device_code_by_user_code(&user_code).await {
        Ok(code) => Ok(code.filter(|c| {
            c.state == DeviceCodeState::Pending
                && now < c.expires_at
                && c.tenant_id.eq_ignore_ascii_case(&state.tenant.id)
        })),
        Err(e) => {
            tracing::error!(error = %e, "device code lookup failed");
            Err(page(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "Sign-in failed",
                "<p>Try again later.</p>",
            ))
        }
    }
}

async fn signin(
    state: &AppState,
    cookie: &str,
    code: &DeviceCode,
    form: &Form,
    now: i64,
) -> Response {
    let username = form.username.as_deref().unwrap_or_default();
    let password = form.password.as_deref().unwrap_or_default();
    if username.is_empty() || password.is_empty() {
        let body = signin_page(
            cookie,
            code,
            Some("Enter your user name and password."),
            username,
        );
        return page(StatusCode::OK, None, "Sign in", &body);
    }
    let user = match check_password(state, &state.tenant, username, password).await {
        Ok(user) => user,
        Err(e) => {
            let message = match e.code {
                50053 => {
                    "Your account is locked because of too many failed sign-ins. Try again later."
                }
                50057 => "Your account has been disabled.",
                50000 => "Something went wrong. Try again later.",
                _ => "Your account or password is incorrect.",
            };
            let body = signin_page(cookie, code, Some(message), username);
            return page(StatusCode::OK, None, "Sign in", &body);
        }
    };
    let proof = Proof {
        aud: audience(state),
        exp: now + PROOF_SECS,
        uc: code.user_code.clone(),
        oid: user.object_id.clone(),
        bnd: b64(&wid_core::secret::hash(cookie)),
    };
    let header = wid_jose::HeaderParams {
        typ: Some("JWT".to_owned()),
        kid: None,
        x5t: false,
    };
    match state.keys.get().signing(now).sign_jwt(&proof, &header) {
        Ok(signed) => page(
            StatusCode::OK,
            None,
            "Confirm",
            &confirm_page(cookie, code, &user.user_principal_name, &signed),
        ),
        Err(e) => {
            tracing::error!(error = %e, "signing failed");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "Sign-in failed",
                "<p>Try again later.</p>",
            )
        }
    }
}

fn audience(state: &AppState) -> String {
    format!("{}/devicelogin", state.cloud.public_url)
}

/// The user a confirmation's proof names, if it is wid's, fresh, for this code and browser.
fn proven_user(
    state: &AppState,
    cookie: &str,
    code: &DeviceCode,
    proof: &str,
    now: i64,
) -> Option<String> {
    let jwt = wid_jose::decode(proof).ok()?;
    let keys = state.keys.get();
    let key = keys.verifying(jwt.header.kid.as_deref()?)?;
    jwt.verify(key).ok()?;
    let claims: Proof = jwt.claims().ok()?;
    let binding = b64(&wid_core::secret::hash(cookie));
    let ok = claims.aud == audience(state)
        && now < claims.exp
        && claims.uc == code.user_code
        && bool::from(claims.bnd.as_bytes().ct_eq(binding.as_bytes()));
    ok.then_some(claims.oid)
}

async fn confirm(
    state: &AppState,
    cookie: &str,
    code: &DeviceCode,
    form: &Form,
    now: i64,
) -> Response {
    let Some(user_object_id) = form
        .proof
        .as_deref()
        .and_then(|p| proven_user(state, cookie, code, p, now))
    else {
        return forbidden();
    };
    let (next, title, text) = match form.decision.as_deref() {
        Some("continue") => (
            DeviceCodeState::Approved { user_object_id },
            "You're signed in",
            "You have signed in to the application on your device. You may now close this window.",
        ),
        _ => (
            DeviceCodeState::Declined,
            "Sign-in cancelled",
            "The application on your device was not signed in. You may now close this window.",
        ),
    };
    match state
        .store
        .swap_device_code_state(&code.code_hash, &DeviceCodeState::Pending, &next)
        .await
    {
        Ok(true) => page(
            StatusCode::OK,
            None,
            title,
            &format!("<p>{}</p>", escape(text)),
        ),
        Ok(false) => page(
            StatusCode::OK,
            None,
            "Enter code",
            &code_page(cookie, Some("That code was already used.")),
        ),
        Err(e) => {
            tracing::error!(error = %e, "device code update failed");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "Sign-in failed",
                "<p>Try again later.</p>",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_tokens_bind_cookie_and_step() {
        let a = form_token("cookie-a", "code");
        assert_eq!(a, form_token("cookie-a", "code"));
        assert_ne!(a, form_token("cookie-b", "code"));
        assert_ne!(a, form_token("cookie-a", "signin"));
    }

    #[test]
    fn cookies_and_escaping() {
        let mut headers = HeaderMap::new();
        let value = "x".repeat(43);
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=b; {COOKIE}={value}")).unwrap(),
        );
        assert_eq!(cookie_of(&headers).as_deref(), Some(value.as_str()));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("__Host-wid-dl=short"),
        );
        assert_eq!(cookie_of(&headers), None);
        assert_eq!(
            escape("<a href=\"x\">'&"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;"
        );
    }
}
