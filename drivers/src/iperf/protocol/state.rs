//! The one-byte, signed control messages iperf3 peers exchange.

/// A control-channel state. iperf3 sends these as one *signed* byte; the two error states are
/// negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TestState {
    TestStart,
    TestRunning,
    TestEnd,
    ParamExchange,
    CreateStreams,
    ServerTerminate,
    ClientTerminate,
    ExchangeResults,
    DisplayResults,
    IperfDone,
    AccessDenied,
    /// Followed on the wire by two big-endian 32-bit codes: iperf3's error number and `errno`.
    ServerError,
}

impl TestState {
    /// The signed code iperf3 uses for this state.
    pub(crate) fn code(self) -> i8 {
        match self {
            Self::TestStart => 1,
            Self::TestRunning => 2,
            Self::TestEnd => 4,
            Self::ParamExchange => 9,
            Self::CreateStreams => 10,
            Self::ServerTerminate => 11,
            Self::ClientTerminate => 12,
            Self::ExchangeResults => 13,
            Self::DisplayResults => 14,
            Self::IperfDone => 16,
            Self::AccessDenied => -1,
            Self::ServerError => -2,
        }
    }

    /// The state for a received byte, or `None` for a code this protocol does not define.
    pub(crate) fn from_byte(byte: u8) -> Option<Self> {
        let state = match byte as i8 {
            1 => Self::TestStart,
            2 => Self::TestRunning,
            4 => Self::TestEnd,
            9 => Self::ParamExchange,
            10 => Self::CreateStreams,
            11 => Self::ServerTerminate,
            12 => Self::ClientTerminate,
            13 => Self::ExchangeResults,
            14 => Self::DisplayResults,
            16 => Self::IperfDone,
            -1 => Self::AccessDenied,
            -2 => Self::ServerError,
            _ => return None,
        };
        Some(state)
    }

    /// The byte that goes on the wire.
    pub(crate) fn to_byte(self) -> u8 {
        self.code() as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_states_are_sent_as_negative_signed_bytes() {
        assert_eq!(TestState::AccessDenied.to_byte(), 0xff);
        assert_eq!(TestState::ServerError.to_byte(), 0xfe);
        assert_eq!(TestState::from_byte(0xff), Some(TestState::AccessDenied));
    }

    #[test]
    fn every_state_round_trips_through_its_byte() {
        for state in [
            TestState::TestStart,
            TestState::TestRunning,
            TestState::TestEnd,
            TestState::ParamExchange,
            TestState::CreateStreams,
            TestState::ServerTerminate,
            TestState::ClientTerminate,
            TestState::ExchangeResults,
            TestState::DisplayResults,
            TestState::IperfDone,
            TestState::AccessDenied,
            TestState::ServerError,
        ] {
            assert_eq!(TestState::from_byte(state.to_byte()), Some(state));
        }
    }

    #[test]
    fn unused_codes_are_rejected() {
        for code in [0u8, 3, 5, 6, 7, 8, 15, 17, 100] {
            assert_eq!(TestState::from_byte(code), None, "code {code}");
        }
    }
}
