//! Invocation payloads: a JSON object padded to an exact byte size.

/// Smallest payload the builder produces: `{}`.
pub const MIN_PAYLOAD_BYTES: usize = 2;

const HEAD: &[u8] = b"{\"pad\":\"";
const TAIL: &[u8] = b"\"}";

/// Builds a valid JSON object of exactly `size` bytes (at least
/// [`MIN_PAYLOAD_BYTES`]).
///
/// From 10 bytes on it is `{"pad":"xxx…"}`; below that it is `{`, spaces
/// and `}`, which is still a valid (empty) JSON object of the exact size.
pub fn build_payload(size: usize) -> Vec<u8> {
    let size = size.max(MIN_PAYLOAD_BYTES);
    if size < HEAD.len() + TAIL.len() {
        let mut v = vec![b' '; size];
        v[0] = b'{';
        v[size - 1] = b'}';
        return v;
    }
    let mut v = Vec::with_capacity(size);
    v.extend_from_slice(HEAD);
    v.resize(size - TAIL.len(), b'x');
    v.extend_from_slice(TAIL);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_size_and_valid_json_object() {
        for size in [2usize, 3, 5, 9, 10, 11, 64, 1000, 6 * 1024 * 1024] {
            let p = build_payload(size);
            assert_eq!(p.len(), size, "size {size}");
            let v: serde_json::Value = serde_json::from_slice(&p).expect("valid JSON");
            assert!(v.is_object(), "size {size}: {v}");
        }
    }

    #[test]
    fn tiny_sizes_clamp_to_empty_object() {
        assert_eq!(build_payload(0), b"{}");
        assert_eq!(build_payload(1), b"{}");
        assert_eq!(build_payload(2), b"{}");
    }

    #[test]
    fn default_size_shape() {
        let p = build_payload(64);
        let v: serde_json::Value = serde_json::from_slice(&p).expect("valid JSON");
        let pad = v["pad"].as_str().expect("pad string");
        assert_eq!(pad.len(), 64 - 10);
        assert!(pad.bytes().all(|b| b == b'x'));
    }
}
