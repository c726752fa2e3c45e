//! Behaviour tests of `AesGcmSecretCipher` through its public API: round trips, the §6.3 envelope
//! wire format (checked with an independent AES-GCM decoder and fixed vectors made with Python's
//! `cryptography`), tampering, unknown versions/algorithms/key ids, rotation, the legacy raw
//! format, key configuration errors, and that no secret reaches errors or `Debug` output.

#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::sync::Arc;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use everruns_secrets::{AesGcmSecretCipher, EncryptionKey, KeyError, KeyFormatError, SecretCipher};
use serde_json::{Value, json};

const KEY_A_BYTES: [u8; 32] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
    31,
];
/// `kek-v1` over bytes 0..32.
const KEY_A: &str = "kek-v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY_A_MATERIAL: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// An envelope sealing `sk-golden-123` under `KEY_A`, made with Python's `cryptography` AESGCM
/// following contract §6.3 (fixed DEK 0x42…, wrap nonce 0x01…, data nonce 0x02…).
const GOLDEN_ENVELOPE: &str = r#"{"version":1,"alg":"AES-256-GCM","key_id":"kek-v1","dek_wrapped":"AQEBAQEBAQEBAQEBNYGndyrHKiSWFiVaWiUQmokszZnTwVSesZlFrt9LvHPBCbPWN17IT8AtYM5WrCX8","nonce":"AgICAgICAgICAgIC","ciphertext":"gY4rZbOQM+bDh6ID+TTIH/+yzhYcevmnK5BX6f4="}"#;

/// `sk-legacy-456` in the legacy raw format (nonce 0x03… ‖ ciphertext ‖ tag) under `KEY_A`'s
/// bytes, made with Python's `cryptography`.
const GOLDEN_LEGACY_HEX: &str = "0303030303030303030303039d2011ba6ef53375a770324bfba17bad84f00d9e547a10a1e8e1030d6f";

fn key_text(id: &str, bytes: &[u8]) -> String {
    format!("{id}:{}", STANDARD.encode(bytes))
}

fn key_b() -> String {
    key_text("kek-v2", &[0xB0; 32])
}

fn cipher_a() -> AesGcmSecretCipher {
    AesGcmSecretCipher::from_env_values(KEY_A, None).unwrap()
}

fn envelope(sealed: &[u8]) -> serde_json::Map<String, Value> {
    serde_json::from_slice(sealed).unwrap()
}

fn field_bytes(envelope: &serde_json::Map<String, Value>, name: &str) -> Vec<u8> {
    STANDARD.decode(envelope[name].as_str().unwrap()).unwrap()
}

fn with_field(sealed: &[u8], name: &str, value: Value) -> Vec<u8> {
    let mut envelope = envelope(sealed);
    envelope.insert(name.to_owned(), value);
    serde_json::to_vec(&envelope).unwrap()
}

fn with_flipped_byte(sealed: &[u8], name: &str, index: impl Fn(usize) -> usize) -> Vec<u8> {
    let mut bytes = field_bytes(&envelope(sealed), name);
    let at = index(bytes.len());
    bytes[at] ^= 0x01;
    with_field(sealed, name, json!(STANDARD.encode(bytes)))
}

