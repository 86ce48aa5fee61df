#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target from sesam's test vectors and fixtures.

Run once from `fuzz/` (needs Python's `cryptography` for the signed seeds); the committed
corpus is this seed set grown by fuzzing and minimised with `cargo fuzz cmin`.
"""
import base64, hashlib, json, pathlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def write(target, name, data):
    d = HERE / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def key(byte):
    return ec.derive_private_key(int.from_bytes(bytes([byte]) * 32, "big"), ec.SECP256R1())


def sec1(k, compressed=False):
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    fmt = PublicFormat.CompressedPoint if compressed else PublicFormat.UncompressedPoint
    return k.public_key().public_bytes(Encoding.X962, fmt)


def raw_sig(k, msg):
    der = k.sign(msg, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return der, r.to_bytes(32, "big") + s.to_bytes(32, "big")


# transaction texts (docs/protocol.md §8 and the rules of TransactionText)
for i, t in enumerate([
    "Overfør 1.500,00 kr. til Jens Hansen", "Log på hos Demo Bank", "e\u0301 combining",
    "a\u202eb bidi", "zero\u200bwidth", "two\nlines", "x" * 131, " ", "\ud800".encode("utf-8", "surrogatepass"),
    "privat \ue000 brug", "tab\there",
]):
    write("transaction_text", f"seed-{i}", t if isinstance(t, bytes) else t.encode("utf-8", "surrogatepass"))

# authorization_details
details = [
    '[{"type":"sesam_transaction","action":"SIGN","text":"Underskriv lejekontrakt"}]',
    '[{"type":"sesam_transaction","text":"Log på"}]',
    '[{"type":"sesam_transaction","text":"a\\ud800b"}]',
    '[{"type":"sesam_transaction","action":"PAY","text":"x"}]',
    '[{"type":"account_information"}]',
    json.dumps([{"type": "payment_initiation", "instructedAmount": {"currency": "DKK", "amount": "1500.00"},
                 "creditorName": "Jens Hansen", "creditorAccount": {"iban": "DK5000400440116243"}}]),
    json.dumps([{"type": "payment_initiation", "instructedAmount": {"currency": "EUR", "amount": 99.95},
                 "creditorName": "Jens Hansen", "creditorAccount": {"iban": "DK5000400440116243"}}]),
    json.dumps([{"type": "payment_initiation", "instructedAmount": {"currency": "JPY", "amount": "1e3"},
                 "creditorName": "A", "creditorAccount": {"iban": "GB82WEST12345698765432"}}]),
]
for i, d in enumerate(details):
    write("authorization_details", f"seed-{i}", d)

# PIN proofs: docs/protocol.md §8 (binding length, binding, proof): the enrolment proof
# and the device proof of the vectors (domain::fuzzing holds the same keys)
device = key(0x11)
device_pk = sec1(device)
activation_id = "01920000-0000-7000-8000-0000000000aa"
binding = f"sesam-activation/v1\n{activation_id}\n{device_pk.hex()}".encode()
proof = bytes.fromhex(
    "0451a7580833898ea1b183cbd7350a4099078c6ef1c1e18e970cd7683035f25e7d0110522712b0b5a7cff081685486984a94e6831edac46e7360fa9d834a7a81a1d60cfc3b7546179d8c795bc45eb4b0c6b8f4d6abe093")
write("pin_proof", "vector", bytes([len(binding)]) + binding + proof)
write("pin_proof", "short", bytes([3]) + b"abc" + proof[:80])
pin_binding = (b"sesam-approval-pin/v1\n01920000-0000-7000-8000-0000000000bb\n"
               b"01920000-0000-7000-8000-000000000001")
device_proof = bytes.fromhex("55555555555555555555555555555555ebe3ca1694fb07b288811092e16129a80553fb1228cc")
write("pin_proof", "device-vector", bytes([len(pin_binding)]) + pin_binding + device_proof)
write("pin_proof", "device-short", bytes([len(pin_binding)]) + pin_binding + device_proof[:30])

# device keys and signatures
msg = b"sesam-fuzz"
der, raw = raw_sig(device, msg)
write("device_key", "uncompressed", device_pk)
write("device_key", "compressed", sec1(device, True))
write("device_key", "raw-signature", bytes([65]) + device_pk + raw)
write("device_key", "der-signature", bytes([33]) + sec1(device, True) + der)
write("device_key", "name", "Pixel 8")
write("device_key", "name-hidden", "Pixel\u200b8")

# signature headers (docs/protocol.md §8 request)
req = ("sesam-app-request/v1\nGET\n/app/v1/approvals\n1767225600000\nbm9uY2Utbm9uY2Utbm9uY2U\n"
       "01920000-0000-7000-8000-000000000001\n" + hashlib.sha256(b"").hexdigest()).encode()
_, req_sig = raw_sig(device, req)
write("signature_headers", "vector",
      f"01920000-0000-7000-8000-000000000001\n1767225600000\nbm9uY2Utbm9uY2Utbm9uY2U\n{b64(req_sig)}")
write("signature_headers", "skew", "01920000-0000-7000-8000-000000000001\n-9223372036854775808\nbm9uY2Utbm9uY2Utbm9uY2U\nAAAA")

# PSKC fixtures
for f in sorted((ROOT / "crates/domain/tests/fixtures/pskc").glob("*.pskcxml")):
    write("pskc", f.name, f.read_bytes())

# Accept-Language
for i, v in enumerate(["en-GB,en;q=0.9", "da", "*", "de-DE;q=0.8, en", "EN_us", "", "da-DK,da;q=0.9,en-US;q=0.8"]):
    write("accept_language", f"seed-{i}", v)

# OAuth parameters
for i, v in enumerate([
    "response_type=code&client_id=sp_1&redirect_uri=https%3A%2F%2Fsp.example%2Fcb&scope=openid&state=s&nonce=n"
    "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSZw-cM&code_challenge_method=S256",
    "state=&nonce=n1&a%20b=c+d", "binding_message=a%ED%A0%80b", "x=%FF", "scope=openid&scope=openid",
    "grant_type=authorization_code&code=abc&code_verifier=xyz&client_assertion_type="
    "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a.b.c",
    "csrf=abc&user_id=anna&password=secret",
]):
    write("params", f"seed-{i}", v)

# client assertions signed with the fuzz client's key (oidc::fuzzing::assertion_key)
sp = key(0x05)
now = 1_800_000_000
for i, (hdr, claims) in enumerate([
    ({"alg": "ES256", "typ": "JWT", "kid": "sp-key"},
     {"iss": "sp_1", "sub": "sp_1", "aud": "https://login.example/token", "exp": now + 60, "iat": now, "jti": "j1"}),
    ({"alg": "ES256", "kid": "sp-key"},
     {"iss": "sp_1", "sub": "sp_1", "aud": ["https://login.example/token"], "exp": now + 3600, "jti": "j2"}),
    ({"alg": "ES256"},
     {"iss": "sp_1", "sub": "sp_1", "aud": "https://login.example/token", "exp": -9223372036854775808, "jti": "j3"}),
    ({"alg": "HS256", "kid": "sp-key"},
     {"iss": "sp_1", "sub": "sp_1", "aud": "https://login.example/token", "exp": now + 60, "jti": "j4"}),
]):
    signing = (b64(json.dumps(hdr).encode()) + "." + b64(json.dumps(claims).encode())).encode()
    _, sig = raw_sig(sp, signing)
    write("client_assertion", f"seed-{i}", signing.decode() + "." + b64(sig))
write("client_assertion", "none", b64(b'{"alg":"none"}') + "." + b64(b'{"iss":"sp_1"}') + ".")

# access tokens signed with the fuzzed key (oidc::fuzzing::access_token_key)
at = key(0x06)
claims = {"iss": "https://login.example", "sub": "s", "aud": "https://login.example/userinfo",
          "client_id": "sp_1", "scope": "openid profile", "exp": now + 300, "iat": now, "jti": "j1",
          "grant": "01920000-0000-7000-8000-0000000000aa"}
for i, (hdr, c) in enumerate([
    ({"typ": "at+jwt", "alg": "ES256", "kid": "at-key"}, claims),
    ({"typ": "at+jwt", "alg": "ES256", "kid": "at-key"}, {**claims, "exp": now}),
    ({"typ": "at+jwt", "alg": "ES256", "kid": "at-key"}, {**claims, "aud": ["https://login.example/userinfo"]}),
    ({"typ": "at+jwt", "alg": "ES256", "kid": "at-key", "crit": ["exp"]}, claims),
    ({"alg": "ES256", "kid": "at-key"}, claims),
    ({"typ": "at+jwt", "alg": "none", "kid": "at-key"}, claims),
]):
    signing = (b64(json.dumps(hdr, separators=(",", ":")).encode()) + "." +
               b64(json.dumps(c, separators=(",", ":")).encode())).encode()
    _, sig = raw_sig(at, signing)
    write("access_token", f"seed-{i}", signing.decode() + "." + b64(sig))
write("access_token", "parts", "a.b.c.d")
write("access_token", "padded", b64(b'{"typ":"at+jwt"}') + "==.e30.AA")

# cookies: first line Accept-Language, then Cookie headers
for i, v in enumerate([
    "en-GB,en;q=0.9\nsesam_session=abc; sesam_lang=en\nsesam_browser=xyz",
    "da\nsesam_lang=da;sesam_last_method=app",
    "\nsesam_session=; sesam_session=x\n=;;==; sesam_browser=" + "a" * 300,
]):
    write("cookies", f"seed-{i}", v)

# app API bodies
uuid_ = "01920000-0000-7000-8000-0000000000aa"
for i, v in enumerate([
    {"pin_proof": b64(proof)}, {"order": [uuid_, uuid_]}, {"name": "Pixel 8"}, {"activation_code": "ABCD-EFGH-JKMN-PQRS"},
    {"activation_id": uuid_, "activation_code": "ABCD-EFGH-JKMN-PQRS", "sms_code": "123456",
     "device_public_key": b64(device_pk), "device_name": "Pixel 8", "possession_signature": b64(raw),
     "pin_proof": b64(proof), "user_id": None, "new_user_id": "anna1"},
    {"kind": "sms", "address": "+4512345678"}, {"code": "123456"}, {"enabled": True},
    {"pin_proof": b64(proof), "binding_code": "0042", "timestamp_ms": 1767225600000, "signature": b64(raw), "not_me": False},
    {"serial": "OATH0001", "code1": "123456", "code2": "654321", "password": "secret", "pin_proof": b64(proof)},
    {"user_id": "anna1", "device_public_key": b64(device_pk), "device_name": "Pixel 8",
     "possession_signature": b64(raw), "pin_proof": b64(proof)},
    {"pin_proof": "x", "password": "y"},
    {"registration_id": uuid_, "credential": {"id": "AAAA", "rawId": "AAAA", "type": "public-key",
     "response": {"attestationObject": "o2NmbXRkbm9uZQ", "clientDataJSON": b64(b'{"type":"webauthn.create"}')}}},
    {"registration_id": uuid_, "credential": {"id": "AAAA", "rawId": "AAAA", "type": "public-key",
     "response": {"authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA", "userHandle": None}}},
]):
    write("app_api_json", f"seed-{i}", json.dumps(v))

# import lines (crates/server/tests/identity_import.rs)
good = json.dumps({"national_id": "0101501234", "name": "Person 1", "birthdate": "1950-01-01",
                   "phone": "+4520000001", "email": "p1@example.dk"})
write("import_lines", "seed-0", good + "\n" + good.replace("}", ', "user_id": "anna1", "ial": "high", "language": "en"}') + "\r\n")
write("import_lines", "seed-1", '{"national_id": "0101900000", "name": "x"}\n\n   \n{"national_id": "0101')
write("import_lines", "seed-2", '{"national_id": "3102901234", "name": "Bad Date", "birthdate": "1990-02-31", "phone": "+4512345678"}\n'
      '{"national_id": "0101901234", "name": "A", "birthdate": "1990-01-01", "phone": "+4512345678", "extra": 1}\n')
write("import_lines", "seed-3", b"\xff\xfe{}\n")
