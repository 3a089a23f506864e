//! The in-memory part of the cache: prompts by key, least recently used evicted first once
//! their samples exceed a byte budget.

use std::collections::{BTreeMap, HashMap};

use crate::media::resample::Prompt;

use super::Key;

struct Entry {
    prompt: Prompt,
    last_used: u64,
    bytes: usize,
}

pub(super) struct MemoryLru {
    entries: HashMap<Key, Entry>,
    /// last_used → key, oldest first.
    order: BTreeMap<u64, Key>,
    clock: u64,
    bytes: usize,
    max_bytes: usize,
    evictions: u64,
}

impl MemoryLru {
    pub(super) fn new(max_bytes: usize) -> Self {
        Self {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            clock: 0,
            bytes: 0,
            max_bytes,
            evictions: 0,
        }
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// The prompt under `key`, marked as just used.
    pub(super) fn get(&mut self, key: &Key) -> Option<Prompt> {
        let now = self.tick();
        let entry = self.entries.get_mut(key)?;
        self.order.remove(&entry.last_used);
        entry.last_used = now;
        self.order.insert(now, *key);
        Some(entry.prompt.clone())
    }

    /// Keeps `prompt` under `key`, evicting the least recently used prompts to stay within
    /// the budget. A prompt larger than the whole budget is not kept.
    pub(super) fn insert(&mut self, key: Key, prompt: Prompt) {
        let bytes = prompt.len() * std::mem::size_of::<i16>();
        if bytes > self.max_bytes {
            return;
        }
        self.remove(&key);
        while self.bytes + bytes > self.max_bytes {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some(old) = self.entries.remove(&oldest) {
                self.bytes -= old.bytes;
                self.evictions += 1;
            }
        }
        let now = self.tick();
        self.order.insert(now, key);
        self.entries.insert(
            key,
            Entry {
                prompt,
                last_used: now,
                bytes,
            },
        );
        self.bytes += bytes;
    }

    fn remove(&mut self, key: &Key) {
        if let Some(old) = self.entries.remove(key) {
            self.order.remove(&old.last_used);
            self.bytes -= old.bytes;
        }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(super) fn evictions(&self) -> u64 {
        self.evictions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(samples: usize) -> Prompt {
        Prompt::new("t", vec![1i16; samples])
    }

    fn key(n: u8) -> Key {
        [n; 16]
    }

    #[test]
    fn evicts_least_recently_used_to_stay_in_budget() {
        let mut lru = MemoryLru::new(300); // room for three 50-sample prompts
        for n in 1..=3 {
            lru.insert(key(n), prompt(50));
        }
        assert_eq!((lru.len(), lru.bytes()), (3, 300));
        assert!(lru.get(&key(1)).is_some()); // 2 is now the oldest
        lru.insert(key(4), prompt(50));
        assert!(lru.get(&key(2)).is_none());
        assert!(lru.get(&key(1)).is_some());
        assert!(lru.get(&key(3)).is_some());
        assert!(lru.get(&key(4)).is_some());
        assert_eq!((lru.len(), lru.bytes(), lru.evictions()), (3, 300, 1));
    }

    #[test]
    fn too_large_prompts_are_not_kept() {
        let mut lru = MemoryLru::new(100);
        lru.insert(key(1), prompt(10));
        lru.insert(key(2), prompt(51));
        assert!(lru.get(&key(2)).is_none());
        assert!(
            lru.get(&key(1)).is_some(),
            "a refused prompt must not evict others"
        );
        let mut none = MemoryLru::new(0);
        none.insert(key(1), prompt(1));
        assert_eq!(none.len(), 0);
    }

    #[test]
    fn reinserting_a_key_replaces_it() {
        let mut lru = MemoryLru::new(1000);
        lru.insert(key(1), prompt(10));
        lru.insert(key(1), prompt(20));
        assert_eq!((lru.len(), lru.bytes()), (1, 40));
        assert_eq!(lru.get(&key(1)).map(|p| p.len()), Some(20));
    }
}
