//! The connection to the gateway: transport, frames, handshake, session threads, reconnection.
//!
//! - [`transport`]: TCP/TLS, certificate pinning, the plaintext rule, the split read/write halves.
//! - [`frames`]: serde types for every frame the node reads or writes.
//! - [`link`]: how workers send requests, events and results during a session.
//! - [`session`]: one connection over any socket halves: handshake, reader and writer threads.
//! - `watchdog`: the tick watchdog the session's reader feeds and its writer keeps.
//! - [`connect`]: the `connect` params, auth selection and signature.
//! - [`reconnect`]: the loop around sessions: backoff, and applying what a refusal asks for.
//! - [`refusal`]: the refusal matrix as one pure function: verdict, next state, effects.

pub mod connect;
pub mod frames;
pub mod link;
pub mod reconnect;
pub mod refusal;
pub mod session;
pub mod transport;
mod watchdog;
