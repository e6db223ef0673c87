//! Pseudonymous by default: keyed pseudonyms for identifiers, the encrypted map that turns them
//! back into raw identifiers, and the hash-chained audit log of every reveal.
//!
//! - A [`Key`] is 32 random bytes kept in a file of 64 hex digits, mode 0600. Its
//!   [`Key::fingerprint`] names it in `manifest.json` without giving it away.
//! - [`Key::pseudonym`] is `P-` and the first 16 hex digits (64 bits) of
//!   HMAC-SHA256(key, `"redflag id\0"` ‖ id): the same id gets the same pseudonym in every output
//!   and every run under one key, and without the key a pseudonym cannot be computed from a
//!   guessed id (a plain hash of a 10-digit account number could be reversed by trying them all).
//! - `reveal.map` (written next to the outputs) holds, for every pseudonym the outputs use, the
//!   raw id encrypted with ChaCha20-Poly1305 under a key derived from the key, the pseudonym as
//!   associated data. Only the key holder can read it; [`reveal`] does, and logs the reveal.
//! - The audit log has one JSON object per line; each line carries the SHA-256 of the previous
//!   line's hash and its own text, so editing, deleting or reordering a line breaks the chain
//!   from that line on ([`verify_log`]). It holds pseudonyms and alert ids, never raw ids.
//!
//! ```
//! use redflag::privacy::Key;
//!
//! let key = Key::from_hex(&"11".repeat(32)).expect("64 hex digits");
//! let p = key.pseudonym("ACC-1001");
//! assert!(p.starts_with("P-") && p.len() == 18);
//! assert_eq!(p, key.pseudonym("ACC-1001"));
//! assert_ne!(p, key.pseudonym("ACC-1002"));
//! ```

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

type HmacSha256 = Hmac<Sha256>;

/// Environment variable naming the key file (`--key-file` wins over it).
pub const KEY_FILE_ENV: &str = "REDFLAG_KEY_FILE";
/// Environment variable naming redflag's own directory (key and audit log); default
/// `$XDG_CONFIG_HOME/redflag`, `~/.config/redflag`, or `%APPDATA%\redflag`.
pub const HOME_ENV: &str = "REDFLAG_HOME";
/// File name of the encrypted pseudonym map in an output directory.
pub const REVEAL_MAP: &str = "reveal.map";
const MAP_HEADER: &str = "redflag reveal map v1";

/// The pseudonymisation key. Its bytes never leave this type except to the key file; `Debug`
/// shows the fingerprint only.
#[derive(Clone)]
pub struct Key {
    mac: HmacSha256,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.fingerprint())
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(2 * bytes.len());
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

impl Key {
    fn from_bytes(bytes: &[u8; 32]) -> Key {
        Key {
            mac: <HmacSha256 as Mac>::new_from_slice(bytes).expect("HMAC takes keys of any length"),
        }
    }

    /// A key from 64 hex digits (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Key> {
        let bytes = unhex(text.trim())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| Error::Config("a key is 64 hex digits (32 bytes)".into()))?;
        Ok(Key::from_bytes(&bytes))
    }

    fn tag(&self, domain: &str, data: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// The pseudonym of an identifier: `P-` and 16 hex digits.
    pub fn pseudonym(&self, id: &str) -> String {
        format!("P-{}", hex(&self.tag("redflag id", id.as_bytes())[..8]))
    }

    /// Names the key (`K-` and 16 hex digits) without revealing it.
    pub fn fingerprint(&self) -> String {
        format!("K-{}", hex(&self.tag("redflag fingerprint", b"")[..8]))
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        let k = self.tag("redflag reveal-map key v1", b"");
        ChaCha20Poly1305::new(&k.into())
    }

    fn nonce(&self, pseudonym: &str) -> [u8; 12] {
        let t = self.tag("redflag reveal-map nonce v1", pseudonym.as_bytes());
        let mut n = [0u8; 12];
        n.copy_from_slice(&t[..12]);
        n
    }

    /// Reads a key file (64 hex digits). The message names the file, never its content.
    pub fn load(path: &Path) -> Result<Key> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("key file {}: {e}", path.display())))?;
        Key::from_hex(&text).map_err(|_| {
            Error::Config(format!(
                "key file {}: expected 64 hex digits (32 bytes) on one line",
                path.display()
            ))
        })
    }

    /// Reads the key file, or creates it (32 bytes from the operating system's generator,
    /// mode 0600, its directory created 0700) when it does not exist. Returns whether it was
    /// created. Two processes starting at once end up with the same key: the file appears
    /// complete or not at all.
    pub fn load_or_create(path: &Path) -> Result<(Key, bool)> {
        if path.exists() {
            return Ok((Key::load(path)?, false));
        }
        let fail = |e: &dyn std::fmt::Display| {
            Error::Config(format!("creating key file {}: {e}", path.display()))
        };
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        create_private_dir(dir).map_err(|e| fail(&e))?;
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| fail(&e))?;
        let tmp = dir.join(format!(".key.{}.tmp", std::process::id()));
        let mut f = private_file(&tmp).map_err(|e| fail(&e))?;
        f.write_all(format!("{}\n", hex(&bytes)).as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| fail(&e))?;
        drop(f);
        // hard_link fails when the key appeared meanwhile: then the other process's key wins.
        let linked = std::fs::hard_link(&tmp, path);
        std::fs::remove_file(&tmp).ok();
        match linked {
            Ok(()) => Ok((Key::from_bytes(&bytes), true)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Ok((Key::load(path)?, false))
            }
            Err(e) => Err(fail(&e)),
        }
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

