//! Windowing: clocks that assign event times and watermarks, and windowers
//! that group times into tumbling, sliding and session windows.

pub mod config;
