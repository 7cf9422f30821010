//! HashiCorp's `random` provider, embedded: random values made once, at
//! create, and kept in the state until the resource is replaced — by a
//! change of `keepers` or of any argument (every argument replaces, as in
//! Terraform's provider). Resource and argument names are Terraform's
//! (<https://registry.terraform.io/providers/hashicorp/random/latest/docs>):
//! `random_id`, `random_string`, `random_password` (its result sensitive),
//! `random_pet`, `random_integer`, `random_uuid`, `random_shuffle`.
//!
//! Arguments with a default (`special = true`, `separator = "-"`, ...) are
//! optional-and-computed: left unset they take the default at create, and
//! an unset argument never shows as a change. `seed` makes `random_integer`
//! and `random_shuffle` repeatable (the same seed, the same result), though
//! not the same numbers Terraform's Go generator picks.

use std::collections::BTreeMap;

use async_trait::async_trait;
use base64::Engine as _;
use kiln_diag::{Diagnostic, Diagnostics};
use kiln_model::{AttributeSchema, Presence, ProviderSchema, ResourceSchema, Type, Value};
use kiln_provider::{
    CreateRequest, CreateResponse, DeleteRequest, DeleteResponse, Provider, ReadDataRequest,
    ReadDataResponse, ReadRequest, ReadResponse, UpdateRequest, UpdateResponse, ValidateRequest,
    ValidateResponse,
};
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};

/// The `random` provider. Stateless; cheap to construct.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomProvider;

impl RandomProvider {
    pub fn new() -> RandomProvider {
        RandomProvider
    }
}

fn keepers() -> AttributeSchema {
    AttributeSchema::optional(Type::Map(Box::new(Type::String)))
        .describe("arbitrary values whose change makes a new random value")
}

/// Optional with a default the provider fills in at create.
fn defaulted(ty: Type, what: &str) -> AttributeSchema {
    AttributeSchema::new(ty, Presence::OptionalComputed).describe(what)
}

fn string_schema(sensitive: bool) -> ResourceSchema {
    let result = AttributeSchema::computed(Type::String).describe("the generated string");
    ResourceSchema::new()
        .attr("keepers", keepers())
        .attr(
            "length",
            AttributeSchema::required(Type::Number).describe("how many characters"),
        )
        .attr(
            "special",
            defaulted(Type::Bool, "include special characters (default true)"),
        )
        .attr(
            "upper",
            defaulted(Type::Bool, "include upper-case letters (default true)"),
        )
        .attr(
            "lower",
            defaulted(Type::Bool, "include lower-case letters (default true)"),
        )
        .attr(
            "numeric",
            defaulted(Type::Bool, "include digits (default true)"),
        )
        .attr("number", defaulted(Type::Bool, "deprecated: numeric"))
        .attr(
            "min_special",
            defaulted(Type::Number, "at least this many special characters"),
        )
        .attr(
            "min_upper",
            defaulted(Type::Number, "at least this many upper-case letters"),
        )
        .attr(
            "min_lower",
            defaulted(Type::Number, "at least this many lower-case letters"),
        )
        .attr(
            "min_numeric",
            defaulted(Type::Number, "at least this many digits"),
        )
        .attr(
            "override_special",
            AttributeSchema::optional(Type::String)
                .describe("the special characters to use instead of !@#$%&*()-_=+[]{}<>:?"),
        )
        .attr(
            "result",
            if sensitive {
                result.sensitive()
            } else {
                result
            },
        )
        .attr("id", AttributeSchema::computed(Type::String))
}

