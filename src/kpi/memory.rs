//! The live state kept in this process's memory (the embedded default), by the same rules as the
//! Redis store. It holds a contribution per open ticket, call and agent, so it is kept compact:
//! a member is one number, and the names and mark lists that thousands of tickets share are
//! stored once and referred to by index.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::domain::calendar::DEFAULT_TIME_ZONE as SANTIAGO;
use crate::domain::live::{self, Mark, Op, Snapshot};

/// Values stored once, each known by its index. Never shrinks: what it holds (gauge fields,
/// scopes, the mark lists they form) is bounded by the queues, channels and states, not by the
/// tickets.
struct Interner<T> {
    index: HashMap<T, u32>,
    items: Vec<T>,
}

impl<T> Default for Interner<T> {
    fn default() -> Self {
        Interner { index: HashMap::new(), items: Vec::new() }
    }
}

impl<T: Clone + Eq + Hash> Interner<T> {
    /// The index of `item`, stored first if new (only then is it copied).
    fn id<Q: ?Sized + Eq + Hash>(&mut self, item: &Q) -> u32
    where
        T: Borrow<Q> + for<'a> From<&'a Q>,
    {
        if let Some(id) = self.index.get(item) {
            return *id;
        }
        let id = u32::try_from(self.items.len()).expect("fewer than 2^32 distinct values");
        let item = T::from(item);
        self.items.push(item.clone());
        self.index.insert(item, id);
        id
    }

    fn get(&self, id: u32) -> &T {
        &self.items[id as usize]
    }
}

/// A member (`t:12`) or event id (`t:12`, `c:7`) as one number: a lowercase letter and an id
/// below 2^48, or else (top bit set) the index of the interned string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key(u64);

const INTERNED: u64 = 1 << 63;
const ID_BITS: u32 = 48;

impl Key {
    fn new(text: &str, names: &mut Interner<Box<str>>) -> Key {
        let packed = text.split_once(':').and_then(|(prefix, id)| {
            let [letter] = prefix.as_bytes() else { return None };
            // Only the form that reads back the same: digits, no leading zero.
            let canonical = id.bytes().all(|b| b.is_ascii_digit()) && !(id.len() > 1 && id.starts_with('0'));
            let id: u64 = id.parse().ok().filter(|id| canonical && *id < 1 << ID_BITS)?;
            letter.is_ascii_lowercase().then_some((u64::from(*letter) << ID_BITS) | id)
        });
        packed.map_or_else(|| Key(INTERNED | u64::from(names.id(text))), Key)
    }

    fn text(self, names: &Interner<Box<str>>) -> String {
        if self.0 & INTERNED != 0 {
            return names.get((self.0 & !INTERNED) as u32).to_string();
        }
        let letter = char::from((self.0 >> ID_BITS) as u8);
        format!("{letter}:{}", self.0 & ((1 << ID_BITS) - 1))
    }
}

/// One mark of a member, its names interned; a waiting time relative to the member's base.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Stored {
    Gauge(u32),
    Waiting { scope: u32, offset_ms: i64 },
}

/// What a member contributes: the version it came from and its interned mark list.
struct Tracked {
    version: i64,
    base_ms: i64,
    marks: u32,
}

#[derive(Default)]
pub struct MemoryState {
    /// Event ids applied, by the minute of their event.
    seen: HashMap<i64, HashSet<Key>>,
    minutes: BTreeMap<i64, HashMap<String, i64>>,
    days: BTreeMap<NaiveDate, HashMap<String, i64>>,
    gauges: HashMap<u32, i64>,
    tracked: HashMap<Key, Tracked>,
    /// Members whose marks include a wait.
    waiting: HashSet<Key>,
    names: Interner<Box<str>>,
    mark_lists: Interner<Box<[Stored]>>,
    pub cursors: HashMap<String, i64>,
    /// The installation (database) whose events this state holds.
    pub installation: Option<String>,
}

impl MemoryState {
    /// Whether nothing was ever applied or tracked.
    pub fn is_empty(&self) -> bool {
        self.cursors.is_empty() && self.tracked.is_empty()
    }

