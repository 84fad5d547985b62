use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IP address with a prefix length: an interface's address (`10.0.0.1/24`) or a subnet
/// (`10.0.0.0/24`, `fd00::/64`).
///
/// # Examples
/// ```
/// use testrig::network::Cidr;
///
/// let cidr: Cidr = "10.0.0.1/24".parse().unwrap();
/// assert_eq!(cidr.address().to_string(), "10.0.0.1");
/// assert_eq!(cidr.prefix(), 24);
/// assert_eq!(cidr.network().to_string(), "10.0.0.0/24");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    address: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `address/prefix`; `None` when the prefix is longer than the address (32 or 128 bits).
    pub fn new(address: IpAddr, prefix: u8) -> Option<Cidr> {
        (prefix <= bits(address)).then_some(Cidr { address, prefix })
    }

    /// The address.
    pub fn address(&self) -> IpAddr {
        self.address
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether this is an IPv4 address.
    pub fn is_ipv4(&self) -> bool {
        self.address.is_ipv4()
    }

    /// The subnet the address is in: host bits cleared.
    pub fn network(&self) -> Cidr {
        Cidr {
            address: from_bits(self.address, to_bits(self.address) & self.mask()),
            prefix: self.prefix,
        }
    }

    /// Whether `address` is inside this subnet.
    pub fn contains(&self, address: IpAddr) -> bool {
        address.is_ipv4() == self.is_ipv4()
            && to_bits(address) & self.mask() == to_bits(self.address) & self.mask()
    }

    /// Whether the two subnets share an address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        if self.is_ipv4() != other.is_ipv4() {
            return false;
        }
        let shorter = if self.prefix <= other.prefix {
            self
        } else {
            other
        };
        let longer = if std::ptr::eq(shorter, self) {
            other
        } else {
            self
        };
        shorter.contains(longer.address)
    }

    /// How many addresses of the subnet can go to interfaces: IPv4 leaves out the network and
    /// broadcast addresses (except /31 and /32, RFC 3021), IPv6 the subnet-router anycast
    /// address (`::`).
    pub(crate) fn host_capacity(&self) -> u128 {
        let host_bits = bits(self.address) - self.prefix;
        let size = if host_bits >= 127 {
            u128::MAX
        } else {
            1u128 << host_bits
        };
        match (self.is_ipv4(), host_bits) {
            (true, 0 | 1) => size,
            (true, _) => size - 2,
            (false, 0) => 1,
            (false, _) => size - 1,
        }
    }

    /// The `index`-th assignable address (from 0) with this subnet's prefix.
    pub(crate) fn host(&self, index: u128) -> Cidr {
        let network = self.network();
        let host_bits = bits(self.address) - self.prefix;
        let first = match (self.is_ipv4(), host_bits) {
            (true, 0 | 1) | (false, 0) => 0,
            _ => 1,
        };
        Cidr {
            address: from_bits(network.address, to_bits(network.address) + first + index),
            prefix: self.prefix,
        }
    }

    fn mask(&self) -> u128 {
        let width = bits(self.address);
        if self.prefix == 0 {
            0
        } else {
            let ones = (u128::MAX << (128 - u32::from(self.prefix))) >> (128 - u32::from(width));
            ones & width_mask(width)
        }
    }
}

fn bits(address: IpAddr) -> u8 {
    if address.is_ipv4() { 32 } else { 128 }
}

fn width_mask(width: u8) -> u128 {
    if width == 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    }
}

fn to_bits(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn from_bits(like: IpAddr, value: u128) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(value as u32)),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(value)),
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// Why a text is not a [`Cidr`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not an address with a prefix length (like 10.0.0.0/24 or fd00::/64): {problem}"
)]
pub struct CidrParseError {
    text: String,
    problem: &'static str,
}

impl FromStr for Cidr {
    type Err = CidrParseError;

    fn from_str(text: &str) -> Result<Cidr, CidrParseError> {
        let error = |problem| CidrParseError {
            text: text.to_owned(),
            problem,
        };
        let (address, prefix) = text.split_once('/').ok_or_else(|| error("no `/prefix`"))?;
        let address: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| error("not an IP address"))?;
        let prefix: u8 = prefix
            .trim()
            .parse()
            .map_err(|_| error("the prefix is not a number"))?;
        Cidr::new(address, prefix).ok_or_else(|| error("the prefix is longer than the address"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        text.parse().unwrap()
    }

    #[test]
    fn a_subnet_knows_its_network_and_what_it_contains() {
        assert_eq!(cidr("10.1.2.3/16").network(), cidr("10.1.0.0/16"));
        assert!(cidr("10.1.0.0/16").contains("10.1.255.1".parse().unwrap()));
        assert!(!cidr("10.1.0.0/16").contains("10.2.0.1".parse().unwrap()));
        assert!(!cidr("10.1.0.0/16").contains("::1".parse().unwrap()));
        assert_eq!(cidr("fd00:1::5/64").network(), cidr("fd00:1::/64"));
        assert_eq!(cidr("10.0.0.7/0").network(), cidr("0.0.0.0/0"));
    }

    #[test]
    fn overlapping_subnets_are_seen_whichever_is_longer() {
        assert!(cidr("10.0.0.0/8").overlaps(&cidr("10.3.0.0/24")));
        assert!(cidr("10.3.0.0/24").overlaps(&cidr("10.0.0.0/8")));
        assert!(!cidr("10.3.0.0/24").overlaps(&cidr("10.4.0.0/24")));
        assert!(!cidr("10.3.0.0/24").overlaps(&cidr("fd00::/8")));
    }

    #[test]
    fn hosts_skip_the_network_and_broadcast_addresses() {
        assert_eq!(cidr("10.0.0.0/24").host_capacity(), 254);
        assert_eq!(cidr("10.0.0.0/24").host(0), cidr("10.0.0.1/24"));
        assert_eq!(cidr("10.0.0.0/30").host_capacity(), 2);
        assert_eq!(cidr("10.0.0.0/31").host_capacity(), 2);
        assert_eq!(cidr("10.0.0.0/31").host(0), cidr("10.0.0.0/31"));
        assert_eq!(cidr("fd00::/126").host_capacity(), 3);
        assert_eq!(cidr("fd00::/64").host(1), cidr("fd00::2/64"));
    }

    #[test]
    fn bad_text_is_refused_with_the_reason() {
        let error = "10.0.0.0".parse::<Cidr>().unwrap_err();
        assert!(error.to_string().contains("no `/prefix`"), "{error}");
        let error = "10.0.0.0/33".parse::<Cidr>().unwrap_err();
        assert!(error.to_string().contains("longer"), "{error}");
        assert!("banana/3".parse::<Cidr>().is_err());
    }
}
