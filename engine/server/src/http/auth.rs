//! Who is calling the HTTP API: the same users and roles as pg-wire, by HTTP basic
//! authentication (checked against the user's SCRAM verifier) or by a bearer token that
//! `POST /api/auth/token` hands out (HMAC-SHA256-signed with `api_token_secret`, valid
//! `api_token_hours`). Browsers' WebSocket clients, which cannot set headers, may pass the
//! token as `?access_token=`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use spirit_core::config::Role;
use subtle::ConstantTimeEq;

use super::HttpState;
use super::error::ApiError;
use crate::pg::auth::Users;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user name.
    pub user: String,
    /// Their role.
    pub role: Role,
}

impl Caller {
    /// Refuses analysts: `what` needs the admin role.
    pub fn require_admin(&self, what: &str) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Analyst => Err(ApiError::forbidden(format!(
                "permission denied: {what} needs the admin role, and {} is an analyst",
                self.user
            ))),
        }
    }
}

/// Signs and checks bearer tokens; remembers passwords that checked out, so basic
/// authentication does not run PBKDF2 on every request.
pub struct Authenticator {
    users: Arc<Users>,
    key: Vec<u8>,
    lifetime_hours: u64,
    verified: Mutex<HashMap<[u8; 32], Role>>,
}

/// Passwords remembered at most (the memory is cleared when full).
const VERIFIED_MAX: usize = 1024;

impl Authenticator {
    /// Checks against `users`, signing with `secret` (random when `None`).
    pub fn new(users: Arc<Users>, secret: Option<&str>, lifetime_hours: u64) -> Self {
        let key = match secret {
            Some(secret) => secret.as_bytes().to_vec(),
            None => rand::random::<[u8; 32]>().to_vec(),
        };
        Self {
            users,
            key,
            lifetime_hours: lifetime_hours.max(1),
            verified: Mutex::default(),
        }
    }

    /// A token for `user`, and when it expires (Unix seconds).
    pub fn issue(&self, user: &str) -> (String, i64) {
        let expires = chrono::Utc::now().timestamp()
            + i64::try_from(self.lifetime_hours * 3600).unwrap_or(i64::MAX / 2);
        let payload = format!("{}.{expires}", URL_SAFE_NO_PAD.encode(user));
        let signature = URL_SAFE_NO_PAD.encode(self.sign(&payload));
        (format!("spirit.{payload}.{signature}"), expires)
    }

    fn sign(&self, payload: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(payload.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The caller a bearer token stands for.
    pub fn check_token(&self, token: &str) -> Result<Caller, ApiError> {
        let invalid = || {
            ApiError::unauthorized(
                "invalid bearer token: get a new one with POST /api/auth/token (basic \
                 authentication)",
            )
        };
        let rest = token.strip_prefix("spirit.").ok_or_else(invalid)?;
        let (payload, signature) = rest.rsplit_once('.').ok_or_else(invalid)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| invalid())?;
        if !bool::from(self.sign(payload).as_slice().ct_eq(&signature)) {
            return Err(invalid());
        }
        let (user, expires) = payload.split_once('.').ok_or_else(invalid)?;
        let expires: i64 = expires.parse().map_err(|_| invalid())?;
        if expires < chrono::Utc::now().timestamp() {
            return Err(ApiError::unauthorized(
                "the bearer token has expired: get a new one with POST /api/auth/token",
            ));
        }
        let user = String::from_utf8(URL_SAFE_NO_PAD.decode(user).map_err(|_| invalid())?)
            .map_err(|_| invalid())?;
        let role = self.users.role(&user).ok_or_else(invalid)?;
        Ok(Caller { user, role })
    }

    /// The caller basic credentials `user:password` stand for.
    pub fn check_password(&self, user: &str, password: &str) -> Result<Caller, ApiError> {
        let digest: [u8; 32] = Sha256::new()
            .chain_update(user.as_bytes())
            .chain_update([0])
            .chain_update(password.as_bytes())
            .finalize()
            .into();
        if let Some(role) = self.verified.lock().expect("auth lock").get(&digest) {
            return Ok(Caller {
                user: user.to_string(),
                role: *role,
            });
        }
        let role = self.users.check_password(user, password).ok_or_else(|| {
            ApiError::unauthorized(format!(
                "password authentication failed for user \"{user}\""
            ))
        })?;
        let mut verified = self.verified.lock().expect("auth lock");
        if verified.len() >= VERIFIED_MAX {
            verified.clear();
        }
        verified.insert(digest, role);
        Ok(Caller {
            user: user.to_string(),
            role,
        })
    }

    /// The caller of a request with these headers and query string.
    pub fn caller(&self, parts: &Parts) -> Result<Caller, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|h| h.to_str().ok());
        if let Some(header) = header {
            let (scheme, value) = header.split_once(' ').unwrap_or((header, ""));
            return match scheme.to_ascii_lowercase().as_str() {
                "bearer" => self.check_token(value.trim()),
                "basic" => {
                    let decoded = STANDARD
                        .decode(value.trim())
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .ok_or_else(|| ApiError::unauthorized("malformed basic credentials"))?;
                    let (user, password) = decoded.split_once(':').ok_or_else(|| {
                        ApiError::unauthorized("malformed basic credentials (user:password)")
                    })?;
                    self.check_password(user, password)
                }
                _ => Err(ApiError::unauthorized(
                    "unsupported Authorization scheme: use Basic or Bearer",
                )),
            };
        }
        let token = parts.uri.query().and_then(|q| {
            q.split('&')
                .find_map(|pair| pair.strip_prefix("access_token="))
        });
        match token {
            Some(token) => self.check_token(token),
            None => Err(ApiError::unauthorized(
                "authentication required: send Authorization: Basic (a user from spirit.toml, \
                 or spirit/spirit on the demo) or Bearer <token from POST /api/auth/token>",
            )),
        }
    }
}

impl FromRequestParts<Arc<HttpState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<HttpState>,
    ) -> Result<Self, Self::Rejection> {
        state.auth.caller(parts)
    }
}