    /// Applies `ops` unless the event `id` (non-empty) was applied already.
    pub fn apply(&mut self, id: &str, minute: i64, ops: &[Op]) -> bool {
        if !id.is_empty() {
            let key = Key::new(id, &mut self.names);
            if !self.seen.entry(minute).or_default().insert(key) {
                return false;
            }
        }
        for op in ops {
            match op {
                Op::Count { minute, day, field, by } => {
                    *self.minutes.entry(*minute).or_default().entry(field.clone()).or_default() += by;
                    *self.days.entry(*day).or_default().entry(field.clone()).or_default() += by;
                }
                Op::Track { member, version, marks } => self.track(member, *version, marks),
            }
        }
        self.expire(Utc::now());
        true
    }

    /// Replaces what `member` contributes, unless a later version is stored.
    fn track(&mut self, member: &str, version: i64, marks: &[Mark]) {
        let key = Key::new(member, &mut self.names);
        if let Some(old) = self.tracked.get(&key) {
            if old.version > version {
                return;
            }
            let old = old.marks;
            self.count_gauges(old, -1);
        }
        self.waiting.remove(&key);
        if marks.is_empty() {
            self.tracked.remove(&key);
            return;
        }
        let (base_ms, list) = self.store_marks(marks);
        self.count_gauges(list, 1);
        if self.mark_lists.get(list).iter().any(|m| matches!(m, Stored::Waiting { .. })) {
            self.waiting.insert(key);
        }
        self.tracked.insert(key, Tracked { version, base_ms, marks: list });
    }

    fn store_marks(&mut self, marks: &[Mark]) -> (i64, u32) {
        let base_ms = marks
            .iter()
            .find_map(|m| match m {
                Mark::Waiting { since_ms, .. } => Some(*since_ms),
                Mark::Gauge(_) => None,
            })
            .unwrap_or_default();
        let stored: Vec<Stored> = marks
            .iter()
            .map(|m| match m {
                Mark::Gauge(field) => Stored::Gauge(self.names.id(field.as_str())),
                Mark::Waiting { scope, since_ms } => {
                    Stored::Waiting { scope: self.names.id(scope.as_str()), offset_ms: since_ms - base_ms }
                }
            })
            .collect();
        (base_ms, self.mark_lists.id(stored.as_slice()))
    }

    fn count_gauges(&mut self, list: u32, by: i64) {
        for mark in self.mark_lists.get(list).iter() {
            let Stored::Gauge(field) = mark else { continue };
            let value = self.gauges.entry(*field).or_default();
            *value += by;
            if *value <= 0 && by < 0 {
                self.gauges.remove(field);
            }
        }
    }

    /// Drops what Redis would have expired by `now`.
    fn expire(&mut self, now: DateTime<Utc>) {
        let oldest = live::unix_minute(now) - live::MINUTES_KEPT - 10;
        self.minutes = self.minutes.split_off(&oldest);
        self.seen.retain(|m, _| *m >= oldest);
        let today = now.with_timezone(&SANTIAGO).date_naive();
        self.days.retain(|d, _| *d >= today - TimeDelta::days(2));
    }

