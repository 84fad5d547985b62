//! iperf3-compatible command line.
