//! HAProxy's PROXY protocol (v1 text and v2 binary) on connections from the load balancers
//! sesam is told to trust (`[http] proxy_protocol_from`). A balancer in TCP mode forwards
//! the TLS bytes untouched and puts the client's address in front of them; without it
//! every request would seem to come from the balancer, so one busy address would exhaust
//! everyone's per-address limits and connection cap, and the audit would name the balancer.
//!
//! Trust is by the TCP peer's address only: a connection from a trusted peer must begin
//! with a header (none, or a malformed one, and it is closed: a misconfigured balancer is
//! seen at once instead of silently counting everyone as one address); a connection from
//! anyone else is read as plain HTTP or TLS, where a PROXY header is just a bad request, so
//! a client cannot claim another address.

use std::io;
use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The v2 header's fixed signature (12 bytes).
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// A v1 header is at most 107 bytes, CRLF included.
const V1_MAX: usize = 107;
/// v2 headers may carry TLVs (a balancer's unique id, TLS details); more than this is not
/// a header sesam needs to read.
const V2_MAX_PAYLOAD: usize = 1024;
/// Both versions are longer than this; reading it first cannot take bytes of the request.
const PREFIX: usize = 8;

/// The address ranges of the load balancers whose PROXY headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses addresses and ranges separated by commas or white space
    /// (`127.0.0.1, 10.0.0.0/8, fd00::/8`); a bare address is a range of one.
    pub fn parse(text: &str) -> Result<Self, String> {
        text.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("'{s}' is not an IP address or an address range (CIDR)"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Whether connections from `peer` carry a PROXY header.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.0.iter().any(|net| net.contains(&peer))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&list.join(", "))
    }
}