/// redflag's own directory: `$REDFLAG_HOME`, else `$XDG_CONFIG_HOME/redflag`, else
/// `~/.config/redflag`, else `%APPDATA%\redflag`.
pub fn home_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    var(HOME_ENV)
        .map(PathBuf::from)
        .or_else(|| var("XDG_CONFIG_HOME").map(|d| PathBuf::from(d).join("redflag")))
        .or_else(|| var("HOME").map(|d| PathBuf::from(d).join(".config").join("redflag")))
        .or_else(|| var("APPDATA").map(|d| PathBuf::from(d).join("redflag")))
}

/// The key file to use: `explicit` (`--key-file`), else `$REDFLAG_KEY_FILE`, else `key` in
/// [`home_dir`].
pub fn key_path(explicit: Option<&Path>) -> Result<PathBuf> {
    explicit
        .map(Path::to_owned)
        .or_else(|| std::env::var_os(KEY_FILE_ENV).filter(|v| !v.is_empty()).map(PathBuf::from))
        .or_else(|| home_dir().map(|d| d.join("key")))
        .ok_or_else(|| {
            Error::Config(format!(
                "no place for the pseudonymisation key: give --key-file, or set {KEY_FILE_ENV} or {HOME_ENV}"
            ))
        })
}

/// The audit log to use: `explicit` (`--audit-log`), else `audit.log` in [`home_dir`].
pub fn audit_log_path(explicit: Option<&Path>) -> Result<PathBuf> {
    explicit
        .map(Path::to_owned)
        .or_else(|| home_dir().map(|d| d.join("audit.log")))
        .ok_or_else(|| {
            Error::Config(format!(
                "no place for the audit log: give --audit-log or set {HOME_ENV}"
            ))
        })
}

/// Pseudonyms given out during one run, with the raw ids they stand for.
#[derive(Debug, Clone)]
pub struct Pseudonyms {
    key: Key,
    of: hashbrown::HashMap<String, String>,
}

impl Pseudonyms {
    /// An empty table under `key`.
    pub fn new(key: Key) -> Pseudonyms {
        Pseudonyms {
            key,
            of: hashbrown::HashMap::new(),
        }
    }