fn schemas() -> BTreeMap<String, ResourceSchema> {
    let n = || AttributeSchema::computed(Type::String);
    BTreeMap::from([
        (
            "random_id".to_string(),
            ResourceSchema::new()
                .attr("keepers", keepers())
                .attr(
                    "byte_length",
                    AttributeSchema::required(Type::Number).describe("how many random bytes"),
                )
                .attr(
                    "prefix",
                    AttributeSchema::optional(Type::String)
                        .describe("written before each encoding, as is"),
                )
                .attr("b64_url", n().describe("URL-safe base64, no padding"))
                .attr("b64_std", n().describe("standard base64, padded"))
                .attr("hex", n().describe("lower-case hexadecimal"))
                .attr("dec", n().describe("the bytes as one decimal number"))
                .attr("id", n().describe("b64_url")),
        ),
        ("random_string".to_string(), string_schema(false)),
        ("random_password".to_string(), string_schema(true)),
        (
            "random_pet".to_string(),
            ResourceSchema::new()
                .attr("keepers", keepers())
                .attr(
                    "length",
                    defaulted(Type::Number, "how many words (default 2)"),
                )
                .attr(
                    "prefix",
                    AttributeSchema::optional(Type::String).describe("a first word"),
                )
                .attr(
                    "separator",
                    defaulted(Type::String, "between the words (default -)"),
                )
                .attr("id", n().describe("the name")),
        ),
        (
            "random_integer".to_string(),
            ResourceSchema::new()
                .attr("keepers", keepers())
                .attr("min", AttributeSchema::required(Type::Number))
                .attr("max", AttributeSchema::required(Type::Number))
                .attr(
                    "seed",
                    AttributeSchema::optional(Type::String)
                        .describe("the same seed gives the same result"),
                )
                .attr("result", AttributeSchema::computed(Type::Number))
                .attr("id", n()),
        ),
        (
            "random_uuid".to_string(),
            ResourceSchema::new()
                .attr("keepers", keepers())
                .attr("result", n().describe("a random (version 4) UUID"))
                .attr("id", n()),
        ),
        (
            "random_shuffle".to_string(),
            ResourceSchema::new()
                .attr("keepers", keepers())
                .attr(
                    "input",
                    AttributeSchema::required(Type::List(Box::new(Type::String))),
                )
                .attr(
                    "result_count",
                    AttributeSchema::optional(Type::Number)
                        .describe("how many elements to keep (default all)"),
                )
                .attr("seed", AttributeSchema::optional(Type::String))
                .attr(
                    "result",
                    AttributeSchema::computed(Type::List(Box::new(Type::String))),
                )
                .attr("id", n()),
        ),
    ])
}

/// The configuration's arguments, read with their defaults.
struct Args<'a>(&'a kiln_model::FieldMap);

impl Args<'_> {
    fn number(&self, name: &str) -> Option<f64> {
        match self.0.get(name) {
            Some(Value::Number(n)) => Some(n.as_f64()),
            _ => None,
        }
    }

    fn count(&self, name: &str, default: usize) -> Result<usize, Diagnostic> {
        match self.number(name) {
            None => Ok(default),
            Some(n) if n >= 0.0 && n.fract() == 0.0 && n < 1e9 => Ok(n as usize),
            Some(n) => Err(Diagnostic::error(format!(
                "{name} must be a whole number of 0 or more, not {n}"
            ))),
        }
    }

    fn flag(&self, name: &str, default: bool) -> bool {
        match self.0.get(name) {
            Some(Value::Bool(b)) => *b,
            _ => default,
        }
    }

    fn string(&self, name: &str) -> Option<&str> {
        match self.0.get(name) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }
}

/// A generator seeded by `seed` when given (the same seed, the same
/// values), else from the operating system.
fn generator(seed: Option<&str>) -> rand::rngs::StdRng {
    match seed {
        Some(s) => {
            // FNV-1a of the seed text: stable across runs and platforms.
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in s.bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            rand::rngs::StdRng::seed_from_u64(h)
        }
        None => rand::rngs::StdRng::from_os_rng(),
    }
}

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const NUMERIC: &str = "0123456789";
const SPECIAL: &str = "!@#$%&*()-_=+[]{}<>:?";

