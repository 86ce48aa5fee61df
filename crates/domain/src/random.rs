//! Randomness as the domain sees it: injected, so codes and keys can be reproduced in tests.

use rand::Rng;

/// A source of cryptographically secure random bytes.
pub trait Random: Send + Sync {
    fn fill(&self, dest: &mut [u8]);
}

/// `N` random bytes.
pub fn random_bytes<const N: usize>(random: &dyn Random) -> [u8; N] {
    let mut out = [0u8; N];
    random.fill(&mut out);
    out
}

/// The operating system's CSPRNG (through `rand`'s thread-local generator, which is reseeded
/// from the OS).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, dest: &mut [u8]) {
        rand::rng().fill_bytes(dest);
    }
}

/// Draws a uniformly distributed index below `n` (n ≤ 256) without modulo bias.
pub(crate) fn uniform_below(random: &dyn Random, n: u8) -> usize {
    debug_assert!(n > 0);
    let n = u16::from(n);
    let limit = 256 - (256 % n);
    loop {
        let mut b = [0u8; 1];
        random.fill(&mut b);
        if u16::from(b[0]) < limit {
            return usize::from(u16::from(b[0]) % n);
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Mutex;

    use super::Random;

    /// Deterministic bytes for tests: a counter run through SHA-256.
    pub struct SeqRandom(Mutex<u64>);

    impl SeqRandom {
        pub fn new(seed: u64) -> Self {
            Self(Mutex::new(seed))
        }
    }

    impl Random for SeqRandom {
        fn fill(&self, dest: &mut [u8]) {
            use sha2::Digest;
            let mut counter = self.0.lock().unwrap();
            for chunk in dest.chunks_mut(32) {
                *counter += 1;
                let block = sha2::Sha256::digest(counter.to_le_bytes());
                chunk.copy_from_slice(&block[..chunk.len()]);
            }
        }
    }
}
