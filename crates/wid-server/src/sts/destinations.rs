//! Where issuer fetches may connect. Whoever can write a federated credential chooses the
//! issuer URL wid fetches, so without a policy they could aim wid at its own network: loopback
//! admin ports, a cloud's metadata service at 169.254.169.254, private services, and learn from
//! the answer what listens there.
//!
//! The decision is made on the addresses a connection actually uses: names are resolved by
//! [`FilteredResolver`], which hands the connector only permitted addresses, so a name cannot
//! resolve to a public address when checked and a private one when connected (DNS
//! rebinding). URLs whose host is an IP literal never reach a resolver (hyper's connector
//! connects to them directly), so [`Destinations::check_url`] checks those before each request.
//! Redirects must stay on the origin they start from, so every hop is covered by the same two
//! checks.
//!
//! wid's own public origin is exempt: the issuers wid hosts for clusters are served there,
//! and it is commonly loopback or private.

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use thiserror::Error;
use url::Url;

/// Why a fetch was not attempted; for wid's log, never for the caller.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Refused {
    #[error("{0} is not an address issuer fetches may connect to (see --issuer-allow-address)")]
    Address(IpAddr),
    #[error("'{name}' resolves only to addresses issuer fetches may not connect to ({}); see --issuer-allow-address", list(.addresses))]
    Name {
        name: String,
        addresses: Vec<IpAddr>,
    },
    #[error("'{0}' does not resolve to any address")]
    Unresolved(String),
    #[error("only https URLs are fetched")]
    NotHttps,
}

fn list(addresses: &[IpAddr]) -> String {
    addresses
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which client a URL is fetched with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// wid's own public origin: connect wherever it resolves.
    Own,
    /// Anything else: only to permitted addresses.
    External,
}

#[derive(Debug, Clone)]
pub struct Destinations {
    own: Option<url::Origin>,
    allowed: Vec<IpNet>,
}

impl Destinations {
    /// `public_url`: wid's own origin, exempt. `allowed`: networks the operator lets issuer
    /// fetches reach although they are not public.
    pub fn new(public_url: &str, allowed: Vec<IpNet>) -> Self {
        Self {
            own: Url::parse(public_url).ok().map(|u| u.origin()),
            allowed,
        }
    }

    /// Public addresses, and those the operator allowed.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.allowed.iter().any(|net| net.contains(&ip)) || !is_special(ip)
    }

    /// How `url` may be fetched, or why not. A host name is checked later, when
    /// [`FilteredResolver`] resolves it.
    pub fn check_url(&self, url: &Url) -> Result<Route, Refused> {
        if url.scheme() != "https" {
            return Err(Refused::NotHttps);
        }
        if self.own.as_ref() == Some(&url.origin()) {
            return Ok(Route::Own);
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        match literal {
            Some(ip) if !self.permits(ip) => Err(Refused::Address(ip)),
            _ => Ok(Route::External),
        }
    }
}

/// The system resolver, with what [`Destinations`] does not permit taken out. A name with no
/// permitted address fails to resolve, so nothing is connected to.
pub struct FilteredResolver(pub Arc<Destinations>);

impl Resolve for FilteredResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let destinations = self.0.clone();
        let name = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let (permitted, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = resolved
                .into_iter()
                .partition(|a| destinations.permits(a.ip()));
            if permitted.is_empty() {
                let error = if refused.is_empty() {
                    Refused::Unresolved(name)
                } else {
                    Refused::Name {
                        name,
                        addresses: refused.iter().map(SocketAddr::ip).collect(),
                    }
                };
                return Err(error.into());
            }
            Ok(Box::new(permitted.into_iter()) as Addrs)
        })
    }
}

/// Parses `--issuer-allow-address`: a CIDR (`10.0.0.0/8`, `fd00::/8`) or a single address.
pub fn parse_network(text: &str) -> Result<IpNet, String> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| format!("'{text}' is neither a CIDR block (10.0.0.0/8) nor an IP address"))
}

/// Addresses that are not on the public internet, or name this host, or are not unicast:
/// what issuer fetches refuse unless allowed. Forms of IPv6 that embed an IPv4 address
/// (mapped, NAT64, 6to4) are judged by the embedded address.
pub fn is_special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_special_v4(v4),
        IpAddr::V6(v6) => is_special_v6(v6),
    }
}

fn is_special_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0 // "this network", including 0.0.0.0, which connects to the local host
        || ip.is_loopback() // 127/8
        || ip.is_private() // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local() // 169.254/16, cloud metadata services
        || (a == 100 && (b & 0xc0) == 64) // 100.64/10, carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // 192.0.0/24, IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 198 && (b & 0xfe) == 18) // 198.18/15, benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || ip.is_multicast() // 224/4
        || a >= 240 // 240/4 reserved, and 255.255.255.255 broadcast
}