/// `random_string` / `random_password`: `length` characters, at least the
/// `min_*` of each class, the rest from every enabled class, shuffled.
fn make_string(a: &Args<'_>, m: &mut kiln_model::FieldMap) -> Result<String, Diagnostic> {
    let length = a.count("length", 0)?;
    let numeric = a.flag("numeric", a.flag("number", true));
    let special_set = a.string("override_special").unwrap_or(SPECIAL).to_string();
    let classes = [
        ("lower", "min_lower", LOWER.to_string()),
        ("upper", "min_upper", UPPER.to_string()),
        ("numeric", "min_numeric", NUMERIC.to_string()),
        ("special", "min_special", special_set),
    ];
    let mut rng = generator(None);
    let mut chars: Vec<char> = Vec::with_capacity(length);
    let mut pool = String::new();
    for (flag, min, set) in &classes {
        let on = if *flag == "numeric" {
            numeric
        } else {
            a.flag(flag, true)
        };
        m.insert((*flag).to_string(), Value::Bool(on));
        let least = a.count(min, 0)?;
        m.insert((*min).to_string(), Value::from(least as i64));
        let set: Vec<char> = set.chars().collect();
        if set.is_empty() {
            continue;
        }
        for _ in 0..least {
            chars.push(set[rng.random_range(0..set.len())]);
        }
        if on {
            pool.extend(set.iter());
        }
    }
    m.insert("number", Value::Bool(numeric));
    if chars.len() > length {
        return Err(Diagnostic::error(format!(
            "length ({length}) is less than the sum of the min_* arguments ({})",
            chars.len()
        )));
    }
    let pool: Vec<char> = pool.chars().collect();
    if pool.is_empty() && chars.len() < length {
        return Err(Diagnostic::error(
            "every character class is off: set at least one of lower, upper, numeric or special",
        ));
    }
    while chars.len() < length {
        chars.push(pool[rng.random_range(0..pool.len())]);
    }
    chars.shuffle(&mut rng);
    Ok(chars.into_iter().collect())
}

/// The bytes as one unsigned decimal number (big-endian), however long.
fn decimal(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = vec![0]; // little-endian base 10
    for &b in bytes {
        let mut carry = u32::from(b);
        for d in digits.iter_mut() {
            let v = u32::from(*d) * 256 + carry;
            *d = (v % 10) as u8;
            carry = v / 10;
        }
        while carry > 0 {
            digits.push((carry % 10) as u8);
            carry /= 10;
        }
    }
    digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
}

/// Words for `random_pet`: adverbs, adjectives and animals.
const ADVERBS: &[&str] = &[
    "abnormally",
    "actually",
    "amazingly",
    "badly",
    "barely",
    "boldly",
    "briefly",
    "brightly",
    "calmly",
    "carefully",
    "certainly",
    "cheaply",
    "cleanly",
    "closely",
    "deeply",
    "early",
    "easily",
    "equally",
    "evenly",
    "fairly",
    "finally",
    "firmly",
    "freely",
    "gently",
    "gladly",
    "greatly",
    "happily",
    "highly",
    "honestly",
    "humbly",
    "jointly",
    "kindly",
    "largely",
    "lightly",
    "loosely",
    "loudly",
    "luckily",
    "mainly",
    "merely",
    "mildly",
    "mostly",
    "neatly",
    "nearly",
    "newly",
    "nicely",
    "openly",
    "partly",
    "politely",
    "presumably",
    "promptly",
    "properly",
    "quickly",
    "quietly",
    "rarely",
    "readily",
    "really",
    "briskly",
    "safely",
    "sadly",
    "seemingly",
    "sharply",
    "simply",
    "slowly",
    "smoothly",
    "solely",
    "strongly",
    "surely",
    "swiftly",
    "terribly",
    "truly",
    "usefully",
    "vastly",
    "warmly",
    "wildly",
    "wisely",
];
const ADJECTIVES: &[&str] = &[
    "able", "active", "adapted", "alert", "amazed", "amused", "apt", "awake", "balanced", "big",
    "bold", "brave", "bright", "busy", "calm", "capital", "careful", "casual", "charming", "civil",
    "clean", "clever", "climbing", "close", "cool", "crisp", "cuddly", "curious", "daring", "dear",
    "decent", "direct", "driven", "dynamic", "eager", "easy", "enabled", "epic", "exact", "fair",
    "famous", "fast", "fine", "firm", "fit", "fleet", "fluent", "fond", "free", "fresh",
    "friendly", "funny", "game", "gentle", "giving", "glad", "golden", "good", "grand", "great",
    "happy", "hardy", "helpful", "heroic", "holy", "honest", "humble", "ideal", "immense",
    "innocent", "intent", "keen", "kind", "known", "large", "legal", "liberal", "lucky", "magical",
    "main", "major", "massive", "merry", "mighty", "modern", "moving", "native", "neat", "new",
    "nice", "noble", "normal", "notable", "open", "optimal", "patient", "perfect", "pleasant",
    "polite", "precious", "present", "prime", "proper", "proud", "quick", "quiet", "rapid", "rare",
    "ready", "real", "regular", "relaxed", "renewing", "rich", "right", "robust", "safe", "saving",
    "secure", "sharp", "simple", "smart", "smooth", "solid", "sound", "special", "stable",
    "steady", "strong", "sunny", "super", "sure", "sweet", "swift", "tender", "thankful", "tidy",
    "tight", "true", "trusty", "useful", "valid", "vital", "warm", "welcome", "well", "wise",
    "witty",
];
const NAMES: &[&str] = &[
    "aardvark", "alpaca", "ant", "antelope", "ape", "baboon", "badger", "bass", "bat", "bear",
    "beaver", "bee", "beetle", "bird", "bison", "boar", "bobcat", "buck", "buffalo", "bull",
    "camel", "cat", "cattle", "chamois", "cheetah", "chicken", "chimp", "chipmunk", "civet",
    "clam", "cobra", "cod", "colt", "condor", "cow", "coyote", "crab", "crane", "crow", "cub",
    "deer", "dingo", "dodo", "doe", "dog", "dolphin", "donkey", "dove", "dragon", "duck", "eagle",
    "eel", "egret", "elephant", "elk", "emu", "ewe", "falcon", "ferret", "finch", "fish",
    "flamingo", "fly", "fox", "frog", "gannet", "gazelle", "gecko", "gibbon", "giraffe", "gnat",
    "gnu", "goat", "goose", "gopher", "gorilla", "grouse", "gull", "hare", "hawk", "hen", "heron",
    "hippo", "hog", "horse", "hound", "hyena", "ibex", "iguana", "impala", "jackal", "jaguar",
    "jay", "kid", "kingfish", "kit", "kite", "kiwi", "koala", "lamb", "lark", "lemming", "lemur",
    "leopard", "lion", "lizard", "llama", "lobster", "lynx", "macaw", "mako", "mammoth", "marlin",
    "marmot", "martin", "mole", "mongoose", "monkey", "moose", "moth", "mouse", "mule", "mustang",
    "newt", "ocelot", "octopus", "orca", "oriole", "osprey", "ostrich", "otter", "owl", "ox",
    "oyster", "panda", "panther", "parrot", "peacock", "pelican", "penguin", "pheasant", "pig",
    "pigeon", "pony", "poodle", "porpoise", "puma", "quail", "rabbit", "ram", "raven", "ray",
    "reindeer", "rhino", "robin", "rooster", "salmon", "seal", "shark", "sheep", "shrew", "skunk",
    "sloth", "snail", "snake", "sparrow", "spider", "squid", "stag", "starling", "stork", "swan",
    "swift", "tapir", "terrier", "tiger", "toad", "trout", "turkey", "turtle", "viper", "vulture",
    "walrus", "wasp", "weasel", "whale", "wolf", "wombat", "worm", "wren", "yak", "zebra",
];

