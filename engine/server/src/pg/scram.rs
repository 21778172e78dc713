//! SCRAM-SHA-256 (RFC 5802, RFC 7677) on the server side, against stored verifiers.
//!
//! Passwords are kept as PostgreSQL keeps them in `pg_authid.rolpassword`:
//! `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. The verifier proves a client
//! knows the password without the server holding the password or anything a client could log
//! in with. pgwire's SCRAM handler needs the salted password itself (which is enough to log
//! in), so the exchange is done here; the verifier format is PostgreSQL's, so a verifier taken
//! from a PostgreSQL server works unchanged. Verifiers are made with postgres-protocol, the
//! same code tokio-postgres uses.
//!
//! Channel binding (SCRAM-SHA-256-PLUS) is not offered; clients with TLS then send the `y`
//! flag, which is checked against what they send in their final message.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The mechanism name clients select.
pub const MECHANISM: &str = "SCRAM-SHA-256";

/// A stored password verifier.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    iterations: u32,
    salt: Vec<u8>,
    stored_key: [u8; 32],
    server_key: [u8; 32],
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Display for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            STANDARD.encode(&self.salt),
            STANDARD.encode(self.stored_key),
            STANDARD.encode(self.server_key)
        )
    }
}

impl Verifier {
    /// A new verifier of `password` with a random salt and PostgreSQL's 4096 iterations.
    pub fn new(password: &str) -> Self {
        Self::parse(&postgres_protocol::password::scram_sha_256(
            password.as_bytes(),
        ))
        .expect("postgres-protocol writes well-formed verifiers")
    }

    /// Parses PostgreSQL's verifier format; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let malformed = || {
            "is not a SCRAM-SHA-256 verifier (expected \
             SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>, as `spirit user add` \
             writes)"
                .to_string()
        };
        let rest = text.strip_prefix("SCRAM-SHA-256$").ok_or_else(malformed)?;
        let (params, keys) = rest.split_once('$').ok_or_else(malformed)?;
        let (iterations, salt) = params.split_once(':').ok_or_else(malformed)?;
        let (stored_key, server_key) = keys.split_once(':').ok_or_else(malformed)?;
        let iterations: u32 = iterations.parse().map_err(|_| malformed())?;
        if iterations == 0 {
            return Err(malformed());
        }
        let key = |b64: &str| -> Result<[u8; 32], String> {
            STANDARD
                .decode(b64)
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or_else(malformed)
        };
        Ok(Self {
            iterations,
            salt: STANDARD.decode(salt).map_err(|_| malformed())?,
            stored_key: key(stored_key)?,
            server_key: key(server_key)?,
        })
    }

    /// Whether `password` is the one this verifier was made from (for HTTP basic
    /// authentication, which sends the password itself).
    pub fn verify_password(&self, password: &str) -> bool {
        let salted = salted_password(password.as_bytes(), &self.salt, self.iterations);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key: [u8; 32] = Sha256::digest(client_key).into();
        bool::from(stored_key.ct_eq(&self.stored_key))
    }

    /// A verifier no password matches, for unknown users: the exchange looks the same as for a
    /// real user and ends with the same "password authentication failed".
    pub fn impossible() -> Self {
        Self {
            iterations: 4096,
            salt: rand::random::<[u8; 16]>().to_vec(),
            stored_key: rand::random(),
            server_key: rand::random(),
        }
    }
}

