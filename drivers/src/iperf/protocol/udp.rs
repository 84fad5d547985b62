//! UDP's "connection" handshake and the header at the start of every UDP data packet.

/// The 4-byte datagram a client sends to announce a UDP stream ("6789" in iperf3 ≥ 3.10).
pub(crate) const UDP_CONNECT_MSG: u32 = 0x3637_3839;
/// The server's answer ("9876").
pub(crate) const UDP_CONNECT_REPLY: u32 = 0x3938_3736;
/// The answer older iperf3 servers send.
const LEGACY_UDP_CONNECT_REPLY: u32 = 987_654_321;

/// iperf3 writes the handshake words from a host-order `unsigned int`, so they travel in the
/// sender's byte order; read them in ours (the two words are each other's byte reversal, so
/// accepting both orders would confuse them).
pub(crate) fn is_connect_reply(datagram: &[u8]) -> bool {
    word(datagram).is_some_and(|w| w == UDP_CONNECT_REPLY || w == LEGACY_UDP_CONNECT_REPLY)
}

/// Whether a datagram is a client's connect announcement.
pub(crate) fn is_connect_msg(datagram: &[u8]) -> bool {
    datagram.len() == 4 && word(datagram) == Some(UDP_CONNECT_MSG)
}

fn word(datagram: &[u8]) -> Option<u32> {
    let bytes = datagram.get(..4)?;
    Some(u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// Header length: seconds, microseconds and a 32- or 64-bit packet counter.
pub(crate) fn udp_header_len(counters_64bit: bool) -> usize {
    if counters_64bit { 16 } else { 12 }
}

/// The header of a UDP data packet: the send time and the packet's sequence number (from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UdpHeader {
    pub(crate) sec: u32,
    pub(crate) usec: u32,
    pub(crate) seq: u64,
}

impl UdpHeader {
    /// Writes the header into the start of `packet` (which is at least a header long).
    pub(crate) fn write(&self, packet: &mut [u8], counters_64bit: bool) {
        packet[0..4].copy_from_slice(&self.sec.to_be_bytes());
        packet[4..8].copy_from_slice(&self.usec.to_be_bytes());
        if counters_64bit {
            packet[8..16].copy_from_slice(&self.seq.to_be_bytes());
        } else {
            packet[8..12].copy_from_slice(&(self.seq as u32).to_be_bytes());
        }
    }

    /// Reads the header of a received packet, or `None` if it is too short to hold one.
    pub(crate) fn read(packet: &[u8], counters_64bit: bool) -> Option<Self> {
        if packet.len() < udp_header_len(counters_64bit) {
            return None;
        }
        let word = |at: usize| {
            u32::from_be_bytes([packet[at], packet[at + 1], packet[at + 2], packet[at + 3]])
        };
        let seq = if counters_64bit {
            u64::from(word(8)) << 32 | u64::from(word(12))
        } else {
            u64::from(word(8))
        };
        Some(Self {
            sec: word(0),
            usec: word(4),
            seq,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_round_trips_with_32_and_64_bit_counters() {
        let header = UdpHeader {
            sec: 1_700_000_000,
            usec: 999_999,
            seq: 42,
        };
        for wide in [false, true] {
            let mut packet = [0u8; 64];
            header.write(&mut packet, wide);
            assert_eq!(UdpHeader::read(&packet, wide), Some(header));
        }
    }

    #[test]
    fn the_header_is_big_endian_on_the_wire() {
        let mut packet = [0u8; 12];
        UdpHeader {
            sec: 1,
            usec: 2,
            seq: 3,
        }
        .write(&mut packet, false);
        assert_eq!(packet, [0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]);
    }

    #[test]
    fn a_short_packet_has_no_header() {
        assert_eq!(UdpHeader::read(&[0u8; 11], false), None);
        assert_eq!(UdpHeader::read(&[0u8; 15], true), None);
    }

    #[test]
    fn connect_words_are_recognised_in_the_senders_byte_order() {
        assert!(is_connect_reply(&UDP_CONNECT_REPLY.to_ne_bytes()));
        assert!(is_connect_reply(&987_654_321u32.to_ne_bytes()));
        assert!(!is_connect_reply(&UDP_CONNECT_MSG.to_ne_bytes()));
        assert!(is_connect_msg(&UDP_CONNECT_MSG.to_ne_bytes()));
        assert!(!is_connect_msg(&[1, 2, 3]));
    }
}
