//! `kiln-provider-null`: the null provider served over the plugin protocol.
//! kiln links the null provider in; this executable exists so the protocol's
//! conformance run has a cheap provider to drive.

use std::sync::Arc;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    kiln_provider::protocol::serve(Arc::new(kiln_provider_null::NullProvider::new())).await
}
