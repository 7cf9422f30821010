//! `docs/aws.md` lists every resource type and data source the AWS provider
//! supports, with its arguments, generated from the provider's schema so the
//! list cannot drift. After a schema change, rewrite it with
//! `UPDATE_DOCS=1 cargo test -p kiln-provider-aws --test supported_types`.

use kiln_provider::Provider;
use kiln_provider_aws::AwsProvider;

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/aws.md");
const MARKER: &str = "<!-- generated from the schema below this line -->";

#[test]
fn docs_list_every_supported_type_and_argument() {
    let schema = AwsProvider::new().schema();
    let current = std::fs::read_to_string(DOC).unwrap_or_default();
    let head = current.split_once(MARKER).map_or_else(
        || "# The AWS provider\n\n".to_string(),
        |(h, _)| h.to_string(),
    );
    let want = format!(
        "{head}{MARKER}\n\n## Resource types\n\n{}",
        schema.reference_markdown()
    );
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(DOC, &want).expect("write docs/aws.md");
        return;
    }
    assert!(
        current == want,
        "docs/aws.md is out of date with the provider's schema; run \
         UPDATE_DOCS=1 cargo test -p kiln-provider-aws --test supported_types"
    );
    for name in schema.resources.keys().chain(schema.data_sources.keys()) {
        assert!(
            current.contains(&format!("`{name}`")) || current.contains(&format!("`data.{name}`"))
        );
    }
}