    /// The key.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// Gives every id of `ids` its pseudonym (computed in parallel).
    pub fn assign<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) {
        let new: Vec<&str> = ids
            .into_iter()
            .filter(|id| !self.of.contains_key(*id))
            .collect();
        let made: Vec<String> = new.par_iter().map(|id| self.key.pseudonym(id)).collect();
        self.of.extend(new.into_iter().map(str::to_owned).zip(made));
    }

    /// The pseudonym of `id` (assigning it when new).
    pub fn get(&mut self, id: &str) -> &str {
        if !self.of.contains_key(id) {
            let p = self.key.pseudonym(id);
            self.of.insert(id.to_owned(), p);
        }
        &self.of[id]
    }

    /// Pseudonyms handed out.
    pub fn len(&self) -> usize {
        self.of.len()
    }

    /// No pseudonym handed out.
    pub fn is_empty(&self) -> bool {
        self.of.is_empty()
    }

    /// `reveal.map`: a header naming the key's fingerprint, then `pseudonym<TAB>hex(ciphertext)`
    /// per line, sorted by pseudonym (the same run gives the same bytes). Two ids with one
    /// pseudonym (odds about n² / 2⁶⁵) are an error rather than a silent merge.
    pub fn render_map(&self) -> Result<String> {
        let mut pairs: Vec<(&str, &str)> = self
            .of
            .iter()
            .map(|(raw, p)| (p.as_str(), raw.as_str()))
            .collect();
        pairs.par_sort_unstable();
        if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Error::Output(format!(
                "two identifiers share the pseudonym {}; rerun with another key",
                w[0].0
            )));
        }
        let cipher = self.key.cipher();
        let head = format!("{MAP_HEADER} {}\n", self.key.fingerprint());
        crate::output::render_in_pieces(&head, &pairs, |out, (p, raw)| {
            let sealed = cipher
                .encrypt(
                    Nonce::from_slice(&self.key.nonce(p)),
                    Payload {
                        msg: raw.as_bytes(),
                        aad: p.as_bytes(),
                    },
                )
                .map_err(|_| Error::Output("encrypting reveal.map failed".into()))?;
            out.push_str(p);
            out.push('\t');
            out.push_str(&hex(&sealed));
            out.push('\n');
            Ok(())
        })
    }
}

/// Looks `pseudonym` up in the `reveal.map` at `path` and decrypts its raw id.
pub fn lookup(path: &Path, key: &Key, pseudonym: &str) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let fp = header
        .strip_prefix(MAP_HEADER)
        .map(str::trim)
        .ok_or_else(|| {
            Error::Input(format!(
                "{}:1: expected the header \"{MAP_HEADER} K-...\"",
                path.display()
            ))
        })?;
    if fp != key.fingerprint() {
        return Err(Error::Input(format!(
            "{} was written under key {fp}; this key is {} (give the run's key with --key-file)",
            path.display(),
            key.fingerprint()
        )));
    }
    for (i, line) in lines.enumerate() {
        let Some((p, sealed)) = line.split_once('\t') else {
            return Err(Error::Input(format!(
                "{}:{}: expected pseudonym<TAB>ciphertext",
                path.display(),
                i + 2
            )));
        };
        if p != pseudonym {
            continue;
        }
        let bad = || {
            Error::Input(format!(
                "{}:{}: the entry for {p} does not decrypt (damaged or edited)",
                path.display(),
                i + 2
            ))
        };
        let sealed = unhex(sealed).ok_or_else(bad)?;
        let raw = key
            .cipher()
            .decrypt(
                Nonce::from_slice(&key.nonce(p)),
                Payload {
                    msg: &sealed,
                    aad: p.as_bytes(),
                },
            )
            .map_err(|_| bad())?;
        return String::from_utf8(raw).map_err(|_| bad());
    }
    Err(Error::Input(format!(
        "{pseudonym} is not in {}: no output of that run uses it",
        path.display()
    )))
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// 1 for the first line, then +1.
    pub seq: u64,
    /// When (RFC 3339, UTC).
    pub time: String,
    /// Who: `--analyst`, else the login name.
    pub who: String,
    /// What was done (`reveal`).
    pub action: String,
    /// What was asked for: an alert id or a pseudonym.
    pub target: String,
    /// The pseudonym revealed.
    pub pseudonym: String,
    /// The run's output directory.
    pub run: String,
    /// SHA-256 of that run's `manifest.json`.
    pub manifest_sha256: String,
    /// Why, as the analyst stated it.
    pub purpose: String,
    /// The previous line's `hash` (64 zeros for the first line).
    pub prev: String,
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn chain_hash(prev: &str, body: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(body.as_bytes());
    hex(&h.finalize())
}

/// Splits a log line into its body (the object without `hash`) and its hash.
fn split_line(line: &str) -> Option<(String, &str)> {
    let at = line.rfind(",\"hash\":\"")?;
    let hash = line[at + 9..].strip_suffix("\"}")?;
    Some((format!("{}}}", &line[..at]), hash))
}