fn legacy_seal(key: &[u8; 32], nonce: [u8; 12], plaintext: &str) -> Vec<u8> {
    let aead = Aes256Gcm::new_from_slice(key).unwrap();
    let mut sealed = nonce.to_vec();
    sealed.extend(aead.encrypt(&Nonce::<Aes256Gcm>::from(nonce), plaintext.as_bytes()).unwrap());
    sealed
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

fn python3_available() -> bool {
    Command::new("python3").arg("--version").output().is_ok_and(|out| out.status.success())
}

#[test]
fn round_trips_assorted_plaintexts() {
    let cipher = cipher_a();
    let long = "x".repeat(100_000);
    for plaintext in ["sk-test-123", "", "ключ 🔑 with unicode", r#"{"api_key":"sk-ant-1","base_url":null}"#, &long]
    {
        let sealed = cipher.seal(plaintext).unwrap();
        assert_eq!(cipher.open(&sealed).unwrap(), plaintext);
    }
}

#[test]
fn works_behind_the_port_trait_object() {
    let cipher: Arc<dyn SecretCipher> = Arc::new(cipher_a());
    let sealed = cipher.seal("sk-dyn").unwrap();
    assert_eq!(cipher.open(&sealed).unwrap(), "sk-dyn");
}

#[test]
fn seal_writes_the_contract_envelope() {
    let sealed = cipher_a().seal("sk-test-123").unwrap();
    let text = std::str::from_utf8(&sealed).unwrap();
    assert!(text.starts_with(r#"{"version":1,"alg":"AES-256-GCM","key_id":"kek-v1","dek_wrapped":""#), "{text}");
    assert!(!text.contains("sk-test-123"));

    let envelope = envelope(&sealed);
    let mut names: Vec<&str> = envelope.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["alg", "ciphertext", "dek_wrapped", "key_id", "nonce", "version"]);
    assert_eq!(envelope["version"], json!(1));
    assert_eq!(envelope["alg"], json!("AES-256-GCM"));
    assert_eq!(envelope["key_id"], json!("kek-v1"));
    assert_eq!(field_bytes(&envelope, "dek_wrapped").len(), 12 + 32 + 16);
    assert_eq!(field_bytes(&envelope, "nonce").len(), 12);
    assert_eq!(field_bytes(&envelope, "ciphertext").len(), "sk-test-123".len() + 16);
}

#[test]
fn envelope_decrypts_with_an_independent_implementation_of_the_contract() {
    let sealed = cipher_a().seal("sk-independent").unwrap();
    let envelope = envelope(&sealed);
    let dek_wrapped = field_bytes(&envelope, "dek_wrapped");
    let (wrap_nonce, wrapped) = dek_wrapped.split_at(12);
    let kek = Aes256Gcm::new_from_slice(&KEY_A_BYTES).unwrap();
    let dek = kek.decrypt(&Nonce::<Aes256Gcm>::try_from(wrap_nonce).unwrap(), wrapped).unwrap();
    assert_eq!(dek.len(), 32);
    let data = Aes256Gcm::new_from_slice(&dek).unwrap();
    let nonce = field_bytes(&envelope, "nonce");
    let plaintext = data
        .decrypt(
            &Nonce::<Aes256Gcm>::try_from(nonce.as_slice()).unwrap(),
            field_bytes(&envelope, "ciphertext").as_slice(),
        )
        .unwrap();
    assert_eq!(plaintext, b"sk-independent");
}

#[test]
fn opens_an_envelope_made_by_python_cryptography() {
    assert_eq!(cipher_a().open(GOLDEN_ENVELOPE.as_bytes()).unwrap(), "sk-golden-123");
    // Whitespace, field order and unknown extra fields do not matter.
    let reordered = with_field(GOLDEN_ENVELOPE.as_bytes(), "comment", json!("added later"));
    let pretty = serde_json::to_vec_pretty(&envelope(&reordered)).unwrap();
    assert_eq!(cipher_a().open(&pretty).unwrap(), "sk-golden-123");
}

#[test]
fn every_seal_uses_a_fresh_data_key_and_fresh_nonces() {
    let cipher = cipher_a();
    let first = cipher.seal("same plaintext").unwrap();
    let second = cipher.seal("same plaintext").unwrap();
    assert_ne!(first, second);
    let (first, second) = (envelope(&first), envelope(&second));
    for name in ["dek_wrapped", "nonce", "ciphertext"] {
        assert_ne!(first[name], second[name], "{name} repeated");
    }
    assert_ne!(field_bytes(&first, "dek_wrapped")[..12], field_bytes(&second, "dek_wrapped")[..12]);
}

#[test]
fn tampering_with_any_encrypted_part_fails() {
    let cipher = cipher_a();
    let sealed = cipher.seal("sk-secret-value").unwrap();
    let cases = [
        ("ciphertext body", with_flipped_byte(&sealed, "ciphertext", |_| 0)),
        ("ciphertext tag", with_flipped_byte(&sealed, "ciphertext", |len| len - 1)),
        ("data nonce", with_flipped_byte(&sealed, "nonce", |_| 5)),
        ("dek_wrapped nonce", with_flipped_byte(&sealed, "dek_wrapped", |_| 0)),
        ("dek_wrapped key", with_flipped_byte(&sealed, "dek_wrapped", |_| 20)),
        ("dek_wrapped tag", with_flipped_byte(&sealed, "dek_wrapped", |len| len - 1)),
    ];
    for (what, tampered) in cases {
        let err = cipher.open(&tampered).unwrap_err().to_string();
        assert!(err.contains("authentication failed"), "{what}: {err}");
        assert!(!err.contains("sk-secret-value") && !err.contains(KEY_A_MATERIAL), "{what}: {err}");
    }
    // Swapping the ciphertext of one envelope into another fails too (different data keys).
    let other = cipher.seal("sk-secret-value").unwrap();
    let spliced = with_field(&sealed, "ciphertext", envelope(&other)["ciphertext"].clone());
    assert!(cipher.open(&spliced).is_err());
}

#[test]
fn unknown_key_id_fails_with_a_clear_message() {
    let sealed = cipher_a().seal("sk-1").unwrap();
    let relabelled = with_field(&sealed, "key_id", json!("kek-v9"));
    let err = cipher_a().open(&relabelled).unwrap_err().to_string();
    assert!(err.contains("unknown key id \"kek-v9\"") && err.contains("kek-v1"), "{err}");

    let only_b = AesGcmSecretCipher::from_env_values(&key_b(), None).unwrap();
    let err = only_b.open(&sealed).unwrap_err().to_string();
    assert!(err.contains("unknown key id \"kek-v1\"") && err.contains("SECRETS_ENCRYPTION_KEY_PREVIOUS"), "{err}");
}

#[test]
fn a_known_id_over_the_wrong_key_fails_authentication() {
    let sealed = cipher_a().seal("sk-1").unwrap();
    let impostor = AesGcmSecretCipher::from_env_values(&key_text("kek-v1", &[9; 32]), None).unwrap();
    let err = impostor.open(&sealed).unwrap_err().to_string();
    assert!(err.contains("could not unwrap the data key") && err.contains("authentication failed"), "{err}");
}

#[test]
fn unknown_version_or_algorithm_is_rejected() {
    let sealed = cipher_a().seal("sk-1").unwrap();
    for version in [json!(2), json!(0), json!("1"), json!(1.5), Value::Null] {
        let err = cipher_a().open(&with_field(&sealed, "version", version.clone())).unwrap_err().to_string();
        assert!(err.contains("unsupported envelope version"), "{version}: {err}");
    }
    let mut no_version = envelope(&sealed);
    no_version.remove("version");
    let err = cipher_a().open(&serde_json::to_vec(&no_version).unwrap()).unwrap_err().to_string();
    assert!(err.contains("malformed envelope") && err.contains("version"), "{err}");

    for alg in ["AES-128-GCM", "aes-256-gcm", "ChaCha20-Poly1305"] {
        let err = cipher_a().open(&with_field(&sealed, "alg", json!(alg))).unwrap_err().to_string();
        assert!(err.contains("unsupported algorithm") && err.contains(alg), "{alg}: {err}");
    }
}

#[test]
fn malformed_envelopes_are_rejected() {
    let cipher = cipher_a();
    let sealed = cipher.seal("sk-1").unwrap();
    for name in ["key_id", "dek_wrapped", "nonce", "ciphertext", "alg"] {
        let mut missing = envelope(&sealed);
        missing.remove(name);
        let err = cipher.open(&serde_json::to_vec(&missing).unwrap()).unwrap_err().to_string();
        assert!(err.contains("malformed envelope") && err.contains(name), "{name}: {err}");
    }
    let cases = [
        ("nonce", json!("not base64!")),
        ("nonce", json!(STANDARD.encode([0u8; 16]))),
        ("dek_wrapped", json!(STANDARD.encode([0u8; 44]))),
        ("ciphertext", json!(STANDARD.encode([0u8; 15]))),
        ("ciphertext", json!(7)),
    ];
    for (name, value) in cases {
        let err = cipher.open(&with_field(&sealed, name, value.clone())).unwrap_err().to_string();
        assert!(err.contains("malformed envelope") && err.contains(name), "{name}={value}: {err}");
    }
}

#[test]
fn rotation_opens_old_values_and_seals_with_the_new_primary() {
    let old = cipher_a();
    let sealed_old = old.seal("sk-before-rotation").unwrap();

    let rotated = AesGcmSecretCipher::from_env_values(&key_b(), Some(KEY_A)).unwrap();
    assert_eq!(rotated.key_id(), "kek-v2");
    assert_eq!(rotated.previous_key_ids().collect::<Vec<_>>(), ["kek-v1"]);
    assert_eq!(rotated.open(&sealed_old).unwrap(), "sk-before-rotation");

    let sealed_new = rotated.seal("sk-after-rotation").unwrap();
    assert_eq!(envelope(&sealed_new)["key_id"], json!("kek-v2"));
    assert_eq!(rotated.open(&sealed_new).unwrap(), "sk-after-rotation");
    assert!(old.open(&sealed_new).is_err(), "the old key alone must not open new values");

    // The re-encryption job's view.
    assert!(rotated.needs_reseal(&sealed_old));
    assert!(!rotated.needs_reseal(&sealed_new));
    assert!(rotated.needs_reseal(&hex(GOLDEN_LEGACY_HEX)));
    let resealed = rotated.seal(&rotated.open(&sealed_old).unwrap()).unwrap();
    assert!(!rotated.needs_reseal(&resealed));

    // After the previous key is dropped, old values no longer open.
    let b_only = AesGcmSecretCipher::from_env_values(&key_b(), None).unwrap();
    assert!(b_only.open(&sealed_old).is_err());
    assert_eq!(b_only.open(&resealed).unwrap(), "sk-before-rotation");
}

#[test]
fn previous_may_list_several_keys_and_may_be_empty() {
    let key_c = key_text("kek-v0", &[0xC0; 32]);
    let sealed_c = AesGcmSecretCipher::from_env_values(&key_c, None).unwrap().seal("sk-c").unwrap();
    let sealed_a = cipher_a().seal("sk-a").unwrap();
    let cipher = AesGcmSecretCipher::from_env_values(&key_b(), Some(&format!("{KEY_A}, {key_c}\n"))).unwrap();
    assert_eq!(cipher.previous_key_ids().collect::<Vec<_>>(), ["kek-v1", "kek-v0"]);
    assert_eq!(cipher.open(&sealed_a).unwrap(), "sk-a");
    assert_eq!(cipher.open(&sealed_c).unwrap(), "sk-c");

    for empty in [Some(""), Some("  \n"), None] {
        let cipher = AesGcmSecretCipher::from_env_values(KEY_A, empty).unwrap();
        assert_eq!(cipher.previous_key_ids().count(), 0);
    }
}

#[test]
fn legacy_raw_format_opens() {
    let cipher = cipher_a();
    assert_eq!(cipher.open(&hex(GOLDEN_LEGACY_HEX)).unwrap(), "sk-legacy-456");
    let sealed = legacy_seal(&KEY_A_BYTES, [7; 12], "sk-legacy-local");
    assert_eq!(cipher.open(&sealed).unwrap(), "sk-legacy-local");
    // A nonce starting with '{' is still legacy: only a whole JSON object is an envelope.
    let brace = legacy_seal(&KEY_A_BYTES, [b'{'; 12], "sk-brace");
    assert_eq!(cipher.open(&brace).unwrap(), "sk-brace");
    // During rotation, legacy values under a previous key also open.
    let rotated = AesGcmSecretCipher::from_env_values(&key_b(), Some(KEY_A)).unwrap();
    assert_eq!(rotated.open(&sealed).unwrap(), "sk-legacy-local");
}

#[test]
fn legacy_raw_format_is_authenticated() {
    let cipher = cipher_a();
    let sealed = legacy_seal(&KEY_A_BYTES, [7; 12], "sk-legacy-local");
    for at in [0, 12, sealed.len() - 1] {
        let mut tampered = sealed.clone();
        tampered[at] ^= 0x80;
        let err = cipher.open(&tampered).unwrap_err().to_string();
        assert!(err.contains("does not authenticate"), "byte {at}: {err}");
        assert!(!err.contains("sk-legacy-local"), "{err}");
    }
    let other_key = AesGcmSecretCipher::from_env_values(&key_b(), None).unwrap();
    assert!(other_key.open(&sealed).is_err());
    let err = cipher.open(&sealed[..20]).unwrap_err().to_string();
    assert!(err.contains("too short"), "{err}");
    for not_an_object in [&b"[1,2,3]"[..], b"\"a string\"", b"null", b""] {
        assert!(cipher.open(not_an_object).is_err());
    }
}

#[test]
fn key_configuration_errors_name_the_variable_and_never_the_key() {
    let err = AesGcmSecretCipher::from_env_values("kek-v1", None).unwrap_err();
    assert_eq!(err, KeyError::Primary(KeyFormatError::MissingSeparator));
    assert!(err.to_string().starts_with("SECRETS_ENCRYPTION_KEY: "), "{err}");

    let bad_previous = format!("{KEY_A},kek-v0:{}", STANDARD.encode([1u8; 16]));
    let err = AesGcmSecretCipher::from_env_values(&key_b(), Some(&bad_previous)).unwrap_err();
    assert_eq!(
        err,
        KeyError::Previous { position: 2, error: KeyFormatError::WrongLength { key_id: "kek-v0".into(), actual: 16 } }
    );
    let message = err.to_string();
    assert!(message.starts_with("SECRETS_ENCRYPTION_KEY_PREVIOUS (key #2): "), "{message}");
    assert!(message.contains("16 bytes") && message.contains("exactly 32"), "{message}");
    assert!(!message.contains(&STANDARD.encode([1u8; 16])), "{message}");

    let err = AesGcmSecretCipher::from_env_values(&format!("kek-v1:{}", "A".repeat(43)), None).unwrap_err();
    assert_eq!(err, KeyError::Primary(KeyFormatError::InvalidBase64 { key_id: "kek-v1".into() }));
    assert!(!err.to_string().contains(&"A".repeat(43)));

    let duplicate = key_text("kek-v1", &[5; 32]);
    let err = AesGcmSecretCipher::from_env_values(KEY_A, Some(&duplicate)).unwrap_err();
    assert_eq!(err, KeyError::DuplicateKeyId { key_id: "kek-v1".into() });
    let err = AesGcmSecretCipher::from_env_values(&key_b(), Some(&format!("{KEY_A},{KEY_A}"))).unwrap_err();
    assert_eq!(err, KeyError::DuplicateKeyId { key_id: "kek-v1".into() });
    assert!(!err.to_string().contains(KEY_A_MATERIAL));
}

#[test]
fn new_builds_from_parsed_keys() {
    let cipher =
        AesGcmSecretCipher::new(key_b().parse::<EncryptionKey>().unwrap(), [EncryptionKey::parse(KEY_A).unwrap()])
            .unwrap();
    assert_eq!(cipher.key_id(), "kek-v2");
    assert_eq!(cipher.open(&cipher_a().seal("sk-new").unwrap()).unwrap(), "sk-new");
}

#[test]
fn ephemeral_cipher_round_trips_and_is_unique_per_instance() {
    let first = AesGcmSecretCipher::ephemeral();
    assert_eq!(first.key_id(), "ephemeral");
    let sealed = first.seal("sk-dev").unwrap();
    assert_eq!(first.open(&sealed).unwrap(), "sk-dev");
    assert!(AesGcmSecretCipher::ephemeral().open(&sealed).is_err());
}

#[test]
fn debug_output_shows_key_ids_only() {
    let cipher = AesGcmSecretCipher::from_env_values(&key_b(), Some(KEY_A)).unwrap();
    let debug = format!("{cipher:?}");
    assert_eq!(debug, r#"AesGcmSecretCipher { key_id: "kek-v2", previous_key_ids: ["kek-v1"] }"#);
    let pretty = format!("{cipher:#?}");
    assert!(!pretty.contains(KEY_A_MATERIAL) && !pretty.contains(&STANDARD.encode([0xB0; 32])), "{pretty}");
    assert!(!pretty.contains("176"), "{pretty}"); // 0xB0 as a decimal byte
    let key = EncryptionKey::parse(KEY_A).unwrap();
    assert_eq!(format!("{key:?}"), r#"EncryptionKey { id: "kek-v1", .. }"#);
}

#[test]
fn the_documented_python_generator_makes_a_valid_key() {
    if !python3_available() {
        eprintln!("skipped: python3 is not available");
        return;
    }
    let output = Command::new("python3")
        .args(["-c", "import os, base64; print('kek-v1:' + base64.b64encode(os.urandom(32)).decode())"])
        .output()
        .unwrap();
    assert!(output.status.success(), "python3 failed: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.ends_with('\n'), "print() adds a newline, which parsing must tolerate");
    let key = EncryptionKey::parse(&text).unwrap();
    assert_eq!(key.id(), "kek-v1");
    let cipher = AesGcmSecretCipher::from_env_values(&text, None).unwrap();
    assert_eq!(cipher.key_id(), "kek-v1");
    assert_eq!(cipher.open(&cipher.seal("sk-generated").unwrap()).unwrap(), "sk-generated");
}

#[test]
fn python_cryptography_opens_what_rust_seals() {
    const SCRIPT: &str = r#"
import base64, json, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
key = base64.b64decode(sys.argv[1].split(":", 1)[1])
env = json.loads(sys.stdin.buffer.read())
assert env["version"] == 1 and env["alg"] == "AES-256-GCM", env
wrapped = base64.b64decode(env["dek_wrapped"])
dek = AESGCM(key).decrypt(wrapped[:12], wrapped[12:], None)
plain = AESGCM(dek).decrypt(base64.b64decode(env["nonce"]), base64.b64decode(env["ciphertext"]), None)
sys.stdout.write(plain.decode())
"#;
    let probe = Command::new("python3").args(["-c", "import cryptography"]).output();
    if !probe.is_ok_and(|out| out.status.success()) {
        eprintln!("skipped: python3 with the `cryptography` package is not available");
        return;
    }
    let sealed = cipher_a().seal("sk-interop ✓").unwrap();
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT, KEY_A])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &sealed).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "python failed: {}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "sk-interop ✓");
}
