//! The sandbox's journal: what each save adds to the snapshot, so a write is kept on disk
//! before it is answered without writing the whole store every time.
//!
//! - A save appends one line ([`Entry`]: the [`Change`]s of the writes it covers, the id
//!   counters and the day's token use after them) to `sandbox.journal` and syncs it
//!   (`fdatasync`) before any of those writes is answered. Writes that arrive while a
//!   save runs share the next one.
//! - Loading reads `sandbox.json` and applies the journal's lines in order. A last line
//!   without its newline is an append a crash cut short: it was never answered, and is
//!   left out.
//! - Compaction writes the whole store as a new snapshot (a temporary file, synced, renamed
//!   over the old one), then empties the journal: at start, and at a save once the
//!   journal has grown past the snapshot's size (at least [`COMPACT_AT_LEAST`]), so the
//!   bytes written stay proportional to the bytes changed. A crash between the rename and
//!   the truncation leaves a journal that the snapshot already holds; replaying it whole
//!   over that snapshot changes nothing (each record ends at its last value).

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{
    Change, Counters, DailyUse, Store, StoreError, encode, read_snapshot, write_atomically,
};

/// The journal never triggers a compaction below this size.
pub const COMPACT_AT_LEAST: u64 = 1 << 20;

/// One journal line.
#[derive(Debug, Serialize, Deserialize)]
pub struct Entry {
    pub changes: Vec<Change>,
    pub counters: Counters,
    pub daily: DailyUse,
}

/// The journal that goes with the snapshot at `snapshot`.
pub fn beside(snapshot: &Path) -> PathBuf {
    snapshot.with_extension("journal")
}

/// The kept store: the snapshot with the journal applied, or `None` when there is neither.
pub fn load(snapshot: &Path) -> Result<Option<Store>, StoreError> {
    let path = beside(snapshot);
    let lines = match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => return Err(StoreError::Read { path, source }),
    };
    match (read_snapshot(snapshot)?, lines) {
        (None, None) => Ok(None),
        (Some(store), None) => Ok(Some(store)),
        (None, Some(_)) => Err(StoreError::NoSnapshot { path }),
        (Some(mut store), Some(bytes)) => {
            replay(&mut store, &bytes, &path)?;
            Ok(Some(store))
        }
    }
}

/// Apply the journal's lines to `store`, in order.
fn replay(store: &mut Store, bytes: &[u8], path: &Path) -> Result<(), StoreError> {
    let mut lines = bytes
        .split_inclusive(|b| *b == b'\n')
        .enumerate()
        .peekable();
    while let Some((k, line)) = lines.next() {
        let complete = line.ends_with(b"\n");
        if !complete && lines.peek().is_none() {
            // An append cut short by a crash: never synced, never answered.
            break;
        }
        let entry: Entry =
            serde_json::from_slice(line).map_err(|source| StoreError::JournalLine {
                path: path.to_owned(),
                line: k + 1,
                source,
            })?;
        for change in entry.changes {
            store.apply(change);
        }
        store.counters = entry.counters;
        store.daily = entry.daily;
    }
    Ok(())
}

/// What one save writes: prepared from the store under its lock, written outside it.
#[derive(Debug)]
pub enum Save {
    /// A journal line, with its newline.
    Line(Vec<u8>),
    /// The whole store, as a new snapshot.
    Snapshot(Vec<u8>),
}

/// The open journal (one save at a time: the caller serialises them).
#[derive(Debug)]
pub struct Journal {
    snapshot: PathBuf,
    path: PathBuf,
    file: File,
    /// Bytes in the journal.
    len: u64,
    /// Bytes in the snapshot it follows.
    snapshot_len: u64,
    /// The journal is folded into a new snapshot once it is this long and longer than the
    /// snapshot ([`COMPACT_AT_LEAST`]).
    compact_at_least: u64,
    /// A write failed part way: the next save writes a snapshot and starts afresh.
    broken: bool,
}

impl Journal {
    /// Open the store kept at `snapshot` (or `seed` when none is kept): load it, compact
    /// (a new snapshot, an empty journal) and open the journal for appending.
    pub fn open(
        snapshot: &Path,
        seed: impl FnOnce() -> Store,
    ) -> Result<(Store, Journal), StoreError> {
        let store = load(snapshot)?.unwrap_or_else(seed);
        let bytes = encode(&store)?;
        write_atomically(snapshot, &bytes)?;
        let path = beside(snapshot);
        let write_error = |source| StoreError::Write {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(write_error)?;
        file.set_len(0).map_err(write_error)?;
        file.sync_all().map_err(write_error)?;
        // The journal's name itself must survive a crash of the machine.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(write_error)?;
        }
        let journal = Journal {
            snapshot: snapshot.to_owned(),
            path,
            file,
            len: 0,
            snapshot_len: bytes.len() as u64,
            compact_at_least: COMPACT_AT_LEAST,
            broken: false,
        };
        Ok((store, journal))
    }

    /// What the next save writes for the changes made to `store` since the last one:
    /// nothing when there are none, a journal line, or the whole store when the journal
    /// has grown past the snapshot (or a write failed).
    pub fn prepare(&self, store: &mut Store) -> Result<Option<Save>, StoreError> {
        let changes = store.take_unsaved();
        if self.broken || self.len >= self.snapshot_len.max(self.compact_at_least) {
            return encode(store).map(|bytes| Some(Save::Snapshot(bytes)));
        }
        if changes.is_empty() {
            return Ok(None);
        }
        let entry = Entry {
            changes,
            counters: store.counters.clone(),
            daily: store.daily.clone(),
        };
        let mut line = serde_json::to_vec(&entry).map_err(StoreError::Encode)?;
        line.push(b'\n');
        Ok(Some(Save::Line(line)))
    }