/// Appends `entry` (its `seq` and `prev` filled in here) to the log at `path`, creating it
/// (mode 0600) when missing, after checking the chain so far. Returns the new line's hash.
pub fn append_log(path: &Path, mut entry: AuditEntry) -> Result<(u64, String)> {
    let fail = |e: &dyn std::fmt::Display| Error::Output(format!("{}: {e}", path.display()));
    let (last_seq, last_hash) = if path.exists() {
        let status = verify_log(path)?;
        if let Some(problem) = status.problem {
            return Err(Error::Output(format!(
                "{}: the audit log is broken ({problem}); nothing was revealed",
                path.display()
            )));
        }
        (status.lines, status.head)
    } else {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(|e| fail(&e))?;
        }
        (0, GENESIS.to_owned())
    };
    entry.seq = last_seq + 1;
    entry.prev = last_hash;
    let body = serde_json::to_string(&entry).map_err(|e| fail(&e))?;
    let hash = chain_hash(&entry.prev, &body);
    let line = format!(
        "{},\"hash\":\"{hash}\"}}\n",
        body.strip_suffix('}').unwrap_or(&body)
    );
    let mut o = std::fs::OpenOptions::new();
    o.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o.open(path).map_err(|e| fail(&e))?;
    f.write_all(line.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| fail(&e))?;
    Ok((entry.seq, hash))
}

/// What [`verify_log`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct LogStatus {
    /// Lines read.
    pub lines: u64,
    /// The last good line's hash (record it elsewhere to detect lines cut off the end).
    pub head: String,
    /// The first break in the chain: its line number and what is wrong.
    pub problem: Option<String>,
}

/// Checks every line of the audit log: its own hash, the previous line's hash and the
/// sequence number. An edited line fails its own hash; a deleted or reordered one breaks the
/// link of the line after it.
pub fn verify_log(path: &Path) -> Result<LogStatus> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
    let mut prev = GENESIS.to_owned();
    let mut n = 0u64;
    for (i, line) in text.lines().enumerate() {
        let at = i + 1;
        let broken = |what: String| LogStatus {
            lines: n,
            head: prev.clone(),
            problem: Some(format!("line {at}: {what}")),
        };
        let Some((body, hash)) = split_line(line) else {
            return Ok(broken("not an audit entry ending in \"hash\"".into()));
        };
        let Ok(entry) = serde_json::from_str::<AuditEntry>(&body) else {
            return Ok(broken("not an audit entry (bad JSON)".into()));
        };
        if entry.prev != prev {
            return Ok(broken(
                "does not follow the line before it (a line was deleted, inserted or moved)".into(),
            ));
        }
        if chain_hash(&entry.prev, &body) != hash {
            return Ok(broken(
                "its content does not match its hash (edited)".into(),
            ));
        }
        if entry.seq != n + 1 {
            return Ok(broken(format!(
                "sequence {} where {} was due",
                entry.seq,
                n + 1
            )));
        }
        n += 1;
        prev = hash.to_owned();
    }
    Ok(LogStatus {
        lines: n,
        head: prev,
        problem: None,
    })
}

/// A reveal request.
#[derive(Debug, Clone)]
pub struct RevealRequest<'a> {
    /// An alert id (`A-...`) from the run's alerts, or a pseudonym (`P-...`).
    pub target: &'a str,
    /// The run's output directory (with `manifest.json`, `alerts.jsonl`, `reveal.map`).
    pub run_dir: &'a Path,
    /// Why (required).
    pub purpose: &'a str,
    /// Who.
    pub who: &'a str,
    /// The audit log.
    pub log: &'a Path,
}

/// What a reveal returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Revealed {
    /// The pseudonym.
    pub pseudonym: String,
    /// The raw identifier.
    pub raw_id: String,
    /// The entity kind, when the target was an alert.
    pub entity_kind: Option<String>,
    /// The audit line written, and its hash.
    pub log_seq: u64,
    /// Hash of the audit line.
    pub log_hash: String,
}

/// A purpose must say something.
pub fn check_purpose(purpose: &str) -> Result<()> {
    if purpose.trim().len() < 3 {
        return Err(Error::Config(
            "--purpose must say why (e.g. \"STR draft for case A-...\")".into(),
        ));
    }
    Ok(())
}

