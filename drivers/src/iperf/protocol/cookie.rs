//! The test cookie: 36 random characters and a NUL, sent first on the control connection and on
//! every TCP data stream so the server can tell a test's streams from a stranger's connection.

use std::fmt;

/// Bytes on the wire: 36 characters plus the terminating NUL.
pub(crate) const COOKIE_SIZE: usize = 37;

/// The characters iperf3 draws cookies from.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A test cookie exactly as sent on the wire.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cookie([u8; COOKIE_SIZE]);

impl Cookie {
    /// A fresh random cookie.
    pub(crate) fn random() -> Self {
        let mut entropy = [0u8; COOKIE_SIZE];
        fill_random(&mut entropy);
        let mut bytes = [0u8; COOKIE_SIZE];
        for (out, random) in bytes.iter_mut().zip(entropy).take(COOKIE_SIZE - 1) {
            *out = ALPHABET[usize::from(random) % ALPHABET.len()];
        }
        Self(bytes)
    }

    /// The cookie as received; any 37 bytes are accepted (a peer's cookie is only compared).
    pub(crate) fn from_wire(bytes: [u8; COOKIE_SIZE]) -> Self {
        Self(bytes)
    }

    /// The 37 bytes to send.
    pub(crate) fn as_bytes(&self) -> &[u8; COOKIE_SIZE] {
        &self.0
    }

    /// The printable part (up to the NUL), lossily decoded.
    pub(crate) fn text(&self) -> String {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(COOKIE_SIZE);
        String::from_utf8_lossy(&self.0[..end]).into_owned()
    }
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cookie({:?})", self.text())
    }
}

/// Fills `buf` from the kernel's random source, falling back to a time-seeded generator if
/// `/dev/urandom` is unavailable (a cookie needs uniqueness, not cryptographic strength).
pub(crate) fn fill_random(buf: &mut [u8]) {
    use std::io::Read;
    let from_kernel = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(buf));
    if from_kernel.is_ok() {
        return;
    }
    let mut state = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9e37_79b9_7f4a_7c15)
        ^ u64::from(std::process::id());
    for byte in buf {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        *byte = (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_is_36_characters_from_the_alphabet_and_a_nul() {
        let cookie = Cookie::random();
        let bytes = cookie.as_bytes();
        assert_eq!(bytes.len(), 37);
        assert_eq!(bytes[36], 0);
        assert!(bytes[..36].iter().all(|b| ALPHABET.contains(b)));
        assert_eq!(cookie.text().len(), 36);
    }

    #[test]
    fn two_cookies_differ() {
        assert_ne!(Cookie::random(), Cookie::random());
    }
}
