//! A value read on every request and replaced whole, rarely: the KEK ring, the tenant's
//! signing keys. A reader clones the `Arc` and keeps using what it got while a replacement
//! lands, so no request ever sees half of an old set and half of a new one.

use std::sync::{Arc, RwLock};

pub struct Swap<T>(RwLock<Arc<T>>);

impl<T> Swap<T> {
    pub fn new(value: T) -> Self {
        Self(RwLock::new(Arc::new(value)))
    }

    pub fn get(&self) -> Arc<T> {
        // The lock guards only an `Arc` swap, which cannot be left half done.
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn replace(&self, value: T) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(value);
    }
}
