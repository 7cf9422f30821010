//! `aws_s3_bucket`, stateful: its name is the user's (buckets hold data and
//! keep stable names), a rename is a replacement the planner refuses unless
//! allowed, and a bucket with objects is deleted only with `force_destroy`.
//! S3 has no batched read: each bucket is one HeadBucket.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_s3::types::{Delete, ObjectIdentifier, Tag, Tagging};
use kiln_model::Value;
use kiln_provider::UpdateRequest;

use crate::api::{Clients, Ctx, Error, TAG_KEY, api};
use crate::kind::{Observed, Resource, observed};
use crate::shape::{A, ResourceSchema, bool_t, str_t, tags as tags_attr};
use crate::values::{boolean, refreshed, s, state, string, tags};

fn tagging(tags: &BTreeMap<String, String>) -> Result<Tagging, Error> {
    let set = tags
        .iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| Error::new(format!("invalid tag {k:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Tagging::builder()
        .set_tag_set(Some(set))
        .build()
        .map_err(|e| Error::new(format!("invalid tags: {e}")))
}

fn computed(c: &Clients, bucket: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("id", s(bucket)),
        ("arn", s(format!("arn:aws:s3:::{bucket}"))),
        (
            "bucket_domain_name",
            s(format!("{bucket}.s3.amazonaws.com")),
        ),
        ("region", s(&c.region)),
    ]
}

/// Whether a bucket of that name exists, and whose it is. In us-east-1,
/// CreateBucket answers success for a bucket the account already owns, so
/// a create asks first: kiln never takes over a bucket it did not create.
async fn existing(ctx: &Ctx<'_>, bucket: &str) -> Result<Option<Option<String>>, Error> {
    match ctx
        .c
        .s3
        .head_bucket()
        .bucket(bucket)
        .send()
        .await
        .map_err(api("HeadBucket"))
    {
        Ok(_) => Ok(Some(bucket_key(ctx.c, bucket).await)),
        Err(e) if e.is_not_found() || e.message.contains("NotFound") => Ok(None),
        Err(e) if e.code() == "Forbidden" || e.message.contains("403") => Err(Error::new(format!(
            "bucket {bucket:?} exists and belongs to another account"
        ))
        .with_detail("bucket names are global: pick another")),
        Err(e) => Err(e),
    }
}

pub async fn create(ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
    let bucket = string(config, "bucket").unwrap_or_default();
    match existing(ctx, &bucket).await? {
        None => {}
        // This resource's own earlier try: adopted below.
        Some(Some(key)) if key == ctx.key => {}
        Some(owner) => {
            let whose = match owner {
                Some(_) => "kiln created it for another resource (its kiln:key tag is another's)",
                None => "kiln did not create it (it has no kiln:key tag)",
            };
            return Err(Error::new(format!(
                "bucket {bucket:?} already exists in this account and {whose}"
            ))
            .with_detail(
                "kiln never takes over an object it did not create: choose another bucket name, or remove the bucket first",
            ));
        }
    }
    let mut req = ctx.c.s3.create_bucket().bucket(&bucket);
    if ctx.c.region != "us-east-1" {
        req = req.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                    ctx.c.region.as_str(),
                ))
                .build(),
        );
    }
    match req.send().await.map_err(api("CreateBucket")) {
        Ok(_) => {}
        // A retried create of a bucket this key made already: adopt it.
        Err(e)
            if e.code() == "BucketAlreadyOwnedByYou"
                && bucket_key(ctx.c, &bucket).await.as_deref() == Some(ctx.key) => {}
        Err(e) => return Err(e.with_detail("bucket names are global: pick another if it is taken")),
    }
    let st = state(config, computed(ctx.c, &bucket));
    ctx.c
        .s3
        .put_bucket_tagging()
        .bucket(&bucket)
        .tagging(tagging(&ctx.tags(&tags(config)))?)
        .send()
        .await
        .map_err(api("PutBucketTagging"))
        .map_err(|e| e.after_creating(&bucket, st.clone()))?;
    Ok((bucket, st))
}

async fn bucket_tags(c: &Clients, bucket: &str) -> BTreeMap<String, String> {
    match c.s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(out) => out
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        Err(_) => BTreeMap::new(),
    }
}

async fn bucket_key(c: &Clients, bucket: &str) -> Option<String> {
    bucket_tags(c, bucket).await.remove(TAG_KEY)
}

