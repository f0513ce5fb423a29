//! Random identifiers (request ids, token ids, object ids) come from aws-lc's DRBG, which
//! reseeds from the kernel on its own. Each call into it costs the CPU's own random
//! instruction too (prediction resistance), so every thread draws enough bytes for a batch of
//! ids at once: a token request makes three of them.

use std::cell::RefCell;
use uuid::Uuid;

const BATCH: usize = 32;

struct Batch {
    bytes: [u8; 16 * BATCH],
    used: usize,
}

thread_local! {
    static RANDOM: RefCell<Batch> = const {
        RefCell::new(Batch { bytes: [0; 16 * BATCH], used: BATCH })
    };
}

/// A version-4 UUID.
pub fn random_uuid() -> Uuid {
    uuid::Builder::from_random_bytes(random_bytes()).into_uuid()
}

/// A version-7 UUID for `unix_ms`: random, yet ordered by time, so a log's rows keyed by it
/// are appended at the end of their index instead of landing on a random page of it.
pub fn time_ordered_uuid(unix_ms: i64) -> Uuid {
    let mut bytes = random_bytes();
    let ms = u64::try_from(unix_ms).unwrap_or(0).to_be_bytes();
    bytes[..6].copy_from_slice(&ms[2..]);
    uuid::Builder::from_bytes(bytes)
        .with_version(uuid::Version::SortRand)
        .with_variant(uuid::Variant::RFC4122)
        .into_uuid()
}

fn random_bytes() -> [u8; 16] {
    RANDOM.with_borrow_mut(|batch| {
        if batch.used == BATCH {
            // aws-lc aborts the process rather than hand out bytes it could not make; an
            // error here would mean the library itself is broken.
            aws_lc_rs::rand::fill(&mut batch.bytes).expect("aws-lc's random generator failed");
            batch.used = 0;
        }
        let at = batch.used * 16;
        batch.used += 1;
        let mut id = [0u8; 16];
        id.copy_from_slice(&batch.bytes[at..at + 16]);
        // Handed out once: what stays behind is never an id again.
        batch.bytes[at..at + 16].fill(0);
        id
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4_and_differ() {
        let (a, b) = (random_uuid(), random_uuid());
        assert_eq!(a.get_version_num(), 4);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        assert_ne!(a, b);
    }

    #[test]
    fn time_ordered_uuids_are_version_7_and_sort_by_time() {
        let (a, b) = (
            time_ordered_uuid(1_795_516_140_007),
            time_ordered_uuid(1_795_516_140_008),
        );
        assert_eq!(a.get_version_num(), 7);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(&a.as_bytes()[..6], &1_795_516_140_007u64.to_be_bytes()[2..]);
        assert!(a.to_string() < b.to_string());
        assert_ne!(time_ordered_uuid(5), time_ordered_uuid(5));
        assert_eq!(&time_ordered_uuid(-1).as_bytes()[..6], &[0; 6]);
    }

    #[test]
    fn no_id_repeats_across_batches_and_threads() {
        let mine: Vec<Uuid> = (0..BATCH * 3 + 1).map(|_| random_uuid()).collect();
        let theirs =
            std::thread::spawn(|| (0..BATCH * 3).map(|_| random_uuid()).collect::<Vec<_>>())
                .join()
                .unwrap();
        let all: std::collections::HashSet<Uuid> = mine.iter().chain(&theirs).copied().collect();
        assert_eq!(all.len(), mine.len() + theirs.len());
        assert!(all.iter().all(|u| u.get_version_num() == 4));
    }
}
