//! The decoding memory of a process, shared by every decode: each reserves what its header says
//! it will need before allocating anything, and waits while others hold the rest. So however
//! many cores decode at once, decodes together never hold more than the pool.

use std::sync::{Arc, Condvar, Mutex};

/// A fixed amount of decoding memory.
#[derive(Debug)]
pub struct MemoryPool {
    capacity: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

impl MemoryPool {
    /// A pool of `capacity` bytes.
    pub fn new(capacity: u64) -> Self {
        Self { capacity, used: Mutex::new(0), freed: Condvar::new() }
    }

    /// Its size in bytes: no single decode may need more.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Waits until `bytes` (at most the capacity) are free and holds them until the reservation
    /// is dropped. Blocks the thread: call it on the blocking pool, as decoding is.
    pub fn reserve(self: &Arc<Self>, bytes: u64) -> Reservation {
        let bytes = bytes.min(self.capacity);
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used + bytes > self.capacity {
            used = self.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += bytes;
        Reservation { pool: Some(self.clone()), bytes }
    }

    /// Bytes held by decodes now.
    pub fn in_use(&self) -> u64 {
        *self.used.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Memory held by one decode; given back when dropped.
#[derive(Debug, Default)]
pub struct Reservation {
    pool: Option<Arc<MemoryPool>>,
    bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(pool) = &self.pool {
            let mut used = pool.used.lock().unwrap_or_else(|e| e.into_inner());
            *used -= self.bytes;
            pool.freed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_decode_waits_while_others_hold_the_memory_it_needs() {
        let pool = Arc::new(MemoryPool::new(500));
        let big = pool.reserve(400);
        let (tx, rx) = std::sync::mpsc::channel();
        let waiting = pool.clone();
        let thread = std::thread::spawn(move || {
            let held = waiting.reserve(200);
            tx.send(()).unwrap();
            drop(held);
        });
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err(), "400 + 200 do not fit in 500");
        assert_eq!(pool.in_use(), 400);
        drop(big);
        rx.recv_timeout(Duration::from_secs(5)).expect("the second decode goes on once the first is done");
        thread.join().unwrap();
        assert_eq!(pool.in_use(), 0);
        assert_eq!(pool.reserve(10_000).bytes, 500, "a reservation never exceeds the pool");
    }
}