/// `random_pet`: `length` words, the last an animal, the one before an
/// adjective, any before those adverbs; `prefix` first.
fn make_pet(a: &Args<'_>, m: &mut kiln_model::FieldMap) -> Result<String, Diagnostic> {
    let length = a.count("length", 2)?;
    let separator = a.string("separator").unwrap_or("-").to_string();
    m.insert("length", Value::from(length as i64));
    m.insert("separator", Value::from(separator.clone()));
    let mut rng = generator(None);
    let mut pick = |words: &[&str]| words[rng.random_range(0..words.len())].to_string();
    let mut words: Vec<String> = Vec::new();
    if let Some(prefix) = a.string("prefix") {
        words.push(prefix.to_string());
    }
    for i in 0..length {
        let word = match length - i {
            1 => pick(NAMES),
            2 => pick(ADJECTIVES),
            _ => pick(ADVERBS),
        };
        words.push(word);
    }
    Ok(words.join(&separator))
}

/// What create makes for `type_name`: the state (configuration with the
/// defaults and results filled in) and the id.
fn make(type_name: &str, config: &Value) -> Result<(Value, String), Diagnostic> {
    let mut m: kiln_model::FieldMap = config.as_map().cloned().unwrap_or_default();
    let cfg = m.clone();
    let a = Args(&cfg);
    let id = match type_name {
        "random_id" => {
            let n = a.count("byte_length", 0)?;
            if n == 0 {
                return Err(Diagnostic::error("byte_length must be at least 1"));
            }
            let mut bytes = vec![0u8; n];
            rand::rng().fill(&mut bytes[..]);
            let prefix = a.string("prefix").unwrap_or("").to_string();
            let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
            let std = base64::engine::general_purpose::STANDARD.encode(&bytes);
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            m.insert("b64_url", Value::from(format!("{prefix}{url}")));
            m.insert("b64_std", Value::from(format!("{prefix}{std}")));
            m.insert("hex", Value::from(format!("{prefix}{hex}")));
            m.insert("dec", Value::from(format!("{prefix}{}", decimal(&bytes))));
            format!("{prefix}{url}")
        }
        "random_string" | "random_password" => {
            let s = make_string(&a, &mut m)?;
            m.insert("result", Value::from(s.clone()));
            if type_name == "random_password" {
                "none".to_string()
            } else {
                s
            }
        }
        "random_pet" => make_pet(&a, &mut m)?,
        "random_integer" => {
            let (Some(min), Some(max)) = (a.number("min"), a.number("max")) else {
                return Err(Diagnostic::error("random_integer needs min and max"));
            };
            if min.fract() != 0.0 || max.fract() != 0.0 || min > max {
                return Err(Diagnostic::error(format!(
                    "min ({min}) and max ({max}) must be whole numbers with min <= max"
                )));
            }
            let (min, max) = (min as i64, max as i64);
            let n = generator(a.string("seed")).random_range(min..=max);
            m.insert("result", Value::from(n));
            n.to_string()
        }
        "random_uuid" => {
            let u = crate::random_uuid();
            m.insert("result", Value::from(u.clone()));
            u
        }
        "random_shuffle" => {
            let mut items: Vec<Value> = match cfg.get("input") {
                Some(Value::List(items)) => items.clone().into_vec(),
                _ => Vec::new(),
            };
            items.shuffle(&mut generator(a.string("seed")));
            if let Some(n) = a.number("result_count") {
                items.truncate(n.max(0.0) as usize);
            }
            m.insert("result", Value::List(items.into()));
            "-".to_string()
        }
        other => {
            return Err(Diagnostic::error(format!(
                "resource type {other:?} is not supported by the random provider"
            ))
            .with_detail(
                "the random provider offers random_id, random_string, random_password, random_pet, random_integer, random_uuid and random_shuffle",
            ));
        }
    };
    m.insert("id", Value::from(id.clone()));
    Ok((Value::Map(m.into()), id))
}

