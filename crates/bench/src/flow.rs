//! One complete app-approved login, as a browser, an app and an SP do it over HTTP:
//! PAR → authorize → user ID → choose the app → waiting page (binding code) → the app
//! lists and approves (device signature, PIN proof, binding code) → callback → token →
//! userinfo. Each step is timed; the first failure ends the flow with a named error.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::SigningKey;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use sesam_app::{AppClient, AppState};
use sesam_domain::OsRandom;
use sesam_domain::random::random_bytes;
use sha2::{Digest, Sha256};

use crate::population;
use crate::seed::Manifest;
use crate::stats::Samples;

/// What every flow shares.
pub struct Target {
    pub base: String,
    pub http: reqwest::Client,
    pub app: AppClient,
    pub manifest: Manifest,
    pub seed: [u8; 32],
    pub par_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
}

/// Why a flow stopped: the step and what happened there (`par: HTTP 503`,
/// `token: connection refused`), counted by kind in the report.
#[derive(Debug)]
pub struct FlowError {
    pub step: &'static str,
    pub kind: String,
}

impl FlowError {
    fn at(step: &'static str, kind: impl Into<String>) -> Self {
        Self {
            step,
            kind: kind.into(),
        }
    }

    pub fn label(&self) -> String {
        format!("{}: {}", self.step, self.kind)
    }
}

/// A network failure in words, without the URL (which would split the counts by flow).
fn network(step: &'static str, e: &reqwest::Error) -> FlowError {
    let kind = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        let mut source: &dyn std::error::Error = e;
        while let Some(next) = source.source() {
            source = next;
        }
        format!("network: {source}")
    };
    FlowError::at(step, kind)
}

struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
}

/// The browser's side: a cookie jar of its own and no redirects followed.
struct Browser<'a> {
    target: &'a Target,
    cookies: Vec<(String, String)>,
}

impl Browser<'_> {
    fn keep_cookies(&mut self, headers: &HeaderMap) {
        for c in headers.get_all(SET_COOKIE) {
            let Ok(c) = c.to_str() else { continue };
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            self.cookies.retain(|(name, _)| name != k);
            if !attrs.contains("Max-Age=0") {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
    }

    async fn send(
        &mut self,
        step: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<Answer, FlowError> {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let req = if cookie.is_empty() {
            req
        } else {
            req.header("cookie", cookie)
        };
        let r = req.send().await.map_err(|e| network(step, &e))?;
        self.keep_cookies(r.headers());
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = r.text().await.map_err(|e| network(step, &e))?;
        Ok(Answer {
            status,
            location,
            body,
        })
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.target.base)
        } else {
            path.to_owned()
        }
    }

    async fn get(&mut self, step: &'static str, path: &str) -> Result<Answer, FlowError> {
        let req = self.target.http.get(self.url(path));
        self.send(step, req).await
    }

    async fn post(
        &mut self,
        step: &'static str,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<Answer, FlowError> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let req = self
            .target
            .http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(step, req).await
    }
}

fn expect(step: &'static str, a: &Answer, status: u16) -> Result<(), FlowError> {
    if a.status == status {
        Ok(())
    } else {
        Err(FlowError::at(step, format!("HTTP {}", a.status)))
    }
}

fn redirect(step: &'static str, a: &Answer) -> Result<String, FlowError> {
    expect(step, a, 303)?;
    a.location
        .clone()
        .ok_or_else(|| FlowError::at(step, "a redirect without Location"))
}

/// A form field's value on a page.
fn field(step: &'static str, body: &str, name: &str) -> Result<String, FlowError> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&marker)
        .ok_or_else(|| FlowError::at(step, format!("no {name} field on the page")))?
        + marker.len();
    let end = body[start..]
        .find('"')
        .ok_or_else(|| FlowError::at(step, "a broken page"))?;
    Ok(body[start..start + end].to_owned())
}

/// The login the person just started: the newest of those waiting. An earlier login of
/// the same person that failed half-way (a node killed, the database away) waits until it
/// expires, and approving it with this login's binding code would be refused.
fn newest_login(list: Vec<sesam_app::PendingRequest>) -> Option<sesam_app::PendingRequest> {
    use time::format_description::well_known::Rfc3339;
    let expiry =
        |r: &sesam_app::PendingRequest| time::OffsetDateTime::parse(&r.expires_at, &Rfc3339).ok();
    // A later expiry is a later start (every login waits equally long).
    list.into_iter()
        .filter(|r| r.binding_required)
        .max_by_key(expiry)
}

