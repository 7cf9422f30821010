//! `kiln-provider-aws`: the AWS provider served over kiln's plugin protocol
//! (docs/provider-protocol.md). kiln starts it when a configuration uses
//! `aws_*` types or a `provider "aws"` block.

use std::sync::Arc;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    kiln_provider::protocol::serve(Arc::new(kiln_provider_aws::AwsProvider::new())).await
}