#[async_trait]
impl Provider for RandomProvider {
    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            name: "random".into(),
            config: ResourceSchema::new(),
            resources: schemas(),
            data_sources: BTreeMap::new(),
        }
    }

    async fn validate(&self, req: ValidateRequest) -> ValidateResponse {
        // The arguments' shape, checked before anything is applied: a make
        // that fails on them fails the plan.
        let known = req.config.is_known();
        let diagnostics = match known.then(|| make(&req.type_name, &req.config)) {
            Some(Err(d)) => d.into(),
            _ => Diagnostics::new(),
        };
        ValidateResponse { diagnostics }
    }

    async fn create(&self, req: CreateRequest) -> CreateResponse {
        match make(&req.type_name, &req.config) {
            Ok((state, id)) => CreateResponse {
                state,
                id: Some(id),
                diagnostics: Diagnostics::new(),
            },
            Err(d) => CreateResponse {
                diagnostics: d.into(),
                ..CreateResponse::default()
            },
        }
    }

    async fn read(&self, req: ReadRequest) -> ReadResponse {
        // Random values exist only in the state.
        crate::as_recorded(req)
    }

    async fn update(&self, req: UpdateRequest) -> UpdateResponse {
        // Every argument replaces: nothing is updated in place.
        UpdateResponse {
            state: req.prior,
            diagnostics: Diagnostics::new(),
        }
    }

    async fn delete(&self, _req: DeleteRequest) -> DeleteResponse {
        DeleteResponse::default()
    }

    async fn read_data(&self, req: ReadDataRequest) -> ReadDataResponse {
        ReadDataResponse {
            state: Value::Null,
            diagnostics: Diagnostic::error(format!(
                "data source {:?} is not supported by the random provider",
                req.type_name
            ))
            .into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, Value)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect(),
        )
    }

    fn get<'v>(v: &'v Value, k: &str) -> &'v Value {
        v.get(k).unwrap_or_else(|| panic!("no {k} in {v}"))
    }

    #[test]
    fn decimal_of_bytes_is_exact() {
        assert_eq!(decimal(&[0]), "0");
        assert_eq!(decimal(&[1, 0]), "256");
        assert_eq!(decimal(&[0xff; 8]), "18446744073709551615");
        assert_eq!(
            decimal(&[1, 0, 0, 0, 0, 0, 0, 0, 0]),
            "18446744073709551616"
        );
    }

    #[test]
    fn random_id_encodings_agree() {
        let (state, id) = make(
            "random_id",
            &config(&[
                ("byte_length", Value::from(8)),
                ("prefix", Value::from("p-")),
            ]),
        )
        .unwrap();
        let hex = get(&state, "hex")
            .as_str()
            .unwrap()
            .trim_start_matches("p-");
        let bytes: Vec<u8> = (0..8)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        assert_eq!(
            id,
            format!(
                "p-{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes)
            )
        );
        assert_eq!(
            get(&state, "dec").as_str().unwrap(),
            format!("p-{}", u64::from_be_bytes(bytes.try_into().unwrap()))
        );
        assert_eq!(get(&state, "b64_std").as_str().unwrap().len(), 2 + 12);
    }

    #[test]
    fn random_string_keeps_its_minimums_and_classes() {
        for _ in 0..50 {
            let (state, id) = make(
                "random_string",
                &config(&[
                    ("length", Value::from(12)),
                    ("special", Value::Bool(false)),
                    ("min_upper", Value::from(3)),
                    ("min_numeric", Value::from(2)),
                ]),
            )
            .unwrap();
            let s = get(&state, "result").as_str().unwrap().to_string();
            assert_eq!(id, s);
            assert_eq!(s.chars().count(), 12);
            assert!(
                s.chars().filter(char::is_ascii_uppercase).count() >= 3,
                "{s}"
            );
            assert!(s.chars().filter(char::is_ascii_digit).count() >= 2, "{s}");
            assert!(s.chars().all(|c| c.is_ascii_alphanumeric()), "{s}");
            assert_eq!(get(&state, "special"), &Value::Bool(false));
            assert_eq!(get(&state, "upper"), &Value::Bool(true));
        }
        let err = make(
            "random_string",
            &config(&[("length", Value::from(2)), ("min_lower", Value::from(3))]),
        )
        .unwrap_err();
        assert!(err.summary.contains("less than the sum"), "{}", err.summary);
    }

    #[test]
    fn a_password_is_not_its_id() {
        let (state, id) = make("random_password", &config(&[("length", Value::from(16))])).unwrap();
        assert_eq!(id, "none");
        assert_eq!(get(&state, "result").as_str().unwrap().chars().count(), 16);
    }

    #[test]
    fn pets_integers_shuffles_and_uuids() {
        let (pet, id) = make(
            "random_pet",
            &config(&[("length", Value::from(3)), ("prefix", Value::from("web"))]),
        )
        .unwrap();
        let words: Vec<&str> = id.split('-').collect();
        assert_eq!(words.len(), 4, "{id}");
        assert_eq!(words[0], "web");
        assert!(
            NAMES.contains(&words[3])
                && ADJECTIVES.contains(&words[2])
                && ADVERBS.contains(&words[1]),
            "{id}"
        );
        assert_eq!(get(&pet, "separator"), &Value::from("-"));

        let seeded = |seed: &str| {
            make(
                "random_integer",
                &config(&[
                    ("min", Value::from(1)),
                    ("max", Value::from(1000)),
                    ("seed", Value::from(seed)),
                ]),
            )
            .unwrap()
            .1
        };
        assert_eq!(seeded("a"), seeded("a"), "the same seed, the same result");
        let n: i64 = seeded("b").parse().unwrap();
        assert!((1..=1000).contains(&n));

        let input = Value::List(["a", "b", "c", "d"].map(Value::from).to_vec().into());
        let (shuffled, _) = make(
            "random_shuffle",
            &config(&[("input", input), ("result_count", Value::from(2))]),
        )
        .unwrap();
        let Value::List(result) = get(&shuffled, "result") else {
            panic!()
        };
        assert_eq!(result.len(), 2);

        let (_, uuid) = make("random_uuid", &config(&[])).unwrap();
        assert_eq!(uuid.len(), 36);
        assert!(
            make("random_nope", &config(&[]))
                .unwrap_err()
                .summary
                .contains("not supported")
        );
    }
}