    pub fn snapshot(&self, now: DateTime<Utc>) -> Snapshot {
        let today = now.with_timezone(&SANTIAGO).date_naive();
        let name = |id: &u32| self.names.get(*id).to_string();
        let mut waiting = Vec::with_capacity(self.waiting.len());
        for key in &self.waiting {
            let Some(t) = self.tracked.get(key) else { continue };
            for mark in self.mark_lists.get(t.marks).iter() {
                if let Stored::Waiting { scope, offset_ms } = mark {
                    waiting.push((name(scope), key.text(&self.names), t.base_ms + offset_ms));
                }
            }
        }
        Snapshot {
            gauges: self.gauges.iter().map(|(field, value)| (name(field), *value)).collect(),
            waiting,
            minutes: self.minutes.range(live::minutes_needed(now)).map(|(m, c)| (*m, c.clone())).collect(),
            today: self.days.get(&today).cloned().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gauge(field: &str) -> Mark {
        Mark::Gauge(field.into())
    }

    fn waits(scope: &str, since_ms: i64) -> Mark {
        Mark::Waiting { scope: scope.into(), since_ms }
    }

    fn track(state: &mut MemoryState, member: &str, version: i64, marks: Vec<Mark>) {
        let op = Op::Track { member: member.into(), version, marks };
        state.apply("", 0, &[op]);
    }

    fn sorted(mut snapshot: Snapshot) -> Snapshot {
        snapshot.waiting.sort();
        snapshot
    }

    #[test]
    fn members_and_ids_pack_into_one_number_and_read_back() {
        let mut names = Interner::default();
        for text in ["t:0", "t:12", "c:7", "a:281474976710655"] {
            let key = Key::new(text, &mut names);
            assert_eq!(key.0 & INTERNED, 0, "{text} packed");
            assert_eq!(key.text(&names), text);
        }
        for text in ["t:012", "t:-1", "T:1", "tt:1", "t:", "all", "a:281474976710656", "t:1:2", ""] {
            let key = Key::new(text, &mut names);
            assert_ne!(key.0 & INTERNED, 0, "{text} interned");
            assert_eq!(key.text(&names), text);
        }
        assert_ne!(Key::new("t:1", &mut names), Key::new("c:1", &mut names));
        assert_eq!(Key::new("odd", &mut names), Key::new("odd", &mut names));
    }

    #[test]
    fn an_event_applies_once_per_id() {
        let mut state = MemoryState::default();
        let day = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let now = live::unix_minute(Utc::now());
        let count = Op::Count { minute: now, day, field: "all|created".into(), by: 1 };
        assert!(state.apply("t:1", now, std::slice::from_ref(&count)));
        assert!(!state.apply("t:1", now, std::slice::from_ref(&count)));
        assert!(state.apply("c:1", now, std::slice::from_ref(&count)));
        assert_eq!(state.minutes[&now]["all|created"], 2);
    }

    #[test]
    fn a_member_replaces_its_contribution_unless_it_is_older() {
        let mut state = MemoryState::default();
        track(&mut state, "t:1", 5, vec![gauge("backlog|all|new"), gauge("backlog|q:1|new"), waits("all", 1_000)]);
        track(&mut state, "t:2", 6, vec![gauge("backlog|all|new"), waits("all", 2_000), waits("q:1", 2_000)]);
        let s = sorted(state.snapshot(Utc::now()));
        assert_eq!(s.gauges.get("backlog|all|new"), Some(&2));
        assert_eq!(s.gauges.get("backlog|q:1|new"), Some(&1));
        let expected: Vec<(String, String, i64)> = vec![
            ("all".into(), "t:1".into(), 1_000),
            ("all".into(), "t:2".into(), 2_000),
            ("q:1".into(), "t:2".into(), 2_000),
        ];
        assert_eq!(s.waiting, expected);

        // An older version changes nothing; a newer one replaces, and no marks remove.
        track(&mut state, "t:1", 4, vec![]);
        assert_eq!(state.snapshot(Utc::now()).gauges.get("backlog|all|new"), Some(&2));
        track(&mut state, "t:1", 7, vec![gauge("backlog|all|open")]);
        track(&mut state, "t:2", 8, vec![]);
        let s = state.snapshot(Utc::now());
        assert_eq!(s.gauges.get("backlog|all|new"), None, "gauges at zero are dropped");
        assert_eq!(s.gauges.get("backlog|all|open"), Some(&1));
        assert!(s.waiting.is_empty());
        assert!(!state.tracked.contains_key(&Key::new("t:2", &mut state.names)));
    }

    #[test]
    fn members_with_the_same_marks_share_one_list_whatever_their_wait() {
        let mut state = MemoryState::default();
        for id in 0..1_000 {
            let marks = vec![gauge("backlog|all|new"), waits("all", id * 10), waits("q:3", id * 10)];
            track(&mut state, &format!("t:{id}"), id, marks);
        }
        track(&mut state, "t:5000", 1, vec![gauge("backlog|all|new"), waits("all", 10), waits("q:3", 30)]);
        assert_eq!(state.mark_lists.items.len(), 2);
        let s = state.snapshot(Utc::now());
        assert_eq!(s.gauges["backlog|all|new"], 1_001);
        assert_eq!(s.waiting.len(), 2_002);
        assert!(s.waiting.contains(&("q:3".into(), "t:5000".into(), 30)));
        assert!(s.waiting.contains(&("q:3".into(), "t:999".into(), 9_990)));
    }
}