fn is_special_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_special_v4(v4);
    }
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from(((hi as u32) << 16) | lo as u32);
    match s {
        // ::/96: unspecified, loopback, and the deprecated IPv4-compatible form.
        [0, 0, 0, 0, 0, 0, _, _] => true,
        // 64:ff9b::/96, NAT64: reaches the embedded IPv4 address.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => is_special_v4(embedded(hi, lo)),
        // 64:ff9b:1::/48, local-use NAT64.
        [0x64, 0xff9b, 1, ..] => true,
        // 100::/64, discard-only.
        [0x100, 0, 0, 0, ..] => true,
        // 2001::/23: IETF special purpose (Teredo, benchmarking, ORCHID, …).
        [0x2001, x, ..] if x < 0x200 => true,
        // 2001:db8::/32, documentation.
        [0x2001, 0xdb8, ..] => true,
        // 2002::/16, 6to4: reaches the embedded IPv4 address.
        [0x2002, hi, lo, ..] => is_special_v4(embedded(hi, lo)),
        // 3fff::/20, documentation.
        [x, ..] if x & 0xfff0 == 0x3ff0 => true,
        // fc00::/7 unique local, fe80::/10 link-local, fec0::/10 site-local, ff00::/8 multicast.
        [x, ..] => {
            (x & 0xfe00) == 0xfc00
                || (x & 0xffc0) == 0xfe80
                || (x & 0xffc0) == 0xfec0
                || (x & 0xff00) == 0xff00
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_addresses_are_refused_and_public_ones_are_not() {
        let special = [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.255.254",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
            "3fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
        ];
        for ip in special {
            assert!(is_special(ip.parse().unwrap()), "{ip} is special");
        }
        let public = [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ];
        for ip in public {
            assert!(!is_special(ip.parse().unwrap()), "{ip} is public");
        }
    }

    #[test]
    fn allowed_networks_are_permitted_also_in_their_ipv4_mapped_form() {
        let d = Destinations::new(
            "https://localhost:8443",
            vec![
                parse_network("127.0.0.0/8").unwrap(),
                parse_network("fd00::1").unwrap(),
            ],
        );
        assert!(d.permits("127.0.0.2".parse().unwrap()));
        assert!(d.permits("::ffff:127.0.0.1".parse().unwrap()));
        assert!(d.permits("fd00::1".parse().unwrap()));
        assert!(!d.permits("fd00::2".parse().unwrap()));
        assert!(!d.permits("10.0.0.1".parse().unwrap()));
        assert!(d.permits("8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn networks_parse_as_cidr_or_single_address() {
        assert_eq!(
            parse_network("10.1.2.3/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            parse_network("10.1.2.3").unwrap().to_string(),
            "10.1.2.3/32"
        );
        assert_eq!(parse_network("fd00::/8").unwrap().to_string(), "fd00::/8");
        assert!(parse_network("10.0.0.0/33").is_err());
        assert!(parse_network("localhost").is_err());
    }

    #[test]
    fn ip_literal_urls_are_checked_and_wid_s_own_origin_is_exempt() {
        let d = Destinations::new("https://localhost:8443", vec![]);
        let check = |u: &str| d.check_url(&Url::parse(u).unwrap());
        assert_eq!(check("https://localhost:8443/t/i/"), Ok(Route::Own));
        assert_eq!(check("https://LOCALHOST:8443/t/i/"), Ok(Route::Own));
        // Another port of the same host is not wid: names go to the resolver.
        assert_eq!(check("https://localhost:22/"), Ok(Route::External));
        assert_eq!(check("https://issuer.example/"), Ok(Route::External));
        assert_eq!(check("https://8.8.8.8/"), Ok(Route::External));
        for literal in [
            "https://127.0.0.1:8443/",
            "https://[::1]:8443/",
            "https://[::ffff:7f00:1]/",
            "https://169.254.169.254/",
            "https://0x7f.1/",
            "https://2130706433/",
        ] {
            assert!(
                matches!(check(literal), Err(Refused::Address(_))),
                "{literal}: {:?}",
                check(literal)
            );
        }
        assert_eq!(check("http://issuer.example/"), Err(Refused::NotHttps));
    }

    #[tokio::test]
    async fn the_resolver_hands_out_only_permitted_addresses() {
        let refuse = FilteredResolver(Arc::new(Destinations::new("https://wid.example", vec![])));
        let err = refuse
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .expect("localhost is refused");
        assert!(err.to_string().contains("resolves only to"), "{err}");
        let allow = FilteredResolver(Arc::new(Destinations::new(
            "https://wid.example",
            vec![parse_network("127.0.0.0/8").unwrap()],
        )));
        let addrs: Vec<SocketAddr> = allow
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(
            !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback() && a.is_ipv4()),
            "{addrs:?}"
        );
    }
}
