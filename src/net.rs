//! The outbound URL policy. imgbatch fetches URLs that strangers give it, so by default it
//! refuses any image or webhook URL whose address is not global (loopback, private, link-local,
//! unspecified, multicast, reserved, documentation). Names are checked where they are resolved,
//! and the connection goes to the checked address; literal IPs are checked on every redirect hop.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

/// Redirects followed at most.
pub const MAX_REDIRECTS: usize = 5;

/// A URL refused by the outbound policy.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Refused {
    /// The address is not on the public internet.
    #[error(
        "{host} resolves to {addr}, a {kind} address; non-global addresses are refused \
         (set IMGBATCH_ALLOW_PRIVATE_URLS=true to allow them)"
    )]
    NonGlobal {
        /// The host as written in the URL.
        host: String,
        /// The refused address.
        addr: IpAddr,
        /// What kind of address it is.
        kind: &'static str,
    },
    /// Not http or https.
    #[error("only http and https URLs can be fetched, not {0}:")]
    Scheme(String),
    /// Too many redirects.
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
}

/// What kind of non-global address `ip` is, or `None` when it is global.
pub fn non_global_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "unspecified",
        (127, _, _) => "loopback",
        (10, _, _) | (192, 168, _) => "private",
        (172, 16..=31, _) => "private",
        (169, 254, _) => "link-local",
        (100, 64..=127, _) => "shared (carrier-grade NAT)",
        (192, 0, 0) => "IETF protocol",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved",
        _ => return None,
    })
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_kind(v4);
    }
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        [0, 0, 0, 0, 0, 0, 0, 0] => Some("unspecified"),
        [0, 0, 0, 0, 0, 0, 0, 1] => Some("loopback"),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => v4_kind(embedded_v4(hi, lo)),
        [0x64, 0xff9b, 1, ..] => Some("NAT64 (local use)"),
        [0, 0, 0, 0, 0xffff, 0, hi, lo] => v4_kind(embedded_v4(hi, lo)),
        [0x2002, hi, lo, ..] => v4_kind(embedded_v4(hi, lo)),
        [0, 0, 0, 0, 0, 0, _, _] => Some("IPv4-compatible (deprecated)"),
        [0x100, 0, 0, 0, ..] => Some("discard"),
        [0x2001, 0xdb8, ..] => Some("documentation"),
        [0x2001, b, ..] if b < 0x200 => Some("IETF protocol"),
        [a, ..] if a & 0xfe00 == 0xfc00 => Some("private (unique local)"),
        [a, ..] if a & 0xffc0 == 0xfe80 => Some("link-local"),
        [a, ..] if a & 0xffc0 == 0xfec0 => Some("site-local"),
        [a, ..] if a & 0xff00 == 0xff00 => Some("multicast"),
        _ => None,
    }
}

/// Checks what can be checked before any lookup: the scheme, and the address when the host is a
/// literal IP (names are checked by the resolver).
pub fn check_url(url: &Url, allow_private: bool) -> Result<(), Refused> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refused::Scheme(url.scheme().to_owned()));
    }
    if allow_private {
        return Ok(());
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    match non_global_kind(ip) {
        Some(kind) => Err(Refused::NonGlobal { host: url.host_str().unwrap_or_default().into(), addr: ip, kind }),
        None => Ok(()),
    }
}

/// Finds a policy refusal anywhere in an error's chain of causes.
pub fn refusal<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refused> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<Refused>() {
            return Some(r);
        }
        cur = e.source();
    }
    None
}

/// Resolves `host` with the system resolver and keeps its global addresses; a name with only
/// non-global addresses fails with [`Refused`].
pub async fn resolve_global(host: &str) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
    let mut refused = None;
    let global: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|a| match non_global_kind(a.ip()) {
            None => true,
            Some(kind) => {
                refused.get_or_insert(Refused::NonGlobal { host: host.to_owned(), addr: a.ip(), kind });
                false
            }
        })
        .collect();
    match (global.is_empty(), refused) {
        (true, Some(r)) => Err(r.into()),
        _ => Ok(global),
    }
}

/// Resolves names through [`resolve_global`], so connections only go to checked addresses.
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move { resolve_global(name.as_str()).await.map(|a| Box::new(a.into_iter()) as Addrs) })
    }
}

/// An HTTP client that applies the outbound policy on every hop, follows at most
/// [`MAX_REDIRECTS`] redirects when `follow_redirects` (else none: a 3xx is the answer), and gives
/// up on a request after `timeout`. Proxies from the environment are ignored: a proxy would
/// resolve names itself, past the policy.
pub fn client(allow_private: bool, follow_redirects: bool, timeout: Duration) -> reqwest::Client {
    let redirects = match follow_redirects {
        false => reqwest::redirect::Policy::none(),
        true => reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(Refused::TooManyRedirects);
            }
            match check_url(attempt.url(), allow_private) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(e),
            }
        }),
    };
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("imgbatch/", env!("CARGO_PKG_VERSION")))
        .no_proxy()
        .redirect(redirects)
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)));
    if !allow_private {
        builder = builder.dns_resolver(Arc::new(GuardedResolver));
    }
    builder.build().expect("HTTP client configuration is valid")
}

/// An error with its causes, `outer: inner: innermost`, for messages a person reads.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> Option<&'static str> {
        non_global_kind(s.parse().unwrap())
    }

    #[test]
    fn non_global_addresses_are_classified() {
        assert_eq!(kind("127.0.0.1"), Some("loopback"));
        assert_eq!(kind("10.1.2.3"), Some("private"));
        assert_eq!(kind("172.20.0.1"), Some("private"));
        assert_eq!(kind("192.168.1.1"), Some("private"));
        assert_eq!(kind("169.254.169.254"), Some("link-local"));
        assert_eq!(kind("0.0.0.0"), Some("unspecified"));
        assert_eq!(kind("100.100.0.1"), Some("shared (carrier-grade NAT)"));
        assert_eq!(kind("::1"), Some("loopback"));
        assert_eq!(kind("::ffff:127.0.0.1"), Some("loopback"));
        assert_eq!(kind("fd00::1"), Some("private (unique local)"));
        assert_eq!(kind("fe80::1"), Some("link-local"));
        assert_eq!(kind("64:ff9b::a00:1"), Some("private"));
        assert_eq!(kind("64:ff9b:1::1"), Some("NAT64 (local use)"));
        assert_eq!(kind("::ffff:0:7f00:1"), Some("loopback"));
    }

    #[test]
    fn global_addresses_pass() {
        for ip in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700::1111", "::ffff:1.1.1.1"] {
            assert_eq!(kind(ip), None, "{ip}");
        }
    }

    #[test]
    fn literal_private_urls_are_refused_unless_allowed() {
        let url = Url::parse("http://127.0.0.1:8080/a.jpg").unwrap();
        let err = check_url(&url, false).unwrap_err();
        assert!(err.to_string().contains("loopback"), "{err}");
        assert!(check_url(&url, true).is_ok());
        let ftp = Url::parse("ftp://example.com/a.jpg").unwrap();
        assert!(matches!(check_url(&ftp, true), Err(Refused::Scheme(_))));
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused() {
        let client = client(false, true, Duration::from_secs(5));
        let err = client.get("http://localhost:9/x").send().await.unwrap_err();
        let refused = refusal(&err).expect("a policy refusal");
        assert!(refused.to_string().contains("loopback"), "{refused}");
    }
}
