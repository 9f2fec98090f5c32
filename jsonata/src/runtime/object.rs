//! An object's members, keys in insertion order, with the subset of `IndexMap`'s interface the
//! evaluator uses.
//!
//! Written by hand because of the size JSON objects mostly have: a few members. `IndexMap`
//! (which this replaced) builds a hash table next to its entries for every object, and the
//! objects an evaluation makes and drops by the thousand (a state machine's `$states`, each
//! converted input, each constructed result) spent most of their time allocating and hashing
//! it; no well-kept crate keeps insertion order with a small, table-less mode. Up to
//! [`INDEXED_FROM`] members are a vector searched in order; from then on an index by key
//! (foldhash, randomly seeded per process) is kept beside it, so a 10,000-member group
//! still inserts and looks up in constant time.

use std::collections::HashMap;
use std::rc::Rc;

use super::value::Value;

/// Members from which lookups go through an index rather than a scan.
pub const INDEXED_FROM: usize = 12;

type Index = HashMap<Rc<str>, usize, foldhash::fast::RandomState>;

/// An object's members in insertion order.
#[derive(Clone, Default)]
pub struct Object {
    entries: Vec<(Rc<str>, Value)>,
    /// Position of each key, once there are [`INDEXED_FROM`] members.
    index: Option<Box<Index>>,
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl Object {
    /// No members.
    pub fn new() -> Object {
        Object::default()
    }

    /// No members, room for `n`.
    pub fn with_capacity(n: usize) -> Object {
        Object {
            entries: Vec::with_capacity(n),
            index: None,
        }
    }

    /// How many members.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True without members.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.entries.iter().position(|(k, _)| &**k == key),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    /// True when `key` is a member.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Sets `key` (in its place when it is a member, else last); the value it replaced.
    pub fn insert(&mut self, key: Rc<str>, value: Value) -> Option<Value> {
        if let Some(i) = self.position(&key) {
            return Some(std::mem::replace(&mut self.entries[i].1, value));
        }
        if let Some(index) = &mut self.index {
            index.insert(key.clone(), self.entries.len());
        }
        self.entries.push((key, value));
        if self.index.is_none() && self.entries.len() >= INDEXED_FROM {
            self.reindex();
        }
        None
    }

    /// Removes `key`, keeping the order of the others; its value.
    pub fn shift_remove(&mut self, key: &str) -> Option<Value> {
        let i = self.position(key)?;
        let (_, value) = self.entries.remove(i);
        if self.index.is_some() {
            self.reindex();
        }
        Some(value)
    }

    fn reindex(&mut self) {
        if self.entries.len() < INDEXED_FROM {
            self.index = None;
            return;
        }
        let mut index = Index::with_capacity_and_hasher(self.entries.len(), Default::default());
        for (i, (k, _)) in self.entries.iter().enumerate() {
            index.insert(k.clone(), i);
        }
        self.index = Some(Box::new(index));
    }

    /// The members in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Rc<str>, &Value)> + ExactSizeIterator {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Rc<str>> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The values in order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }
}

impl IntoIterator for Object {
    type Item = (Rc<str>, Value);
    type IntoIter = std::vec::IntoIter<(Rc<str>, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Object {
    type Item = (&'a Rc<str>, &'a Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (Rc<str>, Value)>,
        fn(&'a (Rc<str>, Value)) -> (&'a Rc<str>, &'a Value),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

impl Extend<(Rc<str>, Value)> for Object {
    fn extend<I: IntoIterator<Item = (Rc<str>, Value)>>(&mut self, members: I) {
        for (k, v) in members {
            self.insert(k, v);
        }
    }
}

impl FromIterator<(Rc<str>, Value)> for Object {
    fn from_iter<I: IntoIterator<Item = (Rc<str>, Value)>>(members: I) -> Object {
        let members = members.into_iter();
        let mut object = Object::with_capacity(members.size_hint().0);
        object.extend(members);
        object
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: usize) -> Rc<str> {
        Rc::from(format!("k{i}").as_str())
    }

    #[test]
    fn keeps_insertion_order_and_replaces_in_place_at_every_size() {
        for n in [0, 1, INDEXED_FROM - 1, INDEXED_FROM, 3 * INDEXED_FROM] {
            let mut o = Object::new();
            for i in 0..n {
                assert!(o.insert(key(i), Value::Number(i as f64)).is_none());
            }
            // replacing keeps the place
            if n > 0 {
                assert!(o.insert(key(0), Value::Null).is_some());
                assert!(matches!(o.iter().next(), Some((k, Value::Null)) if **k == *"k0"));
            }
            let keys: Vec<String> = o.keys().map(|k| k.to_string()).collect();
            assert_eq!(keys, (0..n).map(|i| format!("k{i}")).collect::<Vec<_>>());
            for i in 1..n {
                assert!(
                    matches!(o.get(&format!("k{i}")), Some(Value::Number(x)) if *x == i as f64)
                );
            }
            assert!(o.get("absent").is_none());
        }
    }

    #[test]
    fn removing_keeps_the_rest_in_order_and_findable_across_the_index_threshold() {
        let mut o: Object = (0..INDEXED_FROM + 2)
            .map(|i| (key(i), Value::Number(i as f64)))
            .collect();
        for i in [0, 5, INDEXED_FROM] {
            assert!(o.shift_remove(&format!("k{i}")).is_some());
        }
        assert_eq!(o.len(), INDEXED_FROM - 1);
        for i in (0..INDEXED_FROM + 2).filter(|i| ![0, 5, INDEXED_FROM].contains(i)) {
            assert!(o.contains_key(&format!("k{i}")), "k{i} lost");
        }
        assert!(!o.contains_key("k5"));
        o.insert(key(5), Value::Null);
        assert_eq!(o.keys().last().map(|k| k.to_string()), Some("k5".into()));
    }
}
