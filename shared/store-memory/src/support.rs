//! Helpers shared by the in-memory stores: lock access that maps poisoning to
//! `PortError::Internal`, search matching and pagination.
//! Part of the honest in-memory adapter set (DEV_MODE and the in-process runtime; one process only,
//! not for multi-instance use).

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use everruns_core::ports::{Page, PortError, PortResult};

fn poisoned<T>(_: PoisonError<T>) -> PortError {
    PortError::Internal("in-memory store lock poisoned".to_owned())
}

/// Takes a read lock.
pub(crate) fn read<T>(lock: &RwLock<T>) -> PortResult<RwLockReadGuard<'_, T>> {
    lock.read().map_err(poisoned)
}

/// Takes a write lock.
pub(crate) fn write<T>(lock: &RwLock<T>) -> PortResult<RwLockWriteGuard<'_, T>> {
    lock.write().map_err(poisoned)
}

/// Takes a mutex.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> PortResult<MutexGuard<'_, T>> {
    mutex.lock().map_err(poisoned)
}

/// A lowercased search needle; `None` when there is nothing to filter on.
pub(crate) fn needle(search: Option<&str>) -> Option<String> {
    search.filter(|s| !s.is_empty()).map(str::to_lowercase)
}

/// Whether any of the fields contains the needle, case-insensitively (no needle: always).
pub(crate) fn matches(needle: Option<&str>, fields: &[Option<&str>]) -> bool {
    match needle {
        None => true,
        Some(needle) => fields.iter().flatten().any(|field| field.to_lowercase().contains(needle)),
    }
}

/// One page of already filtered and sorted rows; `total` counts every row.
pub(crate) fn paginate<T: Clone>(rows: &[&T], offset: u32, limit: u32) -> Page<T> {
    Page {
        items: rows.iter().skip(offset as usize).take(limit as usize).map(|row| (*row).clone()).collect(),
        total: rows.len() as u64,
    }
}
