//! A bound on the bytes of batches on their way to the writer. The channel
//! to the writer is bounded by message count (`run.channel_batches`); this
//! bounds it by memory too, whatever the batch shape: a worker waits before
//! sending while what is in flight would pass the limit (one batch always
//! passes, so a batch larger than the limit cannot wedge the run), and the
//! writer releases a batch's bytes once it has staged it.

use std::sync::{Condvar, Mutex};

/// Bytes in flight to the writer, and the most there may be.
pub struct Gate {
    state: Mutex<State>,
    freed: Condvar,
    max: u64,
}

struct State {
    in_flight: u64,
    /// Set when the writer is gone: nobody waits any more.
    closed: bool,
}

impl Gate {
    pub fn new(max: u64) -> Self {
        Gate { state: Mutex::new(State { in_flight: 0, closed: false }), freed: Condvar::new(), max }
    }

    /// Waits until `bytes` more may be in flight, and counts them.
    pub fn acquire(&self, bytes: u64) {
        let mut s = self.state.lock().unwrap();
        while !s.closed && s.in_flight > 0 && s.in_flight + bytes > self.max {
            s = self.freed.wait(s).unwrap();
        }
        s.in_flight += bytes;
    }

    /// The writer has staged (or dropped) a batch of `bytes`.
    pub fn release(&self, bytes: u64) {
        let mut s = self.state.lock().unwrap();
        s.in_flight = s.in_flight.saturating_sub(bytes);
        self.freed.notify_all();
    }

    /// The writer is gone: let every waiting worker go on (its send fails).
    pub fn close(&self) {
        self.state.lock().unwrap().closed = true;
        self.freed.notify_all();
    }

    #[cfg(test)]
    fn in_flight(&self) -> u64 {
        self.state.lock().unwrap().in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_sender_waits_for_room_and_one_batch_always_passes() {
        let gate = Arc::new(Gate::new(100));
        gate.acquire(1000); // larger than the limit, but alone
        let g = gate.clone();
        let waiter = std::thread::spawn(move || g.acquire(10));
        std::thread::sleep(Duration::from_millis(50));
        assert!(!waiter.is_finished(), "waits while 1000 bytes are in flight");
        gate.release(1000);
        waiter.join().unwrap();
        assert_eq!(gate.in_flight(), 10);
    }

    #[test]
    fn closing_releases_waiters() {
        let gate = Arc::new(Gate::new(10));
        gate.acquire(10);
        let g = gate.clone();
        let waiter = std::thread::spawn(move || g.acquire(10));
        std::thread::sleep(Duration::from_millis(20));
        gate.close();
        waiter.join().unwrap();
    }
}
