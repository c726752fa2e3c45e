//! The rows waiting to be sent, already serialized, bounded in count and bytes, and cut into
//! insert bodies (`{"events":[…]}`) of at most N rows and M bytes.

use std::collections::VecDeque;

const PREFIX: &[u8] = br#"{"events":["#;
const SUFFIX: &[u8] = b"]}";

/// One insert request body and how many rows it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Batch {
    /// `{"events":[row,…]}`.
    pub(crate) body: Vec<u8>,
    /// Rows in it.
    pub(crate) rows: usize,
}

/// A bounded FIFO of serialized rows.
#[derive(Debug)]
pub(crate) struct Pending {
    rows: VecDeque<Vec<u8>>,
    bytes: usize,
    max_rows: usize,
    max_bytes: usize,
}

impl Pending {
    /// An empty buffer holding at most `max_rows` rows and `max_bytes` bytes.
    pub(crate) fn new(max_rows: usize, max_bytes: usize) -> Self {
        Self { rows: VecDeque::new(), bytes: 0, max_rows, max_bytes }
    }

    /// Adds a row; `false` (and the row is dropped) when the buffer is full.
    pub(crate) fn push(&mut self, row: Vec<u8>) -> bool {
        let fits_bytes = self.bytes.saturating_add(row.len()) <= self.max_bytes || self.rows.is_empty();
        if self.rows.len() >= self.max_rows || !fits_bytes {
            return false;
        }
        self.bytes += row.len();
        self.rows.push_back(row);
        true
    }

    /// Rows held.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether nothing is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Takes the oldest rows as one body: at most `max_rows` rows and `max_bytes` bytes, but always
    /// at least one row (a row larger than the limit is sent alone). `None` when empty.
    pub(crate) fn take_batch(&mut self, max_rows: usize, max_bytes: usize) -> Option<Batch> {
        let mut body = PREFIX.to_vec();
        let mut rows = 0;
        while rows < max_rows.max(1) {
            let Some(next) = self.rows.front() else { break };
            let grown = body.len() + usize::from(rows > 0) + next.len() + SUFFIX.len();
            if rows > 0 && grown > max_bytes {
                break;
            }
            let Some(row) = self.rows.pop_front() else { break };
            self.bytes -= row.len();
            if rows > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&row);
            rows += 1;
        }
        if rows == 0 {
            return None;
        }
        body.extend_from_slice(SUFFIX);
        Some(Batch { body, rows })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn row(n: usize) -> Vec<u8> {
        serde_json::to_vec(&json!({ "id": format!("r{n}") })).unwrap_or_default()
    }

    fn ids(batch: &Batch) -> Vec<String> {
        let body: Value = serde_json::from_slice(&batch.body).unwrap_or_default();
        body["events"].as_array().into_iter().flatten().map(|e| e["id"].as_str().unwrap_or("").to_owned()).collect()
    }

    #[test]
    fn cuts_bodies_by_count_in_order() {
        let mut pending = Pending::new(100, 1 << 20);
        for n in 0..5 {
            assert!(pending.push(row(n)));
        }
        let first = pending.take_batch(2, 1 << 20).unwrap_or_else(|| panic!("empty"));
        assert_eq!((first.rows, ids(&first)), (2, vec!["r0".to_owned(), "r1".to_owned()]));
        assert_eq!(pending.len(), 3);
        let rest = pending.take_batch(10, 1 << 20).unwrap_or_else(|| panic!("empty"));
        assert_eq!(ids(&rest), vec!["r2", "r3", "r4"]);
        assert!(pending.is_empty());
        assert_eq!(pending.take_batch(10, 1 << 20), None);
    }

    #[test]
    fn cuts_bodies_by_bytes_but_sends_an_oversized_row_alone() {
        let mut pending = Pending::new(100, 1 << 20);
        let big = serde_json::to_vec(&json!({ "id": "big", "pad": "x".repeat(500) })).unwrap_or_default();
        pending.push(row(0));
        pending.push(big);
        pending.push(row(2));
        let limit = 100;
        let first = pending.take_batch(50, limit).unwrap_or_else(|| panic!("empty"));
        assert_eq!(ids(&first), vec!["r0"]);
        let second = pending.take_batch(50, limit).unwrap_or_else(|| panic!("empty"));
        assert_eq!(ids(&second), vec!["big"]);
        let third = pending.take_batch(50, limit).unwrap_or_else(|| panic!("empty"));
        assert_eq!(ids(&third), vec!["r2"]);
    }

    #[test]
    fn is_bounded_by_rows_and_bytes() {
        let mut by_rows = Pending::new(2, 1 << 20);
        assert!(by_rows.push(row(0)) && by_rows.push(row(1)));
        assert!(!by_rows.push(row(2)));
        let mut by_bytes = Pending::new(100, 20);
        assert!(by_bytes.push(row(0)));
        assert!(!by_bytes.push(row(1)), "a second 12-byte row exceeds 20 bytes");
        let _ = by_bytes.take_batch(10, 1 << 20);
        assert!(by_bytes.push(row(1)), "space is freed once sent");
    }
}