/// Maps an alert id or pseudonym of a run back to the raw identifier, after appending who,
/// when, what and why to the audit log. Nothing is revealed when the log cannot be written or
/// is already broken.
pub fn reveal(req: &RevealRequest<'_>, key: &Key) -> Result<Revealed> {
    check_purpose(req.purpose)?;
    let (pseudonym, kind) = if req.target.starts_with("A-") {
        let path = req.run_dir.join("alerts.jsonl");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
        let mut found = None;
        for (i, line) in text.lines().enumerate() {
            let a: crate::Alert = serde_json::from_str(line)
                .map_err(|e| Error::Input(format!("{}:{}: {e}", path.display(), i + 1)))?;
            if a.alert_id == req.target {
                found = Some((a.entity_id, Some(a.entity_kind)));
                break;
            }
        }
        found
            .ok_or_else(|| Error::Input(format!("no alert {} in {}", req.target, path.display())))?
    } else if req.target.starts_with("P-") {
        (req.target.to_owned(), None)
    } else {
        return Err(Error::Config(format!(
            "{:?} is neither an alert id (A-...) nor a pseudonym (P-...)",
            req.target
        )));
    };
    let map = req.run_dir.join(REVEAL_MAP);
    // Decrypt first (a wrong key or unknown pseudonym logs nothing), then log, then return.
    let raw_id = lookup(&map, key, &pseudonym)?;
    let (log_seq, log_hash) = log_access(req, "reveal", req.target, &pseudonym)?;
    Ok(Revealed {
        pseudonym,
        raw_id,
        entity_kind: kind,
        log_seq,
        log_hash,
    })
}

/// Appends one access to raw identities to the audit log: who (`req.who`), when (now), what
/// (`action` on `target`, the `pseudonym` whose identity is used, the run and its manifest's
/// hash) and why (`req.purpose`). Returns the line's number and hash.
pub fn log_access(
    req: &RevealRequest<'_>,
    action: &str,
    target: &str,
    pseudonym: &str,
) -> Result<(u64, String)> {
    let manifest_path = req.run_dir.join("manifest.json");
    let manifest = std::fs::read(&manifest_path)
        .map_err(|e| Error::Input(format!("{}: {e}", manifest_path.display())))?;
    let entry = AuditEntry {
        seq: 0,
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        who: req.who.to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        pseudonym: pseudonym.to_owned(),
        run: req.run_dir.display().to_string(),
        manifest_sha256: hex(&Sha256::digest(&manifest)),
        purpose: req.purpose.trim().to_owned(),
        prev: String::new(),
    };
    append_log(req.log, entry)
}

impl crate::AlertSet {
    /// How `raw` appears in this set's outputs: its pseudonym in a pseudonymous run, else
    /// itself.
    pub fn display_id(&self, raw: &str) -> String {
        match &self.pseudonyms {
            Some(p) => p.key().pseudonym(raw),
            None => raw.to_owned(),
        }
    }

