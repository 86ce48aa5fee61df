#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sesam_oidc::fuzzing::access_token(data));
