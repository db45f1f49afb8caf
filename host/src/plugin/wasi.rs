//! The sandbox's WASI context: default deny. No preopened directories, no
//! environment, no arguments, a closed stdin and no network (no TCP, UDP
//! or DNS), unless the stage's `grants` say otherwise: the environment
//! variables it names, and outgoing TCP to the `host:port` pairs it names
//! (listening, accepting and all of UDP stay denied). WASI 0.2 has no way
//! to start a process. stdout and stderr go to capped buffers
//! ([`super::output`]). See SECURITY.md.

use super::output::CapturedOutput;
use crate::config::Grants;
use std::net::SocketAddr;
use std::sync::Arc;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

/// The WASI context of one instance with `grants`, writing its stdout and
/// stderr to the given buffers.
pub fn context(grants: &Grants, stdout: &CapturedOutput, stderr: &CapturedOutput) -> WasiCtx {
    let mut b = WasiCtxBuilder::new();
    b.stdout(stdout.clone()).stderr(stderr.clone());
    for var in &grants.env {
        if let Ok(value) = std::env::var(var) {
            b.env(var, value);
        }
    }
    if !grants.network.is_empty() {
        let allowed: Arc<Vec<SocketAddr>> = Arc::new(resolve(&grants.network));
        b.allow_tcp(true);
        b.socket_addr_check(move |addr, usage| {
            use wasmtime_wasi::sockets::SocketAddrUse;
            let ok = match usage {
                // Connecting binds an ephemeral local address first.
                SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
                SocketAddrUse::TcpConnect => allowed.contains(&addr),
                // Listening, accepting and all of UDP stay denied.
                _ => false,
            };
            Box::pin(async move { ok })
        });
    }
    b.build()
}

/// Resolves `host:port` grants to socket addresses once, before the run.
fn resolve(grants: &[String]) -> Vec<SocketAddr> {
    use std::net::ToSocketAddrs;
    grants
        .iter()
        .flat_map(|g| match g.to_socket_addrs() {
            Ok(addrs) => addrs.collect::<Vec<_>>(),
            Err(e) => {
                tracing::warn!("network grant `{g}` does not resolve: {e}");
                Vec::new()
            }
        })
        .collect()
}
