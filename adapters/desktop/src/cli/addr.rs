//! Addresses on the command line, one syntax for `invite ENDPOINT` and
//! `listen --listen`: `PORT` (listen only), `HOST`, `HOST:PORT`, an IP
//! address, or `[IPV6]:PORT`. A bare IPv6 address that could also be read
//! as an address and a port (`::1:7464`) is refused as ambiguous.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use super::{exit, CliError, DEFAULT_PORT};

/// A parsed address: an IP or a host name to resolve, and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Addr {
    /// An IP address and port.
    Ip(SocketAddr),
    /// A host name and port, resolved later.
    Host(String, u16),
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Addr::Ip(a) => write!(f, "{a}"),
            Addr::Host(h, p) => write!(f, "{h}:{p}"),
        }
    }
}

/// Which command the address is for: a listener also takes a bare port,
/// and an empty host means every address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// `invite ENDPOINT`.
    Connect,
    /// `listen --listen ADDR`.
    Listen,
}

fn bad(text: &str, why: &str) -> CliError {
    CliError::new(exit::USAGE, format!("invalid address {text:?}: {why}"))
}

fn port(text: &str, port: &str) -> Result<u16, CliError> {
    if port.is_empty() {
        return Err(bad(text, "the port is missing after ':'"));
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(
            text,
            &format!("the port {port:?} is not a number (0 to 65535)"),
        ));
    }
    port.parse::<u16>()
        .map_err(|_| bad(text, &format!("the port {port} is over 65535")))
}

/// Parses an address.
///
/// # Errors
///
/// A usage error (exit 64) that names the address and what is wrong.
pub(crate) fn parse(text: &str, role: Role) -> Result<Addr, CliError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(bad(text, "it is empty"));
    }
    if role == Role::Listen && text.bytes().all(|b| b.is_ascii_digit()) {
        let p = port(text, text)?;
        return Ok(Addr::Ip(SocketAddr::new(
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            p,
        )));
    }
    if role == Role::Connect && text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(
            text,
            "a port alone; give HOST:PORT, for example 127.0.0.1:7464",
        ));
    }
    // [V6] or [V6]:PORT
    if let Some(rest) = text.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return Err(bad(text, "a '[' without its ']'"));
        };
        let ip: Ipv6Addr = inside
            .parse()
            .map_err(|_| bad(text, &format!("{inside:?} is not an IPv6 address")))?;
        let p = match after {
            "" => DEFAULT_PORT,
            _ => match after.strip_prefix(':') {
                Some(p) => port(text, p)?,
                None => return Err(bad(text, "expected ':PORT' after ']'")),
            },
        };
        return Ok(Addr::Ip(SocketAddr::new(IpAddr::V6(ip), p)));
    }
    let colons = text.matches(':').count();
    if colons >= 2 {
        // A bare IPv6 address, never with a port.
        let ip: Ipv6Addr = text.parse().map_err(|_| {
            bad(
                text,
                "not an IPv6 address; write an IPv6 address with a port as [ADDRESS]:PORT",
            )
        })?;
        if let Some((head, last)) = text.rsplit_once(':') {
            let could_be_port = !last.is_empty()
                && last.bytes().all(|b| b.is_ascii_digit())
                && last.parse::<u16>().is_ok();
            if could_be_port && head.parse::<Ipv6Addr>().is_ok() {
                return Err(bad(
                    text,
                    &format!(
                        "ambiguous: write [{text}] for that address on port {DEFAULT_PORT}, \
                         or [{head}]:{last} for port {last} of {head}"
                    ),
                ));
            }
        }
        return Ok(Addr::Ip(SocketAddr::new(IpAddr::V6(ip), DEFAULT_PORT)));
    }
    let (host, p) = match text.rsplit_once(':') {
        Some((host, p)) => (host, port(text, p)?),
        None => (text, DEFAULT_PORT),
    };
    if host.is_empty() {
        return match role {
            Role::Listen => Ok(Addr::Ip(SocketAddr::new(
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                p,
            ))),
            Role::Connect => Err(bad(text, "the host is missing before ':'")),
        };
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(Addr::Ip(SocketAddr::new(ip, p)));
    }
    let valid_host = host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !valid_host {
        return Err(bad(
            text,
            &format!("{host:?} is not a host name or IP address"),
        ));
    }
    Ok(Addr::Host(host.to_owned(), p))
}

/// Resolves an address to the socket addresses to try, in order.
///
/// # Errors
///
/// Exit 5 (could not connect) when the host name does not resolve, with
/// host and port named.
pub(crate) async fn resolve(addr: &Addr) -> Result<Vec<SocketAddr>, CliError> {
    match addr {
        Addr::Ip(a) => Ok(vec![*a]),
        Addr::Host(host, p) => {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), *p))
                .await
                .map_err(|e| {
                    CliError::new(
                        exit::CONNECT,
                        format!("cannot resolve host {host} (port {p}): {e}"),
                    )
                })?
                .collect();
            if found.is_empty() {
                return Err(CliError::new(
                    exit::CONNECT,
                    format!("host {host} (port {p}) has no address"),
                ));
            }
            Ok(found)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str, role: Role) -> String {
        parse(text, role).map_or_else(|e| panic!("{text}: {}", e.message), |a| a.to_string())
    }

    fn err(text: &str, role: Role) -> String {
        match parse(text, role) {
            Ok(a) => panic!("{text} parsed as {a}"),
            Err(e) => {
                assert_eq!(e.code, exit::USAGE);
                e.message
            }
        }
    }

    #[test]
    fn the_forms_both_commands_take() {
        for role in [Role::Connect, Role::Listen] {
            assert_eq!(ok("127.0.0.1", role), "127.0.0.1:7464");
            assert_eq!(ok("127.0.0.1:9000", role), "127.0.0.1:9000");
            assert_eq!(ok("[::1]:9000", role), "[::1]:9000");
            assert_eq!(ok("[::1]", role), "[::1]:7464");
            assert_eq!(ok("::1", role), "[::1]:7464");
            assert_eq!(ok("fe80::1", role), "[fe80::1]:7464");
            assert_eq!(ok("localhost", role), "localhost:7464");
            assert_eq!(ok("bob.example:80", role), "bob.example:80");
        }
        assert_eq!(ok("9000", Role::Listen), "[::]:9000");
        assert_eq!(ok(":9000", Role::Listen), "[::]:9000");
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let e = err("::1:7464", Role::Connect);
        assert!(e.contains("ambiguous") && e.contains("[::1]:7464"), "{e}");
        assert!(err("host:99999", Role::Connect).contains("over 65535"));
        assert!(err("host:http", Role::Listen).contains("not a number"));
        assert!(err("host:", Role::Connect).contains("port is missing"));
        assert!(err(":9000", Role::Connect).contains("host is missing"));
        assert!(err("[::1", Role::Connect).contains("without its ']'"));
        assert!(err("[nope]:1", Role::Connect).contains("not an IPv6"));
        assert!(err("bad host!", Role::Connect).contains("not a host name"));
        assert!(err("", Role::Connect).contains("empty"));
        assert!(err("99999", Role::Listen).contains("over 65535"));
        assert!(err("9000", Role::Connect).contains("a port alone"));
    }
}
