//! Secrets at rest and the keys derived from `CONCIERGE_SECRET_KEY`.
//!
//! Stored CRM tokens are sealed with AES-256-GCM (authenticated encryption): a fresh random
//! 96-bit nonce per value, stored as `nonce || ciphertext || tag`, with the owner (company
//! and CRM user) as associated data, so a token copied onto another install's row does not
//! open. Every purpose (tokens, OAuth state, sessions) gets its own key, derived from the
//! one configured secret with HKDF-SHA-256.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Nonce, Payload};
use hkdf::Hkdf;
use sha2::Sha256;

use secrecy::{ExposeSecret as _, SecretString};

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Why a sealed value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("sealed value is too short")]
    TooShort,
    /// Wrong key, wrong owner, or the bytes were changed.
    #[error("sealed value does not authenticate")]
    Inauthentic,
    #[error("sealed value is not UTF-8 text")]
    NotText,
}

/// HKDF-SHA-256 (RFC 5869, the `hkdf` crate) without a salt: `len` bytes of key material
/// for `purpose`. `len` is at most 255 × 32 bytes; the keys asked for are 32 or 64.
pub fn derive_key(secret: &SecretString, purpose: &str, len: usize) -> Vec<u8> {
    let hkdf = Hkdf::<Sha256>::new(None, secret.expose_secret().as_bytes());
    let mut out = vec![0u8; len];
    hkdf.expand(purpose.as_bytes(), &mut out)
        .unwrap_or_else(|_| unreachable!("keys are far shorter than 255 × 32 bytes"));
    out
}

/// Seals and opens stored tokens.
#[derive(Clone)]
pub struct TokenCipher {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCipher(***)")
    }
}

impl TokenCipher {
    /// The cipher for CRM tokens, keyed from the configured secret key.
    pub fn new(secret: &SecretString) -> TokenCipher {
        let key = derive_key(secret, "concierge/crm-tokens/v1", 32);
        let cipher = Aes256Gcm::new_from_slice(&key)
            .unwrap_or_else(|_| unreachable!("the derived key is 32 bytes"));
        TokenCipher { cipher }
    }

    /// `nonce || ciphertext || tag` of `plain`, bound to `owner`.
    pub fn seal(&self, plain: &str, owner: &[u8]) -> Vec<u8> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = Nonce::<Aes256Gcm>::from(nonce_bytes);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: owner,
                },
            )
            .unwrap_or_else(|_| unreachable!("tokens are far below the AES-GCM length limit"));
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        out
    }

    /// The text sealed by [`TokenCipher::seal`] for the same `owner`.
    pub fn open(&self, sealed: &[u8], owner: &[u8]) -> Result<SecretString, SealError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::TooShort);
        }
        let (nonce_bytes, body) = sealed.split_at(NONCE_LEN);
        let nonce_arr: [u8; NONCE_LEN] = nonce_bytes.try_into().map_err(|_| SealError::TooShort)?;
        let plain = self
            .cipher
            .decrypt(
                &Nonce::<Aes256Gcm>::from(nonce_arr),
                Payload {
                    msg: body,
                    aad: owner,
                },
            )
            .map_err(|_| SealError::Inauthentic)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| SealError::NotText)
    }
}

/// The associated data binding a token to its install.
pub fn token_owner(company_id: &str, crm_user_id: i64) -> Vec<u8> {
    format!("install:{company_id}:{crm_user_id}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> TokenCipher {
        TokenCipher::new(&SecretString::from("k"))
    }

    #[test]
    fn round_trips_and_hides_the_text() {
        let c = cipher();
        let sealed = c.seal("access-token-123", b"a");
        assert!(!sealed.windows(6).any(|w| w == b"access"));
        assert_eq!(
            c.open(&sealed, b"a").unwrap().expose_secret(),
            "access-token-123"
        );
        // A fresh nonce each time.
        assert_ne!(sealed, c.seal("access-token-123", b"a"));
    }

    #[test]
    fn refuses_other_owner_key_or_changed_bytes() {
        let c = cipher();
        let sealed = c.seal("t", b"a");
        assert!(matches!(c.open(&sealed, b"b"), Err(SealError::Inauthentic)));
        let other = TokenCipher::new(&SecretString::from("other"));
        assert!(matches!(
            other.open(&sealed, b"a"),
            Err(SealError::Inauthentic)
        ));
        let mut changed = sealed.clone();
        let last = changed.len() - 1;
        changed[last] ^= 1;
        assert!(matches!(
            c.open(&changed, b"a"),
            Err(SealError::Inauthentic)
        ));
        assert!(matches!(
            c.open(&sealed[..10], b"a"),
            Err(SealError::TooShort)
        ));
    }

    #[test]
    fn derived_keys_follow_rfc5869_and_differ_by_purpose() {
        // RFC 5869, test case 3 (SHA-256, no salt, no info).
        let ikm = SecretString::from("\u{b}".repeat(22));
        let okm: String = derive_key(&ikm, "", 42)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            okm,
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
        );
        let s = SecretString::from("k");
        assert_ne!(derive_key(&s, "a", 32), derive_key(&s, "b", 32));
        let long = derive_key(&s, "a", 64);
        assert_eq!(long.len(), 64);
        assert_eq!(&long[..32], &derive_key(&s, "a", 32)[..]);
    }

    /// The keys of every purpose stay what they were (sealed tokens, sessions and OAuth
    /// states made before keep opening): computed with the earlier implementation.
    #[test]
    fn derived_keys_stay_the_same() {
        let s = SecretString::from("a secret key of the app");
        let hex = |purpose: &str, len: usize| -> String {
            derive_key(&s, purpose, len)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        assert_eq!(
            hex("concierge/crm-tokens/v1", 32),
            "1843b760b4f1c58c9e7a2f9a02844757111309f32555e3e4ba73b8a41a9a11d4"
        );
        assert_eq!(
            hex("concierge/oauth-state/v1", 32),
            "30afb6d82cc54aef880593dc8b87397731522634103b65aa6a489bdca86e9cf3"
        );
        assert_eq!(
            hex("concierge/session/v1", 64),
            "d4dc2335f74630d3c4db2aa70db33d1822ee51b659831a73dfbdfb0d76ab5ff1\
             ba599f7f4d10e4f4ab684847727a8dde14991be3f6903d7d6ae721a4730a325b"
        );
    }
}