    /// Replaces every identifier with its pseudonym: entity ids in alerts and scores, the
    /// parties of the money flows, and alert and case ids (re-derived from the pseudonym, so
    /// that an alert id cannot be recomputed from a guessed account number). Ranks do not
    /// change: ties were broken by the raw ids before.
    pub(crate) fn pseudonymize(&mut self, key: Key, as_of: i64, pack_sha: &str) -> Result<()> {
        let mut table = Pseudonyms::new(key);
        // Every entity scored, in place and in parallel; the table keeps raw → pseudonym.
        let raw: Vec<String> = self
            .scores
            .par_iter_mut()
            .map(|s| {
                let p = table.key.pseudonym(&s.entity_id);
                std::mem::replace(&mut s.entity_id, p)
            })
            .collect();
        table.of.extend(
            raw.into_iter()
                .zip(self.scores.iter().map(|s| s.entity_id.clone())),
        );
        table.assign(
            self.flows
                .iter()
                .flat_map(|f| [f.from.as_str(), f.to.as_str()]),
        );
        let mut renamed: HashMap<String, String> = HashMap::new();
        for a in &mut self.alerts {
            a.entity_id = table.get(&a.entity_id).to_owned();
            let id = crate::engine::alert_id(&a.entity_kind, &a.entity_id, as_of, pack_sha);
            renamed.insert(std::mem::replace(&mut a.alert_id, id.clone()), id);
        }
        for a in &mut self.alerts {
            if let Some(id) = renamed.get(&a.case_id) {
                a.case_id = id.clone();
            }
        }
        for f in &mut self.flows {
            f.from = table.get(&f.from).to_owned();
            f.to = table.get(&f.to).to_owned();
        }
        self.flows
            .sort_by(|a, b| a.from.cmp(&b.from).then_with(|| a.to.cmp(&b.to)));
        self.manifest.ids = BTreeMap::from([
            ("mode".to_owned(), "pseudonymous".to_owned()),
            ("key_fingerprint".to_owned(), table.key().fingerprint()),
            (
                "scheme".to_owned(),
                "P- + first 64 bits of HMAC-SHA256(key, id); reveal.map holds the raw ids, \
                 ChaCha20-Poly1305-encrypted"
                    .to_owned(),
            ),
            ("pseudonyms".to_owned(), table.len().to_string()),
        ]);
        self.pseudonyms = Some(table);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> Key {
        Key::from_bytes(&[b; 32])
    }

    #[test]
    fn hex_is_two_lower_case_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff, 0x10]), "000fa5ff10");
        assert_eq!(unhex(&hex(&[7, 200, 33])), Some(vec![7, 200, 33]));
    }

    #[test]
    fn pseudonyms_depend_on_the_key_and_the_id() {
        let (a, b) = (key(1), key(2));
        assert_eq!(a.pseudonym("ACC-1"), a.pseudonym("ACC-1"));
        assert_ne!(a.pseudonym("ACC-1"), a.pseudonym("ACC-2"));
        assert_ne!(a.pseudonym("ACC-1"), b.pseudonym("ACC-1"));
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert!(
            !format!("{a:?}").contains("0101"),
            "Debug shows no key bytes"
        );
    }

    #[test]
    fn the_map_decrypts_under_its_key_only_and_detects_edits() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut p = Pseudonyms::new(key(3));
        let id = p.get("ACC-77").to_owned();
        p.assign(["CUS-5", "ACC-77"]);
        assert_eq!((p.len(), p.get("ACC-77")), (2, id.as_str()));
        let path = dir.path().join(REVEAL_MAP);
        let text = p.render_map().expect("map");
        assert!(!text.contains("ACC-77"), "raw ids are encrypted");
        std::fs::write(&path, &text).expect("write");
        assert_eq!(lookup(&path, &key(3), &id).expect("lookup"), "ACC-77");
        let wrong = lookup(&path, &key(4), &id).expect_err("other key");
        assert!(wrong.to_string().contains("written under key"), "{wrong}");
        // Flip one hex digit of the ciphertext.
        let line = text.lines().find(|l| l.starts_with(&id)).expect("line");
        let last = line.chars().last().expect("char");
        let flipped = format!(
            "{}{}",
            &line[..line.len() - 1],
            if last == '0' { '1' } else { '0' }
        );
        std::fs::write(&path, text.replace(line, &flipped)).expect("write");
        let err = lookup(&path, &key(3), &id).expect_err("edited");
        assert!(err.to_string().contains("does not decrypt"), "{err}");
    }

    fn entry(purpose: &str) -> AuditEntry {
        AuditEntry {
            seq: 0,
            time: "2026-11-28T10:00:00Z".into(),
            who: "analyst".into(),
            action: "reveal".into(),
            target: "A-1".into(),
            pseudonym: "P-1".into(),
            run: "out".into(),
            manifest_sha256: "00".into(),
            purpose: purpose.into(),
            prev: String::new(),
        }
    }

    #[test]
    fn the_log_chain_detects_edits_deletions_and_reordering() {
        let dir = tempfile::tempdir().expect("tmp");
        let log = dir.path().join("audit.log");
        for p in ["first", "second", "third"] {
            append_log(&log, entry(p)).expect("append");
        }
        let good = verify_log(&log).expect("verify");
        assert_eq!((good.lines, good.problem.clone()), (3, None));
        let text = std::fs::read_to_string(&log).expect("read");
        let lines: Vec<&str> = text.lines().collect();

        let cases = [
            (text.replace("second", "sec0nd"), "line 2: its content"),
            (
                format!("{}\n{}\n", lines[0], lines[2]),
                "line 2: does not follow",
            ),
            (
                format!("{}\n{}\n{}\n", lines[1], lines[0], lines[2]),
                "line 1: does not follow",
            ),
        ];
        for (tampered, expect) in cases {
            std::fs::write(&log, tampered).expect("write");
            let s = verify_log(&log).expect("verify");
            let problem = s.problem.expect("a break is found");
            assert!(problem.starts_with(expect), "{problem}");
            let refused = append_log(&log, entry("more")).expect_err("no append to a broken log");
            assert!(refused.to_string().contains("broken"), "{refused}");
        }
    }
}
