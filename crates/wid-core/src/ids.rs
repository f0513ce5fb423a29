//! Random identifiers (request ids, token ids, object ids) come from aws-lc's DRBG, which
//! reseeds from the kernel on its own, rather than from one `getrandom` system call per id:
//! a token exchange makes three of them, and on a loaded machine each call is a context
//! switch away from the request it serves.

use uuid::Uuid;

/// A version-4 UUID.
pub fn random_uuid() -> Uuid {
    let mut bytes = [0u8; 16];
    // aws-lc aborts the process rather than hand out bytes it could not make; an error here
    // would mean the library itself is broken.
    aws_lc_rs::rand::fill(&mut bytes).expect("aws-lc's random generator failed");
    uuid::Builder::from_random_bytes(bytes).into_uuid()
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
}
