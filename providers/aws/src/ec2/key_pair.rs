//! `aws_key_pair`: a public key imported for SSH (ImportKeyPair), named by
//! `key_name` / `key_name_prefix` with the physical-name rule (a
//! replacement while the live key holds the name gets a derived one).
//! Everything but the tags replaces.

use super::*;

/// EC2's limit on key pair names.
const NAME_MAX: usize = 255;

fn key_computed(c: &Clients, k: &aws_sdk_ec2::types::KeyPairInfo) -> Vec<(&'static str, Value)> {
    let id = k.key_pair_id().unwrap_or_default();
    vec![
        ("id", opt_s(k.key_name())),
        ("key_name", opt_s(k.key_name())),
        ("key_pair_id", s(id)),
        ("arn", arn(c, None, "key-pair", id)),
        ("fingerprint", opt_s(k.key_fingerprint())),
        ("key_type", s(k.key_type().map_or("rsa", |t| t.as_str()))),
    ]
}

pub(crate) async fn describe_keys(
    c: &Clients,
    f: Filter,
) -> Result<Vec<aws_sdk_ec2::types::KeyPairInfo>, Error> {
    let out = c
        .ec2
        .describe_key_pairs()
        .filters(f)
        .send()
        .await
        .map_err(api("DescribeKeyPairs"))?;
    Ok(out.key_pairs().to_vec())
}

impl Tagged for aws_sdk_ec2::types::KeyPairInfo {
    fn tag_list(&self) -> &[Tag] {
        self.tags()
    }
}

async fn create_key(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let name = ctx.name_from(config, "key_name", NAME_MAX);
    let tags = ctx.tags(&tags(config));
    let made = ctx
        .c
        .ec2
        .import_key_pair()
        .key_name(&name)
        .public_key_material(aws_sdk_ec2::primitives::Blob::new(
            string(config, "public_key").unwrap_or_default(),
        ))
        .tag_specifications(tag_spec(ResourceType::KeyPair, &tags))
        .send()
        .await
        .map_err(api("ImportKeyPair"));
    if let Err(e) = made {
        // A retried import whose first try ran: the key of this name
        // carrying this create's key is ours; any other is refused.
        let ours = e.is_duplicate()
            && tagged(ctx.key, |f| describe_keys(ctx.c, f))
                .await?
                .is_some_and(|k| k.key_name() == Some(name.as_str()));
        if !ours {
            return Err(if e.is_duplicate() {
                Error::new(format!(
                    "a key pair named {name:?} already exists and kiln did not import it"
                ))
                .with_detail("choose another key_name (or key_name_prefix)")
            } else {
                e
            });
        }
    }
    let found = describe_keys(ctx.c, filter("key-name", [name.clone()])).await?;
    let k = found
        .first()
        .ok_or_else(|| Error::new(format!("key pair {name} is missing right after its import")))?;
    Ok((name, state(config, key_computed(ctx.c, k))))
}

/// `aws_key_pair`.
pub struct KeyPair;

#[async_trait]
impl Resource for KeyPair {
    fn name(&self) -> &'static str {
        "aws_key_pair"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr("arn", A::computed(str_t()))
            .attr(
                "key_name",
                opt_computed(str_t()).describe("the physical name (default: made from key_name_prefix, or from the environment, the resource name and the generation)"),
            )
            .attr(
                "key_name_prefix",
                A::optional(str_t()).describe("the name begins with it (conflicts with key_name)"),
            )
            .attr(
                "public_key",
                A::required(str_t()).describe("OpenSSH, PEM or RFC 4716 public key material"),
            )
            .attr("key_pair_id", A::computed(str_t()))
            .attr("fingerprint", A::computed(str_t()))
            .attr("key_type", A::computed(str_t()))
            .attr("tags", tags_attr())
            .physical_name("key_name", NAME_MAX)
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create_key(ctx, config).await
    }

    /// One DescribeKeyPairs per 100 names.
    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        read_ids(
            items,
            "key-name",
            |f| describe_keys(c, f),
            |k| {
                (
                    k.key_name().unwrap_or_default().to_string(),
                    key_computed(c, k),
                )
            },
        )
        .await
        .map(observed)
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        let id = string(&req.prior, "key_pair_id").unwrap_or_default();
        let req = UpdateRequest { id, ..req.clone() };
        update_tags(ctx, &req).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, _state: &Value) -> Result<(), Error> {
        match ctx
            .c
            .ec2
            .delete_key_pair()
            .key_name(id)
            .send()
            .await
            .map_err(api("DeleteKeyPair"))
        {
            Err(e) if !e.is_not_found() => Err(e),
            _ => Ok(()),
        }
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        let Some(k) = tagged(key, |f| describe_keys(c, f)).await? else {
            return Ok(None);
        };
        let mut fields = key_computed(c, &k);
        fields.push(("public_key", opt_s(k.public_key())));
        fields.push(("tags", user_tags(k.tags())));
        Ok(Some((
            k.key_name().unwrap_or_default().to_string(),
            adopted(&KeyPair.schema(), fields),
        )))
    }
}
