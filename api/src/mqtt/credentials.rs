//! Broker credentials for agents: an HS256 JWT whose claims ([`MqttClaims`]) are defined in
//! smsgw-shared, so that this issuer and the broker's verifier cannot disagree. The agent
//! of site `s` connects with client id `agent-s` and this token as its password.

use jsonwebtoken::{EncodingKey, Header, encode};
use smsgw_shared::{
    credentials::{MQTT_AUDIENCE, MqttClaims, MqttPrincipal},
    ids::SiteId,
};
use time::{Duration, OffsetDateTime};

/// How long an agent credential is valid unless told otherwise.
pub const DEFAULT_VALIDITY: Duration = Duration::days(365);

/// Why a credential could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// No signing key is configured.
    #[error("SMSGW_JWT_SECRET is not set; it is the key the broker verifies agent tokens with")]
    NoSecret,
    /// Signing failed.
    #[error("cannot sign the token: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// An issued credential.
#[derive(Debug, Clone)]
pub struct AgentCredential {
    /// The MQTT client id to connect with.
    pub client_id: String,
    /// The JWT, used as the MQTT password.
    pub token: String,
    /// When it expires.
    pub expires_at: OffsetDateTime,
}

/// Issues the broker credential of a site's agent, valid from `now` for `validity`.
pub fn issue_agent_credential(
    secret: &str,
    site: &SiteId,
    now: OffsetDateTime,
    validity: Duration,
) -> Result<AgentCredential, CredentialError> {
    issue_credential(secret, &MqttPrincipal::Agent(site.clone()), now, validity)
}

/// Issues the broker credential of any principal (an agent, or an API replica signing its
/// own), valid from `now` for `validity`.
pub fn issue_credential(
    secret: &str,
    principal: &MqttPrincipal,
    now: OffsetDateTime,
    validity: Duration,
) -> Result<AgentCredential, CredentialError> {
    if secret.is_empty() {
        return Err(CredentialError::NoSecret);
    }
    let client_id = principal.client_id();
    let expires_at = now + validity;
    let claims = MqttClaims {
        sub: client_id.clone(),
        aud: MQTT_AUDIENCE.to_owned(),
        iat: now.unix_timestamp(),
        exp: expires_at.unix_timestamp(),
    };
    let token = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )?;
    Ok(AgentCredential {
        client_id,
        token,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};

    use super::*;

    #[test]
    fn the_token_carries_the_shared_claims() {
        let site: SiteId = "paris".parse().expect("site");
        let now = OffsetDateTime::now_utc();
        let credential =
            issue_agent_credential("s3cret", &site, now, DEFAULT_VALIDITY).expect("issued");
        assert_eq!(credential.client_id, "agent-paris");
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[MQTT_AUDIENCE]);
        let claims = decode::<MqttClaims>(
            &credential.token,
            &DecodingKey::from_secret(b"s3cret"),
            &validation,
        )
        .expect("valid")
        .claims;
        assert_eq!(claims.sub, "agent-paris");
        assert_eq!(claims.exp - claims.iat, DEFAULT_VALIDITY.whole_seconds());
        assert!(
            decode::<MqttClaims>(
                &credential.token,
                &DecodingKey::from_secret(b"other"),
                &validation
            )
            .is_err()
        );
        assert!(matches!(
            issue_agent_credential("", &site, now, DEFAULT_VALIDITY),
            Err(CredentialError::NoSecret)
        ));
    }
}