    /// Write `save` and sync it (blocking).
    pub fn write(&mut self, save: Save) -> Result<(), StoreError> {
        let written = match &save {
            Save::Line(line) => self.append(line),
            Save::Snapshot(bytes) => self.compact(bytes),
        };
        self.broken = written.is_err();
        written
    }

    fn append(&mut self, line: &[u8]) -> Result<(), StoreError> {
        let fail = |source| StoreError::Write {
            path: self.path.clone(),
            source,
        };
        self.file.write_all(line).map_err(fail)?;
        self.file.sync_data().map_err(fail)?;
        self.len += line.len() as u64;
        Ok(())
    }

    fn compact(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        write_atomically(&self.snapshot, bytes)?;
        self.snapshot_len = bytes.len() as u64;
        let fail = |source| StoreError::Write {
            path: self.path.clone(),
            source,
        };
        self.file.set_len(0).map_err(fail)?;
        self.file.sync_data().map_err(fail)?;
        self.len = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use chrono::Utc;

    use super::super::{Grant, Person, file_in};
    use super::*;

    fn person(id: i64, name: &str) -> Person {
        Person {
            id,
            name: name.into(),
            emails: Vec::new(),
            phones: Vec::new(),
            org_id: None,
            owner_id: 1001,
            visible_to: 3,
            add_time: Utc::now(),
            deleted: false,
        }
    }

    fn json(store: &Store) -> serde_json::Value {
        serde_json::to_value(store).unwrap()
    }

    /// One save of what changed.
    fn save(journal: &mut Journal, store: &mut Store) {
        if let Some(s) = journal.prepare(store).unwrap() {
            journal.write(s).unwrap();
        }
    }

    #[test]
    fn the_files_load_to_the_store_in_memory_and_a_torn_last_line_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let file = file_in(dir.path());
        let (mut store, mut journal) = Journal::open(&file, || Store::seed(Utc::now())).unwrap();
        store.put(Change::Person(person(1, "Ann")));
        store.counters.person = 2;
        save(&mut journal, &mut store);
        store.put(Change::Person(person(2, "Bob")));
        store.put(Change::Person(person(1, "Ann Renamed")));
        store.put(Change::Grants(vec![Grant {
            user_id: 1001,
            access_token: "a".into(),
            access_expires_at: Utc::now(),
            refresh_token: "r".into(),
            refresh_expires_at: Utc::now(),
            refreshed: 1,
        }]));
        store.counters.person = 3;
        store.daily.used = 42;
        save(&mut journal, &mut store);
        let kept = load(&file).unwrap().unwrap();
        assert_eq!(json(&kept), json(&store));
        assert_eq!(kept.persons[0].name, "Ann Renamed");
        assert_eq!((kept.counters.person, kept.daily.used), (3, 42));
        // Nothing changed: nothing written.
        let before = journal.len;
        assert!(journal.prepare(&mut store).unwrap().is_none());
        assert_eq!(journal.len, before);

        // A crash in the middle of an append leaves part of a line: never answered.
        let path = beside(&file);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"changes":[{"person":{"id":3,"na"#)
            .unwrap();
        assert_eq!(json(&load(&file).unwrap().unwrap()), json(&store));
        // A damaged line before the last is an error naming the file and the line.
        f.write_all(b"\n{}\n").unwrap();
        let e = load(&file).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("sandbox.journal"), "{e}");
    }

    #[test]
    fn the_journal_is_folded_into_the_snapshot_once_it_outgrows_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = file_in(dir.path());
        let (mut store, mut journal) = Journal::open(&file, || Store::seed(Utc::now())).unwrap();
        journal.compact_at_least = 0;
        let snapshot_len = journal.snapshot_len;
        let mut id = 0;
        while journal.len < snapshot_len {
            id += 1;
            store.put(Change::Person(person(id, &"x".repeat(200))));
            save(&mut journal, &mut store);
        }
        assert!(std::fs::metadata(beside(&file)).unwrap().len() >= snapshot_len);
        id += 1;
        store.put(Change::Person(person(id, "last")));
        save(&mut journal, &mut store);
        assert_eq!(journal.len, 0);
        assert_eq!(std::fs::metadata(beside(&file)).unwrap().len(), 0);
        assert_eq!(
            read_snapshot(&file).unwrap().unwrap().persons.len(),
            id as usize
        );
        assert_eq!(json(&load(&file).unwrap().unwrap()), json(&store));
    }

    #[test]
    fn a_journal_the_snapshot_already_holds_replays_to_the_same_store() {
        // A crash after a compaction's rename, before the journal was emptied.
        let dir = tempfile::tempdir().unwrap();
        let file = file_in(dir.path());
        let (mut store, mut journal) = Journal::open(&file, || Store::seed(Utc::now())).unwrap();
        store.put(Change::Person(person(1, "Ann")));
        save(&mut journal, &mut store);
        store.put(Change::Person(person(1, "Ann Renamed")));
        store.put(Change::Person(person(2, "Bob")));
        save(&mut journal, &mut store);
        write_atomically(&file, &encode(&store).unwrap()).unwrap();
        assert_eq!(json(&load(&file).unwrap().unwrap()), json(&store));
        // Opening folds it in and starts an empty journal.
        let (reopened, journal) = Journal::open(&file, || unreachable!()).unwrap();
        assert_eq!(json(&reopened), json(&store));
        assert_eq!(journal.len, 0);
    }
}
