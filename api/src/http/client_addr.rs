//! The client address of a request, for counting failed logins per address. Behind load
//! balancers or reverse proxies the TCP peer is the last proxy: each proxy appends the
//! address it saw to `X-Forwarded-For`, so with `SMSGW_TRUSTED_PROXY_HOPS` = n proxies in
//! front the client is the n-th entry from the right. Entries further left are written by
//! the client and never trusted. With 0 (the default) the TCP peer is the client.

use std::net::SocketAddr;

use axum::{extract::ConnectInfo, http::HeaderMap};

/// The address of the client of a request with these headers and this TCP peer.
pub fn client_address(
    headers: &HeaderMap,
    peer: Option<&ConnectInfo<SocketAddr>>,
    trusted_hops: u8,
) -> String {
    let peer = peer.map(|ConnectInfo(addr)| addr.ip().to_string());
    if trusted_hops == 0 {
        return peer.unwrap_or_else(|| "unknown".to_owned());
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .collect();
    // Fewer entries than proxies: the request came a shorter way; the leftmost is the
    // nearest to the client that we have.
    let index = forwarded.len().saturating_sub(usize::from(trusted_hops));
    forwarded
        .get(index)
        .map(|entry| (*entry).to_owned())
        .or(peer)
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append("x-forwarded-for", v.parse().expect("header"));
        }
        map
    }

    #[test]
    fn the_peer_unless_proxies_are_trusted_then_counted_from_the_right() {
        let peer = ConnectInfo(SocketAddr::from(([10, 0, 0, 9], 4242)));
        let spoofed = headers(&["6.6.6.6, 203.0.113.7"]);
        assert_eq!(client_address(&spoofed, Some(&peer), 0), "10.0.0.9");
        assert_eq!(client_address(&spoofed, Some(&peer), 1), "203.0.113.7");
        assert_eq!(client_address(&spoofed, Some(&peer), 2), "6.6.6.6");
        assert_eq!(
            client_address(
                &headers(&["6.6.6.6", "198.51.100.1, 203.0.113.7"]),
                Some(&peer),
                2
            ),
            "198.51.100.1"
        );
        assert_eq!(client_address(&headers(&[]), Some(&peer), 1), "10.0.0.9");
        assert_eq!(
            client_address(&headers(&["203.0.113.7"]), None, 3),
            "203.0.113.7"
        );
        assert_eq!(client_address(&headers(&[]), None, 0), "unknown");
    }
}
