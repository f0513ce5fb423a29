//! The webhook's listeners as upstream's flags describe them (`--health-addr`,
//! `--metrics-addr`, `--tls-min-version`), so a chart's values carry over unchanged.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// A bind address in Go's `host:port` form: `:9440` is every interface, and an empty value
/// or `0` turns the listener off, as controller-runtime reads its probe and metrics flags.
pub fn bind_address(flag: &str, value: &str) -> Result<Option<SocketAddr>, String> {
    if value.is_empty() || value == "0" {
        return Ok(None);
    }
    let refused = || format!("invalid --{flag} {value:?}: expected host:port, :port or 0");
    let (host, port) = value.rsplit_once(':').ok_or_else(refused)?;
    let port: u16 = port.parse().map_err(|_| refused())?;
    let ip = match host.trim_start_matches('[').trim_end_matches(']') {
        "" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip.parse().map_err(|_| refused())?,
    };
    Ok(Some(SocketAddr::new(ip, port)))
}

static TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// The protocol versions offered from `--tls-min-version` up. Upstream also takes 1.0 and
/// 1.1; rustls implements neither, so those are refused rather than silently raised.
pub fn tls_versions(
    min: &str,
) -> Result<&'static [&'static rustls::SupportedProtocolVersion], String> {
    match min {
        "1.2" => Ok(rustls::ALL_VERSIONS),
        "1.3" => Ok(TLS13_ONLY),
        "1.0" | "1.1" => Err(format!(
            "--tls-min-version {min}: wid's TLS (rustls) offers 1.2 and 1.3 only"
        )),
        _ => Err(
            "entrypoint: unable to parse TLS version: invalid TLS version. Must be one of: 1.0, 1.1, 1.2, 1.3"
                .to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_bind_addresses() {
        for (value, expected) in [
            (":9440", Some("0.0.0.0:9440")),
            ("127.0.0.1:8095", Some("127.0.0.1:8095")),
            ("localhost:0", Some("127.0.0.1:0")),
            ("[::1]:9440", Some("[::1]:9440")),
            ("0", None),
            ("", None),
        ] {
            let got = bind_address("health-addr", value).unwrap();
            assert_eq!(got, expected.map(|e| e.parse().unwrap()), "{value:?}");
        }
        for bad in ["9440", ":http", "example.com:80", ":65536", "1.2.3.4"] {
            let e = bind_address("metrics-addr", bad).unwrap_err();
            assert!(e.starts_with("invalid --metrics-addr"), "{bad}: {e}");
        }
    }

    #[test]
    fn tls_floor() {
        assert_eq!(tls_versions("1.3").unwrap().len(), 1);
        assert_eq!(
            tls_versions("1.3").unwrap()[0].version,
            rustls::ProtocolVersion::TLSv1_3
        );
        assert_eq!(tls_versions("1.2").unwrap().len(), 2);
        assert!(tls_versions("1.1")
            .unwrap_err()
            .contains("1.2 and 1.3 only"));
        assert!(tls_versions("1.0")
            .unwrap_err()
            .contains("1.2 and 1.3 only"));
        for bad in ["", "1.4", "TLS1.3", "1.3 "] {
            assert!(
                tls_versions(bad)
                    .unwrap_err()
                    .contains("Must be one of: 1.0, 1.1, 1.2, 1.3"),
                "{bad:?}"
            );
        }
    }
}
