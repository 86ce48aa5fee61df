#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sesam_domain::fuzzing::accept_language(data));
