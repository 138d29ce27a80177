//! The arithmetic of the two login schemes (`reference/hilink.md` §2.3).
//!
//! Kept apart from the HTTP flow so that the client and the simulator compute the same values
//! and both can be checked against the published test vectors.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The `password_type` value of the hashed login.
pub const PASSWORD_TYPE_SHA256: u8 = 4;
/// The `password_type` value of the plain (base64) login.
pub const PASSWORD_TYPE_BASE64: u8 = 0;

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The `<Password>` of a password_type 4 login:
/// `base64(sha256hex(username + base64(sha256hex(password)) + token))`, padded.
///
/// `token` is the CSRF token sent with the same login request.
pub fn password_type4(username: &str, password: &str, token: &str) -> String {
    let inner = BASE64.encode(sha256_hex(password.as_bytes()));
    let outer = sha256_hex(format!("{username}{inner}{token}").as_bytes());
    BASE64.encode(outer)
}

/// The `<Password>` of a password_type 0 login: the password in base64.
pub fn password_type0(password: &str) -> String {
    BASE64.encode(password)
}

/// A fresh SCRAM client nonce: 32 random bytes as 64 lower-case hex digits.
pub fn scram_first_nonce() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// The values both sides derive in the HiLink SCRAM exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramKeys {
    /// PBKDF2-HMAC-SHA256 of the password.
    pub salted_password: [u8; 32],
    /// What the client sends as `<clientproof>` (hex-encode it).
    pub client_proof: [u8; 32],
    /// What the server must answer as `<serversignature>` (hex).
    pub server_signature: [u8; 32],
    /// The server key; signs the RSA modulus in `rsapubkeysignature`.
    pub server_key: [u8; 32],
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so new_from_slice cannot fail here.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// Computes the SCRAM values of `lib/scram.js`.
///
/// `salt` is the decoded `<salt>` hex; the nonces are the hex strings as exchanged
/// (`server_nonce` = first nonce + the server's part). `HMAC(key, msg)` below takes the key
/// first; the WebUI's CryptoJS takes the message first, hence the unusual key choice.
pub fn scram(
    password: &str,
    salt: &[u8],
    iterations: u32,
    first_nonce: &str,
    server_nonce: &str,
) -> ScramKeys {
    let mut salted_password = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut salted_password);
    let client_key = hmac(b"Client Key", &salted_password);
    let stored_key: [u8; 32] = Sha256::digest(client_key).into();
    let auth_message = format!("{first_nonce},{server_nonce},{server_nonce}");
    let client_signature = hmac(auth_message.as_bytes(), &stored_key);
    let mut client_proof = [0u8; 32];
    for (out, (k, s)) in client_proof
        .iter_mut()
        .zip(client_key.iter().zip(client_signature.iter()))
    {
        *out = k ^ s;
    }
    let server_key = hmac(b"Server Key", &salted_password);
    let server_signature = hmac(auth_message.as_bytes(), &server_key);
    ScramKeys {
        salted_password,
        client_proof,
        server_signature,
        server_key,
    }
}

/// The `rsapubkeysignature` a server sends: HMAC(key = server key, msg = the modulus bytes).
pub fn rsa_pubkey_signature(server_key: &[u8; 32], rsan_hex: &str) -> Option<[u8; 32]> {
    let modulus = hex::decode(rsan_hex).ok()?;
    Some(hmac(server_key, &modulus))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_type4_matches_the_vector() {
        let token = format!("S{}1", "0".repeat(30));
        assert_eq!(token.len(), 32);
        assert_eq!(
            password_type4("admin", "secret", &token),
            "ZDViNDA3MWNlNzZiMTk2Y2Q2ZDdkM2MyNDdmN2U4NmZmY2RlZGYwNGM2NzNjYjhiOGRmZThjNGE1MzQwNmQ2OA=="
        );
    }

    #[test]
    fn scram_matches_the_vector() {
        let first = "6513d4a1bfa0d6b3a7e3320dc6b3b1cd703a479d4958b5e1462658d75f0c5029";
        let server = format!("{first}BsP0n8rghqsOgEbevsDvKnn0eCjBfed2");
        let salt = hex::decode("ef08b9902cfb555135d098952c6d4ce629d52a3e835d4831147c96081538113c")
            .unwrap();
        let keys = scram("test", &salt, 100, first, &server);
        assert_eq!(
            hex::encode(keys.salted_password),
            "3bc1cc3158babe19edca5b7f354079fe0f37ea2dc75d9bbd8559e6751dd0380b"
        );
        assert_eq!(
            hex::encode(keys.client_proof),
            "efc134fac358b3e148c62714eae94edda8143840e4e13f12f723defefa9dca1f"
        );
        assert_eq!(
            hex::encode(keys.server_signature),
            "e926be337454a1d7213f21de17a3e5ee8cc537f6f5fae54dea20ffb3b0c660de"
        );
    }

    #[test]
    fn first_nonce_is_64_hex_digits() {
        let n = scram_first_nonce();
        assert_eq!(n.len(), 64);
        assert!(n.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(n, scram_first_nonce());
    }

    #[test]
    fn plain_password_is_base64() {
        assert_eq!(password_type0("admin"), "YWRtaW4=");
    }
}