/// The server's state between its first message and the client's final one.
#[derive(Debug)]
pub struct Exchange {
    verifier: Verifier,
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

/// Why an exchange failed.
#[derive(Debug, PartialEq, Eq)]
pub enum ScramError {
    /// The client's message does not follow the protocol.
    Protocol(String),
    /// The proof does not match: wrong password (or unknown user).
    WrongPassword,
}

impl Exchange {
    /// Answers the client-first message (`n,,n=user,r=nonce`) for a user with `verifier`:
    /// returns the exchange state and the server-first message.
    pub fn start(verifier: Verifier, client_first: &str) -> Result<(Self, String), ScramError> {
        let protocol = |m: &str| ScramError::Protocol(m.to_string());
        let (gs2_header, client_first_bare) = split_gs2_header(client_first)
            .ok_or_else(|| protocol("malformed SCRAM client-first message"))?;
        if gs2_header.starts_with('p') {
            return Err(protocol(
                "channel binding (SCRAM-SHA-256-PLUS) is not supported by this server",
            ));
        }
        let client_nonce = attributes(client_first_bare)
            .find_map(|(k, v)| (k == 'r').then_some(v))
            .filter(|n| !n.is_empty())
            .ok_or_else(|| protocol("SCRAM client-first message has no nonce"))?;
        let nonce = format!(
            "{client_nonce}{}",
            STANDARD.encode(rand::random::<[u8; 18]>())
        );
        let server_first = format!(
            "r={nonce},s={},i={}",
            STANDARD.encode(&verifier.salt),
            verifier.iterations
        );
        let exchange = Self {
            verifier,
            gs2_header: gs2_header.to_string(),
            client_first_bare: client_first_bare.to_string(),
            server_first: server_first.clone(),
            nonce,
        };
        Ok((exchange, server_first))
    }

    /// Checks the client-final message (`c=…,r=…,p=proof`); on success returns the
    /// server-final message (`v=signature`).
    pub fn finish(self, client_final: &str) -> Result<String, ScramError> {
        let protocol = |m: &str| ScramError::Protocol(m.to_string());
        let (without_proof, proof) = client_final
            .rsplit_once(",p=")
            .ok_or_else(|| protocol("SCRAM client-final message has no proof"))?;
        let proof = STANDARD
            .decode(proof)
            .ok()
            .and_then(|p| <[u8; 32]>::try_from(p).ok())
            .ok_or_else(|| protocol("SCRAM proof is not 32 bytes of base64"))?;
        let mut binding = None;
        let mut nonce = None;
        for (key, value) in attributes(without_proof) {
            match key {
                'c' => binding = Some(value),
                'r' => nonce = Some(value),
                _ => {}
            }
        }
        if binding != Some(STANDARD.encode(&self.gs2_header).as_str()) {
            return Err(protocol("SCRAM channel binding does not match"));
        }
        if nonce != Some(self.nonce.as_str()) {
            return Err(protocol("SCRAM nonce does not match"));
        }
        let auth_message = format!(
            "{},{},{without_proof}",
            self.client_first_bare, self.server_first
        );
        let client_signature = hmac(&self.verifier.stored_key, auth_message.as_bytes());
        let mut client_key = [0u8; 32];
        for (k, (p, s)) in client_key
            .iter_mut()
            .zip(proof.iter().zip(client_signature.iter()))
        {
            *k = p ^ s;
        }
        let stored_key: [u8; 32] = Sha256::digest(client_key).into();
        if !bool::from(stored_key.ct_eq(&self.verifier.stored_key)) {
            return Err(ScramError::WrongPassword);
        }
        let server_signature = hmac(&self.verifier.server_key, auth_message.as_bytes());
        Ok(format!("v={}", STANDARD.encode(server_signature)))
    }
}

/// `Hi(password, salt, iterations)` of RFC 5802: PBKDF2 with HMAC-SHA-256.
fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut first = salt.to_vec();
    first.extend_from_slice(&1u32.to_be_bytes());
    let mut u = hmac(password, &first);
    let mut result = u;
    for _ in 1..iterations {
        u = hmac(password, &u);
        for (r, b) in result.iter_mut().zip(u) {
            *r ^= b;
        }
    }
    result
}

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Splits `gs2-header client-first-bare`; the header is `n,,`, `y,,` or `p=…,` with an
/// optional `a=authzid`.
fn split_gs2_header(message: &str) -> Option<(&str, &str)> {
    let first = message.find(',')?;
    let second = first + 1 + message[first + 1..].find(',')?;
    Some((&message[..=second], &message[second + 1..]))
}

