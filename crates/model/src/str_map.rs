//! [`StrMap`]: a map from strings, as a vector sorted by key — the entries
//! of an object or map value ([`StrMap<V>`](crate::StrMap<V>)).
//!
//! Almost every map kiln holds is small (a resource's attributes, a `tags`
//! or `triggers` map): a `BTreeMap` gives each one at least a whole B-tree
//! leaf (eleven key and value slots, ~630 bytes) however few entries it
//! has, which was a third of the peak memory of a plan of 100,000 resources
//! (docs/performance.md). A sorted vector holds exactly its entries
//! (56 bytes each), finds a key by binary search, and iterates in key order
//! as the `BTreeMap` did. The API is the subset of `BTreeMap<String, V>`
//! kiln uses, with the same names and meanings.
//!
//! Keys are [`Key`]s: an attribute name is not an allocation of its own in
//! every object that has it (100,000 resources of four attributes held
//! half a million of them, in the state alone).
//!
//! Cost: inserting a key that sorts before existing ones moves the entries
//! after it (O(n)); building from an iterator sorts once (O(n log n)), and
//! appending keys in order is O(1), so the maps built in bulk (a `for`
//! expression, a JSON object, a conversion) never pay it.

use std::collections::BTreeMap;
use std::fmt;

/// A map's key: up to 23 bytes held inline (every attribute name kiln has
/// met, most map keys), longer ones shared; clones never copy the text.
pub type Key = smol_str::SmolStr;

/// Entries sorted by key, each key once. See the module docs.
#[derive(Clone, PartialEq)]
pub struct StrMap<V> {
    entries: Vec<(Key, V)>,
}

impl<V> Default for StrMap<V> {
    fn default() -> StrMap<V> {
        StrMap::new()
    }
}

