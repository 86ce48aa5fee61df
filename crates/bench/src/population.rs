//! The benchmark's people, derived from a number: person `i` has a fixed national ID,
//! user ID, phone number, app key and device id, so `seed` and `run` agree on them without
//! a per-person file (a million device keys would be a 100 MB file).

use std::path::Path;

use p256::ecdsa::SigningKey;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::BenchError;

/// The PIN every benchmark app was activated with.
pub const PIN: &str = "258013";

/// Born on consecutive days from 1 January 1940, 4,000 people per day (serial numbers
/// 0000–3999, whose seventh digit 0–3 places them in the 1900s): room for 36 million
/// people before the dates reach 2040's numbers.
const PER_DAY: u64 = 4_000;
const FIRST_DAY_JULIAN: i32 = 2_429_630; // 1940-01-01

/// One benchmark person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub index: u64,
    pub national_id: String,
    pub birthdate: String,
    pub user_id: String,
    pub name: String,
    pub phone: String,
}

pub fn person(index: u64) -> Person {
    let day = time::Date::from_julian_day(FIRST_DAY_JULIAN + (index / PER_DAY) as i32)
        .unwrap_or(time::Date::MIN);
    let serial = index % PER_DAY;
    let national_id = format!(
        "{:02}{:02}{:02}{serial:04}",
        day.day(),
        u8::from(day.month()),
        day.year() % 100
    );
    Person {
        index,
        national_id,
        birthdate: format!(
            "{:04}-{:02}-{:02}",
            day.year(),
            u8::from(day.month()),
            day.day()
        ),
        user_id: user_id(index),
        name: format!("Bench Person {index}"),
        phone: format!("+4520{:06}", index % 1_000_000),
    }
}

/// `bench.0000042`: letters, a dot and at most 9 digits in a row (the user-ID rules).
pub fn user_id(index: u64) -> String {
    format!("bench.{index:07}")
}

/// One person's line for `sesam admin identity import`.
pub fn import_line(p: &Person) -> String {
    serde_json::json!({
        "national_id": p.national_id,
        "name": p.name,
        "birthdate": p.birthdate,
        "phone": p.phone,
        "user_id": p.user_id,
    })
    .to_string()
}

/// One person's line for an import file of a whole population (`sesam-bench people`):
/// as [`import_line`] with an e-mail address, and a user ID whose letters come from a hash
/// of the index, so that the user IDs of consecutive lines are scattered over the user-ID
/// index as real people's are (the benchmark's `bench.0000042` would arrive in order).
pub fn population_line(p: &Person) -> String {
    serde_json::json!({
        "national_id": p.national_id,
        "name": p.name,
        "birthdate": p.birthdate,
        "phone": p.phone,
        "email": format!("person{}@example.dk", p.index),
        "user_id": scattered_user_id(p.index),
    })
    .to_string()
}

/// Six letters from a hash of `index`, a dot and the index: unique, in no order.
pub fn scattered_user_id(index: u64) -> String {
    let digest = Sha256::new()
        .chain_update(b"sesam-bench user id")
        .chain_update(index.to_be_bytes())
        .finalize();
    let letters: String = digest[..6]
        .iter()
        .map(|b| char::from(b'a' + b % 26))
        .collect();
    format!("{letters}.{index}")
}

/// Writes people `from..from + count` to a new file at `out`, one [`population_line`] each.
pub fn write_people_file(out: &Path, from: u64, count: u64) -> Result<(), BenchError> {
    use std::io::Write as _;
    let io = |e: std::io::Error| BenchError::Input(format!("cannot write {}: {e}", out.display()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .map_err(io)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    for index in from..from.saturating_add(count) {
        writeln!(w, "{}", population_line(&person(index))).map_err(io)?;
    }
    w.flush().map_err(io)
}

/// The app key of person `index`, from the population's secret seed.
pub fn device_key(seed: &[u8; 32], index: u64) -> SigningKey {
    let mut counter = 0u32;
    loop {
        let material = Sha256::new()
            .chain_update(b"sesam-bench device key")
            .chain_update(seed)
            .chain_update(index.to_be_bytes())
            .chain_update(counter.to_be_bytes())
            .finalize();
        if let Ok(key) = SigningKey::from_slice(&material) {
            return key;
        }
        counter += 1;
    }
}

/// The device id of person `index`'s app (a random-looking v4 UUID).
pub fn device_id(seed: &[u8; 32], index: u64) -> Uuid {
    let digest = Sha256::new()
        .chain_update(b"sesam-bench device id")
        .chain_update(seed)
        .chain_update(index.to_be_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sesam_domain::contact::EmailAddress;
    use sesam_domain::{NationalId, UserId};

    #[test]
    fn every_person_passes_the_enrolment_rules() {
        for index in [0, 1, 3_999, 4_000, 999_999, 1_000_000, 35_999_999] {
            let p = person(index);
            let id = NationalId::parse(&p.national_id).unwrap();
            assert_eq!(
                id.birth_date().unwrap().to_string(),
                p.birthdate,
                "{index}: {p:?}"
            );
            UserId::parse(&p.user_id).unwrap();
            UserId::parse(&scattered_user_id(index)).unwrap();
            let line: serde_json::Value = serde_json::from_str(&population_line(&p)).unwrap();
            EmailAddress::parse(line["email"].as_str().unwrap()).unwrap();
        }
    }

    #[test]
    fn people_and_devices_are_distinct_and_stable() {
        let seed = [7u8; 32];
        let a = (person(10), device_id(&seed, 10), device_key(&seed, 10));
        assert_eq!(a.0, person(10));
        assert_eq!(a.1, device_id(&seed, 10));
        assert_eq!(a.2.to_bytes(), device_key(&seed, 10).to_bytes());
        assert_ne!(person(10).national_id, person(11).national_id);
        assert_ne!(device_id(&seed, 10), device_id(&seed, 11));
        assert_ne!(device_id(&seed, 10), device_id(&[8u8; 32], 10));
    }
}
