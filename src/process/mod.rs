//! Processes: run daemons and tasks, capture and stream their output, never leak them.
