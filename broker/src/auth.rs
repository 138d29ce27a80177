//! Who may connect: the MQTT password is a JWT (HS256) signed with the deployment's key.
//!
//! The API signs these credentials (`smsgw-api sites create` for an agent, its own for each
//! replica); the broker checks them with the same key and no database (DESIGN §4, §6).
//! A token is accepted when its signature is right, it has not expired, its audience is
//! [`MQTT_AUDIENCE`] (an admin session token must never open a broker connection) and its
//! `sub` equals the client id, which must name an agent or an API replica. Binding the
//! token to the client id matters: rumqttd drops an existing session when another client
//! connects with the same id, so a token for one site must not be usable as another site.
//!
//! The front (module `front`) calls the check once, at CONNECT: a connection outlives the
//! expiry of its token. A refused client gets a CONNACK with the refusal's code.

use std::{fmt, str::FromStr};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use smsgw_shared::credentials::{MQTT_AUDIENCE, MqttClaims, MqttPrincipal};
use tracing::{info, warn};

use crate::metrics;

/// The shortest key accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 16;

/// Clock skew tolerated on `exp`, in seconds.
const LEEWAY_SECS: u64 = 30;

/// The HS256 key shared with the API; never shown in logs or `Debug` output.
#[derive(Clone)]
pub struct JwtSecret(Vec<u8>);

impl JwtSecret {
    /// Wraps a key; refuses keys shorter than [`MIN_SECRET_LEN`] bytes.
    pub fn new(key: impl Into<Vec<u8>>) -> Result<Self, WeakSecret> {
        let key = key.into();
        if key.len() < MIN_SECRET_LEN {
            return Err(WeakSecret);
        }
        Ok(Self(key))
    }

    /// The key bytes, for the verifier.
    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtSecret(***)")
    }
}

impl FromStr for JwtSecret {
    type Err = WeakSecret;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s.as_bytes())
    }
}

/// The key given is too short to sign credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the JWT secret must be at least {MIN_SECRET_LEN} bytes")]
pub struct WeakSecret;

/// Why a connection was refused; the label is a metric label too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The password is not a JWT, or its claims are missing or of the wrong type.
    #[error("the password is not a valid broker credential")]
    Malformed,
    /// Signed with another key (or tampered with).
    #[error("bad signature")]
    BadSignature,
    /// Signed with another algorithm than HS256.
    #[error("wrong algorithm")]
    WrongAlgorithm,
    /// Past its `exp`.
    #[error("expired")]
    Expired,
    /// Not yet valid (`nbf` in the future).
    #[error("not yet valid")]
    NotYetValid,
    /// Not a broker credential (e.g. an admin session token).
    #[error("wrong audience")]
    WrongAudience,
    /// The client id names neither an agent (`agent-{site}`) nor an API replica (`api-…`).
    #[error("client id names no agent or API replica")]
    UnknownClientId,
    /// The token belongs to another client id.
    #[error("client id does not match the token subject")]
    ClientIdMismatch,
}

impl Refusal {
    /// A short stable name, for logs and the `reason` metric label.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed",
            Refusal::BadSignature => "bad_signature",
            Refusal::WrongAlgorithm => "wrong_algorithm",
            Refusal::Expired => "expired",
            Refusal::NotYetValid => "not_yet_valid",
            Refusal::WrongAudience => "wrong_audience",
            Refusal::UnknownClientId => "unknown_client_id",
            Refusal::ClientIdMismatch => "client_id_mismatch",
        }
    }
}

/// An accepted credential: who the client is and the claims of its token (the front keeps
/// them with the live connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Who the client id names.
    pub principal: MqttPrincipal,
    /// The token's claims.
    pub claims: MqttClaims,
}

