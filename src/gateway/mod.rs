//! The connection to the gateway: transport, frames, handshake, session threads, reconnection.
//!
//! (Core; being written.)