/// Why a trusted peer's connection was closed before any request was read.
#[derive(Debug, thiserror::Error)]
pub enum ProxyHeaderError {
    #[error("the connection does not start with a PROXY protocol header")]
    Missing,
    #[error("the PROXY protocol header is malformed: {0}")]
    Malformed(String),
    #[error("the PROXY protocol header is longer than sesam reads")]
    TooLong,
    #[error("reading the PROXY protocol header: {0}")]
    Io(#[from] io::Error),
}

/// Reads exactly the PROXY header at the start of `io` (never a byte of the request after
/// it) and returns the client's address. A v2 `LOCAL` header or a v1 `UNKNOWN` one (the
/// balancer's own health checks) and non-IP families give `peer`, the balancer itself.
pub async fn read_client_address<IO: AsyncRead + Unpin>(
    io: &mut IO,
    peer: SocketAddr,
) -> Result<SocketAddr, ProxyHeaderError> {
    let mut header = vec![0u8; PREFIX];
    io.read_exact(&mut header).await?;
    if header[..] == V2_SIGNATURE[..PREFIX] {
        header.resize(16, 0);
        io.read_exact(&mut header[PREFIX..]).await?;
        if header[..12] != V2_SIGNATURE[..] {
            return Err(ProxyHeaderError::Missing);
        }
        let payload = usize::from(u16::from_be_bytes([header[14], header[15]]));
        if payload > V2_MAX_PAYLOAD {
            return Err(ProxyHeaderError::TooLong);
        }
        header.resize(16 + payload, 0);
        io.read_exact(&mut header[16..]).await?;
        v2_client(&header, peer)
    } else if header.starts_with(b"PROXY ") {
        // Byte by byte: the line's end is the header's end, and the request follows at once.
        while !header.ends_with(b"\r\n") {
            if header.len() >= V1_MAX {
                return Err(ProxyHeaderError::TooLong);
            }
            header.push(io.read_u8().await?);
        }
        v1_client(&header, peer)
    } else {
        Err(ProxyHeaderError::Missing)
    }
}

fn v2_client(header: &[u8], peer: SocketAddr) -> Result<SocketAddr, ProxyHeaderError> {
    use ppp::v2::{Addresses, Command, Header};
    let header =
        Header::try_from(header).map_err(|e| ProxyHeaderError::Malformed(e.to_string()))?;
    if header.command == Command::Local {
        return Ok(peer);
    }
    Ok(match header.addresses {
        Addresses::IPv4(a) => SocketAddr::new(a.source_address.into(), a.source_port),
        Addresses::IPv6(a) => SocketAddr::new(a.source_address.into(), a.source_port),
        Addresses::Unspecified | Addresses::Unix(_) => peer,
    })
}

fn v1_client(header: &[u8], peer: SocketAddr) -> Result<SocketAddr, ProxyHeaderError> {
    use ppp::v1::{Addresses, Header};
    let header =
        Header::try_from(header).map_err(|e| ProxyHeaderError::Malformed(e.to_string()))?;
    Ok(match header.addresses {
        Addresses::Tcp4(a) => SocketAddr::new(a.source_address.into(), a.source_port),
        Addresses::Tcp6(a) => SocketAddr::new(a.source_address.into(), a.source_port),
        Addresses::Unknown => peer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: &str = "127.0.0.1:40000";

    fn peer() -> SocketAddr {
        PEER.parse().unwrap()
    }

    /// Reads a header from `bytes` and returns the address and what is left unread.
    async fn read(bytes: &[u8]) -> (Result<SocketAddr, ProxyHeaderError>, Vec<u8>) {
        let mut io = bytes;
        let result = read_client_address(&mut io, peer()).await;
        (result, io.to_vec())
    }

    /// A v2 header as HAProxy's `send-proxy-v2` writes it: signature, version 2 and
    /// command, family and protocol, length, addresses, then optional TLVs.
    fn v2(command: u8, family: u8, addresses: &[u8], tlvs: &[u8]) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        h.push(0x20 | command);
        h.push(family);
        h.extend(((addresses.len() + tlvs.len()) as u16).to_be_bytes());
        h.extend(addresses);
        h.extend(tlvs);
        h
    }

    #[tokio::test]
    async fn a_v1_header_names_the_client_and_leaves_the_request_unread() {
        let (client, rest) =
            read(b"PROXY TCP4 203.0.113.7 10.0.0.2 51234 443\r\nGET / HTTP/1.1\r\n").await;
        assert_eq!(client.unwrap(), "203.0.113.7:51234".parse().unwrap());
        assert_eq!(rest, b"GET / HTTP/1.1\r\n");

        let (client, rest) = read(b"PROXY TCP6 2001:db8::5 2001:db8::1 4000 443\r\n\x16\x03").await;
        assert_eq!(client.unwrap(), "[2001:db8::5]:4000".parse().unwrap());
        assert_eq!(
            rest, b"\x16\x03",
            "the TLS handshake's first bytes stay for TLS"
        );

        // The shortest header there is: still not a byte too far.
        let (client, rest) = read(b"PROXY UNKNOWN\r\nGET").await;
        assert_eq!(client.unwrap(), peer(), "UNKNOWN is the balancer itself");
        assert_eq!(rest, b"GET");
    }

    #[tokio::test]
    async fn a_v2_header_names_the_client_and_leaves_the_request_unread() {
        // PROXY, TCP over IPv4: 198.51.100.9:61000 → 10.0.0.2:443, with a NOOP TLV.
        let mut bytes = v2(
            1,
            0x11,
            &[198, 51, 100, 9, 10, 0, 0, 2, 0xEE, 0x48, 0x01, 0xBB],
            &[0x04, 0x00, 0x01, 0x2A],
        );
        bytes.extend(b"GET /readyz HTTP/1.1\r\n");
        let (client, rest) = read(&bytes).await;
        assert_eq!(client.unwrap(), "198.51.100.9:61000".parse().unwrap());
        assert_eq!(rest, b"GET /readyz HTTP/1.1\r\n");

        // PROXY, TCP over IPv6.
        let mut addresses = "2001:db8::77"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets()
            .to_vec();
        addresses.extend(
            "2001:db8::1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        addresses.extend([0x13, 0x88, 0x01, 0xBB]);
        let (client, _) = read(&v2(1, 0x21, &addresses, &[])).await;
        assert_eq!(client.unwrap(), "[2001:db8::77]:5000".parse().unwrap());

        // LOCAL: the balancer's own health check.
        let (client, rest) = read(&[v2(0, 0x00, &[], &[]), b"GET".to_vec()].concat()).await;
        assert_eq!(client.unwrap(), peer());
        assert_eq!(rest, b"GET");
    }

    #[tokio::test]
    async fn anything_else_closes_the_connection() {
        for (bytes, what) in [
            (&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..], "plain HTTP"),
            (
                &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
                "a TLS hello",
            ),
            (
                &b"PROXY TCP4 999.0.0.1 10.0.0.2 1 2\r\n"[..],
                "a bad address",
            ),
            (
                &b"PROXY TCP4 203.0.113.7 10.0.0.2 51234\r\n"[..],
                "a missing port",
            ),
            (&b"PROXY TCP4 203.0.113.7"[..], "a header cut short"),
            (
                &b"\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x0c"[..],
                "a near signature",
            ),
        ] {
            let (client, _) = read(bytes).await;
            assert!(client.is_err(), "{what} must be refused, got {client:?}");
        }
        let long = [b"PROXY TCP4 ".as_slice(), &[b'1'; 200]].concat();
        assert!(matches!(
            read(&long).await.0,
            Err(ProxyHeaderError::TooLong)
        ));
        let mut huge = v2(1, 0x11, &[0; 12], &[]);
        huge[14..16].copy_from_slice(&4000u16.to_be_bytes());
        assert!(matches!(
            read(&huge).await.0,
            Err(ProxyHeaderError::TooLong)
        ));
        // v2 with version 1 in the high nibble, and a v2 address block shorter than its family's.
        let mut version = v2(1, 0x11, &[0; 12], &[]);
        version[12] = 0x11;
        assert!(read(&version).await.0.is_err());
        assert!(read(&v2(1, 0x11, &[1, 2, 3], &[])).await.0.is_err());
    }

    #[test]
    fn trusted_ranges_parse_and_match() {
        let t = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8  fd00::/8").unwrap();
        assert!(t.trusts("127.0.0.1".parse().unwrap()));
        assert!(!t.trusts("127.0.0.2".parse().unwrap()));
        assert!(t.trusts("10.200.3.4".parse().unwrap()));
        assert!(
            t.trusts("::ffff:10.1.1.1".parse().unwrap()),
            "IPv4-mapped peers"
        );
        assert!(t.trusts("fd12::1".parse().unwrap()));
        assert!(!t.trusts("2001:db8::1".parse().unwrap()));
        assert_eq!(t.to_string(), "127.0.0.1/32, 10.0.0.0/8, fd00::/8");
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        let e = TrustedProxies::parse("10.0.0.0/33").unwrap_err();
        assert!(e.contains("'10.0.0.0/33'"), "{e}");
        assert!(TrustedProxies::parse("localhost").is_err());
    }
}