/// Checks broker credentials; cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    key: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    /// A verifier for tokens signed with `secret`.
    pub fn new(secret: &JwtSecret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[MQTT_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        Self {
            key: DecodingKey::from_secret(secret.bytes()),
            validation,
        }
    }

    /// Who `client_id` is, if `password` is a valid credential for it.
    pub fn verify(&self, client_id: &str, password: &str) -> Result<Verified, Refusal> {
        let principal = MqttPrincipal::from_client_id(client_id).ok_or(Refusal::UnknownClientId)?;
        let claims = jsonwebtoken::decode::<MqttClaims>(password, &self.key, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => Refusal::BadSignature,
                ErrorKind::InvalidAlgorithm => Refusal::WrongAlgorithm,
                ErrorKind::ExpiredSignature => Refusal::Expired,
                ErrorKind::ImmatureSignature => Refusal::NotYetValid,
                ErrorKind::InvalidAudience => Refusal::WrongAudience,
                _ => Refusal::Malformed,
            })?
            .claims;
        if claims.sub != client_id {
            return Err(Refusal::ClientIdMismatch);
        }
        Ok(Verified { principal, claims })
    }

    /// [`Self::verify`] with a log line and a metric either way. The password never
    /// reaches a log; client id and user name are shortened and escaped.
    pub fn authenticate(
        &self,
        client_id: &str,
        username: &str,
        password: &str,
    ) -> Result<Verified, Refusal> {
        match self.verify(client_id, password) {
            Ok(verified) => {
                let kind = match verified.principal {
                    MqttPrincipal::Agent(_) => "agent",
                    MqttPrincipal::Api(_) => "api",
                };
                info!(client_id, kind, "MQTT client authenticated");
                metrics::auth_accepted(kind);
                Ok(verified)
            }
            Err(refusal) => {
                warn!(
                    client_id = ?shorten(client_id),
                    username = ?shorten(username),
                    reason = refusal.label(),
                    "MQTT connection refused: {refusal}"
                );
                metrics::auth_refused(refusal.label());
                Err(refusal)
            }
        }
    }
}

/// The first 64 characters of a client-supplied string, for logs.
pub(crate) fn shorten(text: &str) -> &str {
    match text.char_indices().nth(64) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn now() -> i64 {
        jsonwebtoken::get_current_timestamp() as i64
    }

    fn token(key: &str, sub: &str, aud: &str, exp: i64) -> String {
        let claims = MqttClaims {
            sub: sub.into(),
            aud: aud.into(),
            iat: now(),
            exp,
        };
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(key.as_bytes()),
        )
        .expect("encodes")
    }

    fn auth() -> Authenticator {
        Authenticator::new(&KEY.parse().expect("long enough"))
    }

    #[test]
    fn accepts_a_valid_site_and_api_token() {
        let auth = auth();
        let ok = token(KEY, "agent-lyon", "mqtt", now() + 600);
        let verified = auth.verify("agent-lyon", &ok).expect("accepted");
        assert!(matches!(verified.principal, MqttPrincipal::Agent(_)));
        assert_eq!(verified.claims.sub, "agent-lyon");
        let api = token(KEY, "api-1", "mqtt", now() + 600);
        assert_eq!(
            auth.verify("api-1", &api).map(|v| v.principal),
            Ok(MqttPrincipal::Api("1".into()))
        );
    }

    #[test]
    fn refusals_say_why() {
        let auth = auth();
        let later = now() + 600;
        let cases = [
            (
                "agent-lyon",
                token(KEY, "agent-lyon", "mqtt", now() - 3600),
                Refusal::Expired,
            ),
            (
                "agent-lyon",
                token("another-key-another-key", "agent-lyon", "mqtt", later),
                Refusal::BadSignature,
            ),
            (
                "agent-lyon",
                token(KEY, "agent-lyon", "admin", later),
                Refusal::WrongAudience,
            ),
            (
                "agent-paris",
                token(KEY, "agent-lyon", "mqtt", later),
                Refusal::ClientIdMismatch,
            ),
            (
                "lyon",
                token(KEY, "lyon", "mqtt", later),
                Refusal::UnknownClientId,
            ),
            ("agent-lyon", "not-a-jwt".into(), Refusal::Malformed),
            ("agent-lyon", String::new(), Refusal::Malformed),
        ];
        for (client_id, password, expected) in cases {
            assert_eq!(
                auth.verify(client_id, &password).err(),
                Some(expected),
                "{expected:?}"
            );
        }
    }

    #[test]
    fn secret_is_hidden_and_checked() {
        let secret: JwtSecret = KEY.parse().expect("long enough");
        assert_eq!(format!("{secret:?}"), "JwtSecret(***)");
        assert_eq!("short".parse::<JwtSecret>().err(), Some(WeakSecret));
    }

    #[test]
    fn shorten_cuts_on_characters() {
        let long = "é".repeat(100);
        assert_eq!(shorten(&long).chars().count(), 64);
        assert_eq!(shorten("abc"), "abc");
    }
}
