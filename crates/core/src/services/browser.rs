//! What the pages keep in a browser: the browser cookie sesam issues (bound to logins) and
//! state a page seals into a cookie of its own. The keys never leave this crate.

use sesam_domain::random::random_bytes;

use crate::context::Sesam;

impl Sesam {
    /// A new browser cookie value, MAC'd so a made-up value is never taken for one.
    pub fn issue_browser_cookie(&self) -> String {
        self.keys.issue_browser_cookie(&*self.random)
    }

    /// Whether sesam issued this browser cookie value.
    pub fn browser_cookie_is_ours(&self, value: &str) -> bool {
        self.keys.browser_cookie_is_ours(value)
    }

    /// `data` sealed for `purpose` (authenticated encryption): a page's state in a cookie.
    pub fn seal_for_browser(&self, purpose: &str, data: &[u8]) -> Vec<u8> {
        self.keys.seal_data(purpose, data, &*self.random)
    }

    /// What [`Self::seal_for_browser`] sealed for `purpose`; `None` for anything else.
    pub fn open_from_browser(&self, purpose: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        self.keys.open_data(purpose, sealed).ok()
    }

    /// Fresh random bytes (PKCE verifiers, `state` and `nonce` values).
    pub fn random_bytes<const N: usize>(&self) -> [u8; N] {
        random_bytes(&*self.random)
    }
}