fn binding_code(body: &str) -> Result<String, FlowError> {
    let marker = "data-testid=\"binding-code\">";
    let start = body
        .find(marker)
        .ok_or_else(|| FlowError::at("waiting_page", "no binding code on the page"))?
        + marker.len();
    body.get(start..start + 4)
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
        .ok_or_else(|| FlowError::at("waiting_page", "a binding code that is not 4 digits"))
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Sends an SP-side request and reads its JSON answer, which must come with `status`.
async fn json_step<T: serde::de::DeserializeOwned>(
    step: &'static str,
    req: reqwest::RequestBuilder,
    status: u16,
) -> Result<T, FlowError> {
    let r = req.send().await.map_err(|e| network(step, &e))?;
    if r.status().as_u16() != status {
        return Err(FlowError::at(step, format!("HTTP {}", r.status().as_u16())));
    }
    r.json().await.map_err(|e| network(step, &e))
}

/// Times one step into `samples`.
macro_rules! step {
    ($samples:expr, $index:expr, $body:expr) => {{
        let started = Instant::now();
        let out = $body;
        $samples.record($index, started.elapsed());
        out
    }};
}

/// Logs person `index` in; returns when the SP has the userinfo.
pub async fn login(
    target: &Arc<Target>,
    index: u64,
    samples: &mut Samples,
) -> Result<(), FlowError> {
    let m = &target.manifest;
    let mut browser = Browser {
        target,
        cookies: Vec::new(),
    };
    let verifier = URL_SAFE_NO_PAD.encode(random_bytes::<32>(&OsRandom));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let state = URL_SAFE_NO_PAD.encode(random_bytes::<16>(&OsRandom));
    let nonce = URL_SAFE_NO_PAD.encode(random_bytes::<16>(&OsRandom));

    // The SP pushes the request (PAR) and sends the browser to /authorize.
    let request_uri = step!(samples, 0, {
        let req = target
            .http
            .post(&target.par_endpoint)
            .basic_auth(&m.client_id, Some(&m.client_secret))
            .form(&[
                ("response_type", "code"),
                ("client_id", m.client_id.as_str()),
                ("redirect_uri", m.redirect_uri.as_str()),
                ("scope", "openid profile"),
                ("state", state.as_str()),
                ("nonce", nonce.as_str()),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ]);
        let par: sesam_api::oauth::PushedAuthorization = json_step("par", req, 201).await?;
        par.request_uri
    });
    let authorize = format!(
        "/authorize?client_id={}&request_uri={}",
        form_urlencoded::byte_serialize(m.client_id.as_bytes()).collect::<String>(),
        form_urlencoded::byte_serialize(request_uri.as_bytes()).collect::<String>()
    );
    let flow = step!(samples, 1, {
        let a = browser.get("authorize", &authorize).await?;
        redirect("authorize", &a)?
    });

    // The person gives their user ID and chooses the app.
    let csrf = step!(samples, 2, {
        let a = browser.get("user_id_page", &flow).await?;
        expect("user_id_page", &a, 200)?;
        field("user_id_page", &a.body, "csrf")?
    });
    let user_id = population::user_id(index);
    step!(samples, 3, {
        let a = browser
            .post(
                "user_id",
                &format!("{flow}/user-id"),
                &[("csrf", csrf.as_str()), ("user_id", user_id.as_str())],
            )
            .await?;
        redirect("user_id", &a)?
    });
    let csrf = step!(samples, 4, {
        let a = browser.get("choice_page", &flow).await?;
        expect("choice_page", &a, 200)?;
        field("choice_page", &a.body, "csrf")?
    });
    let wait = step!(samples, 5, {
        let a = browser
            .post(
                "choose_app",
                &format!("{flow}/app"),
                &[("csrf", csrf.as_str())],
            )
            .await?;
        redirect("choose_app", &a)?
    });
    let code = step!(samples, 6, {
        let a = browser.get("waiting_page", &wait).await?;
        expect("waiting_page", &a, 200)?;
        binding_code(&a.body)?
    });

    // The person's app: the request, then the approval with PIN and code.
    let app = app_state(target, index)?;
    let request = step!(samples, 7, {
        let list = target
            .app
            .requests(&app, &OsRandom)
            .await
            .map_err(|e| FlowError::at("app_requests", app_error(&e)))?;
        newest_login(list)
            .ok_or_else(|| FlowError::at("app_requests", "the login is not in the app"))?
    });
    step!(samples, 8, {
        target
            .app
            .approve_request(&app, &request, &m.pin, Some(&code), &OsRandom)
            .await
            .map_err(|e| FlowError::at("app_approve", app_error(&e)))?
    });

    // The browser goes on to the SP with the code; the SP redeems it.
    let callback = step!(samples, 9, {
        let a = browser.get("callback", &wait).await?;
        redirect("callback", &a)?
    });
    if query_param(&callback, "state").as_deref() != Some(state.as_str()) {
        return Err(FlowError::at("callback", "the state came back changed"));
    }
    let code = query_param(&callback, "code")
        .ok_or_else(|| FlowError::at("callback", "no code in the redirect"))?;
    let access_token = step!(samples, 10, {
        let req = target
            .http
            .post(&target.token_endpoint)
            .basic_auth(&m.client_id, Some(&m.client_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", m.redirect_uri.as_str()),
                ("code_verifier", verifier.as_str()),
            ]);
        let tokens: sesam_api::oauth::TokenResponse = json_step("token", req, 200).await?;
        if tokens.id_token.is_empty() {
            return Err(FlowError::at("token", "no ID token"));
        }
        tokens.access_token
    });
    step!(samples, 11, {
        let req = target
            .http
            .get(&target.userinfo_endpoint)
            .bearer_auth(&access_token);
        let v: serde_json::Value = json_step("userinfo", req, 200).await?;
        if v["sub"].as_str().is_none() {
            return Err(FlowError::at("userinfo", "no sub"));
        }
    });
    Ok(())
}

fn app_state(target: &Target, index: u64) -> Result<AppState, FlowError> {
    let key: SigningKey = population::device_key(&target.seed, index);
    let pin_key = target
        .manifest
        .pin_key(index)
        .map_err(|e| FlowError::at("app", e.to_string()))?;
    Ok(AppState::in_memory(
        &target.base,
        &key,
        population::device_id(&target.seed, index),
        &population::user_id(index),
        &pin_key,
    ))
}

fn app_error(e: &sesam_app::AppError) -> String {
    match e {
        sesam_app::AppError::Server { status, code, .. } => format!("HTTP {status} {code}"),
        sesam_app::AppError::Network(m) if m.contains("timed out") => "timed out".into(),
        sesam_app::AppError::Network(_) => "cannot connect".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn login(expires_at: &str, binding_required: bool) -> sesam_app::PendingRequest {
        sesam_app::PendingRequest {
            id: Uuid::now_v7(),
            kind: "approval".into(),
            text: "Log på hos Bench Bank".into(),
            expires_at: expires_at.into(),
            new_device_key: None,
            device_name: None,
            pairing_code_required: false,
            client_id: Some("sp".into()),
            sp_name: Some("Bench Bank".into()),
            action: Some("login".into()),
            binding_required,
            level: None,
        }
    }

    /// A login left waiting by an earlier failed attempt is not the one approved: the
    /// newest is, also when the times differ only in fractions of a second (written
    /// without trailing zeros, so their text does not sort by time).
    #[test]
    fn the_newest_waiting_login_is_approved() {
        let list = vec![
            login("2026-12-07T15:00:00.5Z", true),
            login("2026-12-07T15:02:00Z", true),
            login("2026-12-07T15:02:00.25Z", true),
            login("2026-12-07T15:03:00Z", false),
        ];
        let ids: Vec<Uuid> = list.iter().map(|r| r.id).collect();
        assert_eq!(newest_login(list).map(|r| r.id), Some(ids[2]));
        assert!(newest_login(vec![login("2026-12-07T15:03:00Z", false)]).is_none());
    }
}
