#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sesam_oidc::fuzzing::client_assertion(data));