/// The `k=value` attributes of a SCRAM message.
fn attributes(message: &str) -> impl Iterator<Item = (char, &str)> {
    message.split(',').filter_map(|attr| {
        let mut chars = attr.chars();
        let key = chars.next()?;
        attr.get(1..)?.strip_prefix('=').map(|v| (key, v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the client side with postgres-protocol's SCRAM client (what tokio-postgres uses).
    fn login(verifier: &Verifier, password: &str) -> Result<(), ScramError> {
        use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};
        let mut client = ScramSha256::new(password.as_bytes(), ChannelBinding::unsupported());
        let client_first = String::from_utf8(client.message().to_vec()).unwrap();
        let (exchange, server_first) = Exchange::start(verifier.clone(), &client_first)?;
        client.update(server_first.as_bytes()).unwrap();
        let client_final = String::from_utf8(client.message().to_vec()).unwrap();
        let server_final = exchange.finish(&client_final)?;
        client
            .finish(server_final.as_bytes())
            .expect("the client accepts the server's signature");
        Ok(())
    }

    #[test]
    fn right_password_logs_in_and_the_server_proves_itself() {
        let verifier = Verifier::new("s3cret pass");
        assert_eq!(login(&verifier, "s3cret pass"), Ok(()));
    }

    #[test]
    fn wrong_password_and_unknown_user_fail_alike() {
        let verifier = Verifier::new("right");
        assert_eq!(login(&verifier, "wrong"), Err(ScramError::WrongPassword));
        assert_eq!(
            login(&Verifier::impossible(), "right"),
            Err(ScramError::WrongPassword)
        );
    }

    #[test]
    fn passwords_are_checked_against_the_verifier() {
        let verifier = Verifier::new("s3cret");
        assert!(verifier.verify_password("s3cret"));
        assert!(!verifier.verify_password("s3cret "));
        assert!(!Verifier::impossible().verify_password(""));
    }

    #[test]
    fn verifiers_round_trip_and_never_hold_the_password() {
        let text = postgres_protocol::password::scram_sha_256(b"hunter2");
        let verifier = Verifier::parse(&text).unwrap();
        assert_eq!(verifier.iterations, 4096);
        assert_eq!(verifier.to_string(), text);
        assert!(!text.contains("hunter2"));
        assert_eq!(login(&verifier, "hunter2"), Ok(()));
    }

    #[test]
    fn a_verifier_written_by_postgresql_logs_in() {
        // PostgreSQL 15.19 on this machine, for `CREATE ROLE r PASSWORD 'postgres'` with
        // password_encryption = scram-sha-256 (SELECT rolpassword FROM pg_authid).
        let text = "SCRAM-SHA-256$4096:OEKLvj1Z4zphbRMSbxQJQQ==$\
                    q2xxqM41gWj/ir4lRs3vk57XcsUzzYjvhDCq22kcD88=:\
                    Vb2qm2i/xgbfiaqobEtWjjop8sLhYq3JQbn3E6+ceFg=";
        let verifier = Verifier::parse(text).unwrap();
        assert_eq!(login(&verifier, "postgres"), Ok(()));
        assert_eq!(
            login(&verifier, "postgres "),
            Err(ScramError::WrongPassword)
        );
    }

    #[test]
    fn malformed_verifiers_are_refused_with_the_expected_format() {
        for text in [
            "secret",
            "SCRAM-SHA-256$x:c2FsdA==$a:b",
            "SCRAM-SHA-256$4096:c2FsdA==$YQ==:YQ==",
        ] {
            let err = Verifier::parse(text).unwrap_err();
            assert!(err.contains("SCRAM-SHA-256$<iterations>"), "{err}");
        }
    }

    #[test]
    fn a_tampered_nonce_is_a_protocol_error() {
        let (exchange, _) = Exchange::start(Verifier::new("x"), "n,,n=,r=abc").unwrap();
        let err = exchange
            .finish("c=biws,r=abcOTHER,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
            .unwrap_err();
        assert_eq!(
            err,
            ScramError::Protocol("SCRAM nonce does not match".into())
        );
    }
}