pub async fn read(c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Option<Value>>, Error> {
    let mut out = Vec::new();
    for (id, prior) in items {
        match c
            .s3
            .head_bucket()
            .bucket(*id)
            .send()
            .await
            .map_err(api("HeadBucket"))
        {
            Ok(_) => out.push(Some(refreshed(prior, computed(c, id)))),
            Err(e) if e.is_not_found() || e.message.contains("NotFound") => out.push(None),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

pub async fn find(c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
    let list =
        c.s3.list_buckets()
            .send()
            .await
            .map_err(api("ListBuckets"))?;
    for b in list.buckets() {
        let Some(name) = b.name() else { continue };
        let tags = bucket_tags(c, name).await;
        if tags.get(TAG_KEY).map(String::as_str) == Some(key) {
            let user: BTreeMap<String, Value> = tags
                .into_iter()
                .filter(|(k, _)| !k.starts_with("kiln:"))
                .map(|(k, v)| (k, Value::String(v.into())))
                .collect();
            let mut fields = computed(c, name);
            fields.push(("bucket", s(name)));
            fields.push((
                "tags",
                if user.is_empty() {
                    Value::Null
                } else {
                    Value::Map(user.into())
                },
            ));
            return Ok(Some((
                name.to_string(),
                crate::shape::adopted(&S3Bucket.schema(), fields),
            )));
        }
    }
    Ok(None)
}

pub async fn update(ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
    if req.changed.iter().any(|c| c == "tags") {
        // Bucket tagging is replaced whole: keep kiln's tags.
        let mut all: BTreeMap<String, String> = bucket_tags(ctx.c, &req.id)
            .await
            .into_iter()
            .filter(|(k, _)| k.starts_with("kiln:"))
            .collect();
        all.extend(ctx.user_tags(&tags(&req.planned)));
        ctx.c
            .s3
            .put_bucket_tagging()
            .bucket(&req.id)
            .tagging(tagging(&all)?)
            .send()
            .await
            .map_err(api("PutBucketTagging"))?;
    }
    Ok(())
}

pub async fn delete(ctx: &Ctx<'_>, bucket: &str, st: &Value) -> Result<(), Error> {
    let s3 = &ctx.c.s3;
    if boolean(st, "force_destroy") == Some(true) {
        loop {
            let page = match s3
                .list_objects_v2()
                .bucket(bucket)
                .send()
                .await
                .map_err(api("ListObjectsV2"))
            {
                Ok(p) => p,
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(e),
            };
            let ids: Vec<ObjectIdentifier> = page
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
                .collect();
            if ids.is_empty() {
                break;
            }
            let delete = Delete::builder()
                .set_objects(Some(ids))
                .build()
                .map_err(|e| Error::new(format!("cannot build the object list to delete: {e}")))?;
            s3.delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(api("DeleteObjects"))?;
        }
    }
    match s3.delete_bucket().bucket(bucket).send().await.map_err(api("DeleteBucket")) {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) if e.code() == "BucketNotEmpty" => Err(e.with_detail(
            "the bucket still holds objects: empty it, or set force_destroy = true and apply before destroying",
        )),
        Err(e) => Err(e),
    }
}

/// `aws_s3_bucket`.
pub struct S3Bucket;

#[async_trait]
impl Resource for S3Bucket {
    fn name(&self) -> &'static str {
        "aws_s3_bucket"
    }

    fn schema(&self) -> ResourceSchema {
        let mut bucket = ResourceSchema::new()
            .attr("id", A::computed(str_t()))
            .attr("arn", A::computed(str_t()))
            .attr("bucket", A::required(str_t()))
            .attr(
                "force_destroy",
                A::optional(bool_t())
                    .runtime()
                    .describe("delete every object with the bucket"),
            )
            .attr("bucket_domain_name", A::computed(str_t()))
            .attr("region", A::computed(str_t()))
            .attr("tags", tags_attr())
            .exclusive(&["bucket"]);
        bucket.stateful = true;
        bucket
    }

    fn validate(&self, config: &Value, out: &mut Vec<String>) {
        if let Some(b) = string(config, "bucket") {
            let ok = (3..=63).contains(&b.len())
                && b.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
                && b.starts_with(|c: char| c.is_ascii_alphanumeric())
                && b.ends_with(|c: char| c.is_ascii_alphanumeric());
            if !ok {
                out.push(format!(
                    "bucket {b:?} is not a valid bucket name: 3 to 63 lowercase letters, digits, '-' or '.'"
                ));
            }
        }
    }

    async fn create(&self, ctx: &Ctx<'_>, config: &Value) -> Result<(String, Value), Error> {
        create(ctx, config).await
    }

    async fn read(&self, c: &Clients, items: &[(&str, &Value)]) -> Result<Vec<Observed>, Error> {
        read(c, items).await.map(observed)
    }

    async fn update(&self, ctx: &Ctx<'_>, req: &UpdateRequest) -> Result<(), Error> {
        update(ctx, req).await
    }

    async fn delete(&self, ctx: &Ctx<'_>, id: &str, state: &Value) -> Result<(), Error> {
        delete(ctx, id, state).await
    }

    async fn find(&self, c: &Clients, key: &str) -> Result<Option<(String, Value)>, Error> {
        find(c, key).await
    }
}