impl<V> StrMap<V> {
    pub const fn new() -> StrMap<V> {
        StrMap {
            entries: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn find<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        Q: AsRef<str> + ?Sized,
    {
        self.entries
            .binary_search_by(|(k, _)| k.as_str().cmp(key.as_ref()))
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        Q: AsRef<str> + ?Sized,
    {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&Key, &V)>
    where
        Q: AsRef<str> + ?Sized,
    {
        self.find(key).ok().map(|i| {
            let (k, v) = &self.entries[i];
            (k, v)
        })
    }

    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        Q: AsRef<str> + ?Sized,
    {
        self.find(key).ok().map(|i| &mut self.entries[i].1)
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        Q: AsRef<str> + ?Sized,
    {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`; returns the value it replaced.
    pub fn insert(&mut self, key: impl Into<Key>, value: V) -> Option<V> {
        let key = key.into();
        // Keys arriving in order (a JSON object, a sorted source) append.
        if self.entries.last().is_none_or(|(last, _)| *last < key) {
            self.entries.push((key, value));
            return None;
        }
        match self.find(key.as_str()) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        Q: AsRef<str> + ?Sized,
    {
        self.remove_entry(key).map(|(_, v)| v)
    }

    pub fn remove_entry<Q>(&mut self, key: &Q) -> Option<(Key, V)>
    where
        Q: AsRef<str> + ?Sized,
    {
        self.find(key).ok().map(|i| self.entries.remove(i))
    }

    /// Keeps the entries for which `f` is true, in order.
    pub fn retain(&mut self, mut f: impl FnMut(&Key, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| f(k, v));
    }

    /// Moves every entry of `other` into `self` (replacing equal keys), as
    /// `BTreeMap::append`.
    pub fn append(&mut self, other: &mut StrMap<V>) {
        let other = std::mem::take(&mut other.entries);
        self.extend(other);
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn first_key_value(&self) -> Option<(&Key, &V)> {
        self.entries.first().map(|(k, v)| (k, v))
    }

    pub fn last_key_value(&self) -> Option<(&Key, &V)> {
        self.entries.last().map(|(k, v)| (k, v))
    }

    pub fn iter(&self) -> Iter<'_, V> {
        Iter(self.entries.iter())
    }

    pub fn iter_mut(&mut self) -> IterMut<'_, V> {
        IterMut(self.entries.iter_mut())
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Key> + ExactSizeIterator + Clone {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator + Clone {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> + ExactSizeIterator {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    pub fn into_keys(self) -> impl DoubleEndedIterator<Item = Key> + ExactSizeIterator {
        self.entries.into_iter().map(|(k, _)| k)
    }

    pub fn into_values(self) -> impl DoubleEndedIterator<Item = V> + ExactSizeIterator {
        self.entries.into_iter().map(|(_, v)| v)
    }

    /// The same keys, each value through `f` (no sorting: the order is
    /// the keys').
    pub fn map_values_ref<U>(&self, mut f: impl FnMut(&V) -> U) -> StrMap<U> {
        StrMap {
            entries: self
                .entries
                .iter()
                .map(|(k, v)| (k.clone(), f(v)))
                .collect(),
        }
    }

    /// The entry for `key`, to read, change or fill in place.
    pub fn entry(&mut self, key: impl Into<Key>) -> Entry<'_, V> {
        let key = key.into();
        match self.find(key.as_str()) {
            Ok(index) => Entry::Occupied(OccupiedEntry { map: self, index }),
            Err(index) => Entry::Vacant(VacantEntry {
                map: self,
                index,
                key,
            }),
        }
    }

    /// Sorted, the last of equal keys kept (what inserting them one after
    /// the other leaves).
    fn from_unsorted(mut entries: Vec<(Key, V)>) -> StrMap<V> {
        if !entries.is_sorted_by(|a, b| a.0 < b.0) {
            // Stable: among equal keys the later entry stays later, and
            // takes the place of the one kept.
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            entries.dedup_by(|later, kept| {
                let same = later.0 == kept.0;
                if same {
                    std::mem::swap(later, kept);
                }
                same
            });
        }
        StrMap { entries }
    }

    /// Releases spare capacity (a map that grew by inserts).
    pub fn shrink_to_fit(&mut self) {
        self.entries.shrink_to_fit();
    }
}

impl<V: fmt::Debug> fmt::Debug for StrMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V, Q> std::ops::Index<&Q> for StrMap<V>
where
    Q: AsRef<str> + ?Sized,
{
    type Output = V;
    /// # Panics
    /// If `key` is not in the map (as `BTreeMap`'s index).
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry found for key")
    }
}

impl<K: Into<Key>, V> FromIterator<(K, V)> for StrMap<V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> StrMap<V> {
        let entries = iter.into_iter().map(|(k, v)| (k.into(), v)).collect();
        let mut map = StrMap::from_unsorted(entries);
        map.shrink_to_fit();
        map
    }
}

impl<K: Into<Key>, V> Extend<(K, V)> for StrMap<V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        self.entries
            .extend(iter.into_iter().map(|(k, v)| (k.into(), v)));
        *self = StrMap::from_unsorted(std::mem::take(&mut self.entries));
    }
}

impl<V> From<BTreeMap<String, V>> for StrMap<V> {
    fn from(map: BTreeMap<String, V>) -> StrMap<V> {
        StrMap {
            entries: map.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        }
    }
}

impl<V> From<StrMap<V>> for BTreeMap<String, V> {
    fn from(map: StrMap<V>) -> BTreeMap<String, V> {
        map.entries
            .into_iter()
            .map(|(k, v)| (k.into(), v))
            .collect()
    }
}

impl<K: Into<Key>, V, const N: usize> From<[(K, V); N]> for StrMap<V> {
    fn from(entries: [(K, V); N]) -> StrMap<V> {
        entries.into_iter().collect()
    }
}

impl<V> IntoIterator for StrMap<V> {
    type Item = (Key, V);
    type IntoIter = std::vec::IntoIter<(Key, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a, V> IntoIterator for &'a StrMap<V> {
    type Item = (&'a Key, &'a V);
    type IntoIter = Iter<'a, V>;
    fn into_iter(self) -> Iter<'a, V> {
        self.iter()
    }
}

impl<'a, V> IntoIterator for &'a mut StrMap<V> {
    type Item = (&'a Key, &'a mut V);
    type IntoIter = IterMut<'a, V>;
    fn into_iter(self) -> IterMut<'a, V> {
        self.iter_mut()
    }
}

/// The entries in key order, as `(&key, &value)`.
pub struct Iter<'a, V>(std::slice::Iter<'a, (Key, V)>);

impl<V> Clone for Iter<'_, V> {
    fn clone(&self) -> Self {
        Iter(self.0.clone())
    }
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (&'a Key, &'a V);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<V> DoubleEndedIterator for Iter<'_, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (k, v))
    }
}

impl<V> ExactSizeIterator for Iter<'_, V> {}

/// The entries in key order, as `(&key, &mut value)`.
pub struct IterMut<'a, V>(std::slice::IterMut<'a, (Key, V)>);

impl<'a, V> Iterator for IterMut<'a, V> {
    type Item = (&'a Key, &'a mut V);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (&*k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<V> DoubleEndedIterator for IterMut<'_, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (&*k, v))
    }
}

impl<V> ExactSizeIterator for IterMut<'_, V> {}

/// [`StrMap<V>::entry`].
pub enum Entry<'a, V> {
    Occupied(OccupiedEntry<'a, V>),
    Vacant(VacantEntry<'a, V>),
}

pub struct OccupiedEntry<'a, V> {
    map: &'a mut StrMap<V>,
    index: usize,
}

pub struct VacantEntry<'a, V> {
    map: &'a mut StrMap<V>,
    index: usize,
    key: Key,
}

impl<'a, V> Entry<'a, V> {
    pub fn or_insert(self, default: V) -> &'a mut V {
        self.or_insert_with(|| default)
    }

    pub fn or_insert_with(self, default: impl FnOnce() -> V) -> &'a mut V {
        match self {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(default()),
        }
    }

    pub fn or_default(self) -> &'a mut V
    where
        V: Default,
    {
        self.or_insert_with(V::default)
    }

    pub fn and_modify(mut self, f: impl FnOnce(&mut V)) -> Entry<'a, V> {
        if let Entry::Occupied(e) = &mut self {
            f(e.get_mut());
        }
        self
    }

    pub fn key(&self) -> &Key {
        match self {
            Entry::Occupied(e) => &e.map.entries[e.index].0,
            Entry::Vacant(e) => &e.key,
        }
    }
}

impl<'a, V> OccupiedEntry<'a, V> {
    pub fn get(&self) -> &V {
        &self.map.entries[self.index].1
    }
    pub fn get_mut(&mut self) -> &mut V {
        &mut self.map.entries[self.index].1
    }
    pub fn into_mut(self) -> &'a mut V {
        &mut self.map.entries[self.index].1
    }
    pub fn insert(&mut self, value: V) -> V {
        std::mem::replace(self.get_mut(), value)
    }
    pub fn remove(self) -> V {
        self.map.entries.remove(self.index).1
    }
}

impl<'a, V> VacantEntry<'a, V> {
    pub fn insert(self, value: V) -> &'a mut V {
        self.map.entries.insert(self.index, (self.key, value));
        &mut self.map.entries[self.index].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> String {
        s.to_string()
    }

    /// Every operation agrees with `BTreeMap` on a sequence of edits with
    /// repeated keys, in and out of order.
    #[test]
    fn behaves_as_a_btreemap() {
        let mut m = StrMap::new();
        let mut b = BTreeMap::new();
        let keys = ["m", "c", "x", "c", "a", "z", "m", "b", "", "aa"];
        for (i, k) in keys.iter().enumerate() {
            let val = v(&i.to_string());
            assert_eq!(
                m.insert(k.to_string(), val.clone()),
                b.insert(k.to_string(), val)
            );
            assert_eq!(m.len(), b.len());
        }
        assert!(
            m.iter()
                .map(|(k, x)| (k.as_str(), x))
                .eq(b.iter().map(|(k, x)| (k.as_str(), x)))
        );
        assert_eq!(m.get("c"), b.get("c"));
        assert_eq!(m.get("nope"), None);
        assert!(m.contains_key("aa") && !m.contains_key("ab"));
        assert_eq!(m.remove("x"), b.remove("x"));
        assert_eq!(m.remove("x"), None);
        m.retain(|k, _| k != "b");
        b.retain(|k, _| k != "b");
        assert!(
            m.iter()
                .map(|(k, x)| (k.as_str(), x))
                .eq(b.iter().map(|(k, x)| (k.as_str(), x)))
        );
        *m.entry("q").or_insert(v("new")) = v("changed");
        *b.entry("q".into()).or_insert(v("new")) = v("changed");
        m.entry("q").and_modify(|x| *x = v("again"));
        b.entry("q".into()).and_modify(|x| *x = v("again"));
        assert!(
            m.iter()
                .map(|(k, x)| (k.as_str(), x))
                .eq(b.iter().map(|(k, x)| (k.as_str(), x)))
        );
        assert!(
            m.keys()
                .rev()
                .map(Key::as_str)
                .eq(b.keys().rev().map(String::as_str))
        );
        assert_eq!(BTreeMap::from(m.clone()), b);
        assert_eq!(StrMap::from(b.clone()), m);
    }

    /// Collecting keeps the last of equal keys, as inserting in turn would.
    #[test]
    fn collect_sorts_and_keeps_the_last_duplicate() {
        let m: StrMap<String> = [("b", "1"), ("a", "2"), ("b", "3"), ("c", "4"), ("a", "5")]
            .into_iter()
            .map(|(k, x)| (k.to_string(), v(x)))
            .collect();
        let got: Vec<_> = m.iter().map(|(k, x)| (k.as_str(), x.clone())).collect();
        assert_eq!(got, vec![("a", v("5")), ("b", v("3")), ("c", v("4"))]);
        let mut e = m.clone();
        e.extend([("0".to_string(), v("z")), ("b".to_string(), v("y"))]);
        assert_eq!(e.keys().collect::<Vec<_>>(), ["0", "a", "b", "c"]);
        assert_eq!(e["b"], v("y"));
    }
}
