//! A small OpenAPI 3 response validator for eBay's contracts (trimmed copies in
//! `tests/fixtures/ebay/`, made by `trim.py` from `../shared/ref/ebay/`).
//!
//! For a response to `METHOD /full/path` with a status and body it:
//! - finds the contract by base path and the operation by path template and method;
//! - requires the status to be declared for the operation, except eBay's platform-wide
//!   401 (token), 403 (scope) and 429 (call limit), which no contract lists;
//! - for a declared JSON body, checks the body against the schema: `$ref`s resolved into
//!   `components/schemas`, types (`integer` as whole numbers within `int32`), `enum`s,
//!   arrays and objects recursively, and every field present must be declared (`null` never
//!   passes: eBay omits absent fields);
//! - for a status declared without a body: 2xx must be empty; 4xx/5xx must be eBay's error
//!   envelope `{errors: [Error]}` checked against the contract's own `Error` schema;
//! - every `errorId` in `errors[]`/`warnings[]` must be one the contract documents in its
//!   `x-response-codes`, or one of eBay's platform ids (1001, 1002, 1100, 2001, 2002, 2004);
//!   and every error must carry `errorId`, `domain`, `category` (REQUEST, BUSINESS or
//!   APPLICATION) and `message`.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{json, Value};

/// eBay's gateway error ids, valid for every API.
pub const PLATFORM_ERROR_IDS: &[i64] = &[1001, 1002, 1100, 2001, 2002, 2004];

/// Statuses eBay's gateway may answer for any operation.
pub const PLATFORM_STATUSES: &[u16] = &[401, 403, 429];

/// One contract.
pub struct Contract {
    /// File name.
    pub name: String,
    /// `/buy/browse/v1`.
    pub base_path: String,
    doc: Value,
    error_ids: BTreeSet<i64>,
}

/// All five.
pub struct Contracts {
    contracts: Vec<Contract>,
}

/// Which schema a response was checked against.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Checked {
    /// `operationId`.
    pub operation: String,
    /// HTTP status.
    pub status: u16,
    /// The schema (`SearchPagedCollection`, `errors[Error]`, `(empty)`).
    pub schema: String,
}

impl Contract {
    /// Parses a contract document.
    pub fn from_value(name: &str, doc: Value) -> Contract {
        let base_path = doc["servers"][0]["variables"]["basePath"]["default"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let mut error_ids = BTreeSet::new();
        if let Some(paths) = doc["paths"].as_object() {
            for item in paths.values() {
                for op in item.as_object().into_iter().flat_map(|o| o.values()) {
                    for response in op["responses"]
                        .as_object()
                        .into_iter()
                        .flat_map(|r| r.values())
                    {
                        if let Some(errors) = response["x-response-codes"]["errors"].as_object() {
                            error_ids.extend(errors.keys().filter_map(|k| k.parse::<i64>().ok()));
                        }
                    }
                }
            }
        }
        Contract {
            name: name.to_string(),
            base_path,
            doc,
            error_ids,
        }
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> Result<&'a Value, String> {
        match schema.get("$ref").and_then(Value::as_str) {
            None => Ok(schema),
            Some(r) => {
                let name = r
                    .strip_prefix("#/components/schemas/")
                    .ok_or_else(|| format!("unsupported $ref {r}"))?;
                let target = self
                    .doc
                    .pointer(&format!("/components/schemas/{name}"))
                    .ok_or_else(|| format!("$ref {r} not in the contract"))?;
                self.resolve(target)
            }
        }
    }

    /// Checks `value` against `schema`, collecting every violation with its JSON path.
    pub fn check(&self, schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
        let schema = match self.resolve(schema) {
            Ok(s) => s,
            Err(e) => {
                out.push(format!("{path}: {e}"));
                return;
            }
        };
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                out.push(format!(
                    "{path}: {value} is not one of the declared values {allowed:?}"
                ));
            }
        }
        let declared = schema.get("type").and_then(Value::as_str).or_else(|| {
            (schema.get("properties").is_some() || schema.get("additionalProperties").is_some())
                .then_some("object")
        });
        if value.is_null() {
            out.push(format!(
                "{path}: null where {} is declared",
                declared.unwrap_or("a value")
            ));
            return;
        }
        match declared {
            Some("object") => {
                let Some(map) = value.as_object() else {
                    out.push(format!("{path}: expected an object, got {value}"));
                    return;
                };
                let properties = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties");
                for (key, v) in map {
                    let child = format!("{path}.{key}");
                    match properties.and_then(|p| p.get(key)) {
                        Some(s) => self.check(s, v, &child, out),
                        None => match additional {
                            Some(Value::Bool(true)) => {}
                            Some(s) if s.is_object() => self.check(s, v, &child, out),
                            // A bare `{type: object}` is free-form; a declared one is closed.
                            _ if properties.is_none() => {}
                            _ => out.push(format!("{child}: field not declared in the schema")),
                        },
                    }
                }
            }
            Some("array") => {
                let Some(items) = value.as_array() else {
                    out.push(format!("{path}: expected an array, got {value}"));
                    return;
                };
                if let Some(item_schema) = schema.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        self.check(item_schema, v, &format!("{path}[{i}]"), out);
                    }
                }
            }
            Some("string") if !value.is_string() => {
                out.push(format!("{path}: expected a string, got {value}"));
            }
            Some("integer") => match value.as_i64() {
                Some(n) => {
                    if schema.get("format").and_then(Value::as_str) == Some("int32")
                        && i32::try_from(n).is_err()
                    {
                        out.push(format!("{path}: {n} does not fit int32"));
                    }
                }
                None => out.push(format!("{path}: expected an integer, got {value}")),
            },
            Some("number") if !value.is_number() => {
                out.push(format!("{path}: expected a number, got {value}"));
            }
            Some("boolean") if !value.is_boolean() => {
                out.push(format!("{path}: expected a boolean, got {value}"));
            }
            Some("string" | "number" | "boolean") => {}
            Some(other) => out.push(format!("{path}: unsupported schema type {other}")),
            None => {}
        }
    }

    fn check_error_ids(&self, value: &Value, path: &str, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    let child = format!("{path}.{key}");
                    if key == "errors" || key == "warnings" {
                        for (i, e) in v.as_array().into_iter().flatten().enumerate() {
                            let at = format!("{child}[{i}]");
                            match e.get("errorId").and_then(Value::as_i64) {
                                Some(id)
                                    if self.error_ids.contains(&id)
                                        || PLATFORM_ERROR_IDS.contains(&id) => {}
                                Some(id) => out.push(format!(
                                    "{at}.errorId: {id} is not documented in {}'s x-response-codes",
                                    self.name
                                )),
                                None => out.push(format!("{at}: no errorId")),
                            }
                            for field in ["domain", "category", "message"] {
                                if !e.get(field).is_some_and(Value::is_string) {
                                    out.push(format!("{at}: no {field}"));
                                }
                            }
                            if let Some(c) = e.get("category").and_then(Value::as_str) {
                                if !["REQUEST", "BUSINESS", "APPLICATION"].contains(&c) {
                                    out.push(format!("{at}.category: {c} is not an eBay category"));
                                }
                            }
                        }
                    }
                    self.check_error_ids(v, &child, out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    self.check_error_ids(v, &format!("{path}[{i}]"), out);
                }
            }
            _ => {}
        }
    }

    fn operation(&self, method: &str, rest: &str) -> Option<&Value> {
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let paths = self.doc["paths"].as_object()?;
        // Literal paths win over templated ones (`/offer` vs `/offer/{offerId}`).
        let mut candidates: Vec<(&String, usize)> = paths
            .keys()
            .filter_map(|template| {
                let t: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
                if t.len() != segments.len() {
                    return None;
                }
                let mut vars = 0;
                for (a, b) in t.iter().zip(&segments) {
                    if a.starts_with('{') && a.ends_with('}') {
                        vars += 1;
                    } else if a != b {
                        return None;
                    }
                }
                Some((template, vars))
            })
            .collect();
        candidates.sort_by_key(|(_, vars)| *vars);
        candidates
            .into_iter()
            .find_map(|(template, _)| paths[template].get(method.to_ascii_lowercase().as_str()))
    }

    /// Validates one response; returns what it was checked against.
    pub fn validate(
        &self,
        method: &str,
        rest: &str,
        status: u16,
        body: &[u8],
    ) -> Result<Checked, Vec<String>> {
        let Some(op) = self.operation(method, rest) else {
            return Err(vec![format!(
                "{method} {rest}: no such operation in {}",
                self.name
            )]);
        };
        let operation = op["operationId"].as_str().unwrap_or("?").to_string();
        let mut out = Vec::new();
        let declared = op["responses"].get(status.to_string());
        if declared.is_none() && !PLATFORM_STATUSES.contains(&status) {
            return Err(vec![format!(
                "{operation}: status {status} is not declared (declared: {:?})",
                op["responses"]
                    .as_object()
                    .map(|r| r.keys().collect::<Vec<_>>())
            )]);
        }
        let schema = declared.and_then(|r| r.pointer("/content/application~1json/schema"));
        let parsed = || {
            serde_json::from_slice::<Value>(body)
                .map_err(|e| vec![format!("{operation} {status}: body is not JSON: {e}")])
        };
        let schema_name;
        match schema {
            Some(schema) => {
                let bare = schema.get("$ref").is_none() && schema.get("properties").is_none();
                if body.is_empty() {
                    if !bare {
                        return Err(vec![format!(
                            "{operation} {status}: empty body, schema {schema}"
                        )]);
                    }
                    schema_name = "(empty; contract declares a bare object)".to_string();
                } else {
                    let value = parsed()?;
                    self.check(schema, &value, "$", &mut out);
                    self.check_error_ids(&value, "$", &mut out);
                    schema_name = schema["$ref"]
                        .as_str()
                        .map(|r| r.rsplit('/').next().unwrap_or(r).to_string())
                        .unwrap_or_else(|| "object".into());
                }
            }
            None if status < 400 => {
                if !body.is_empty() {
                    out.push(format!(
                        "{operation} {status}: the contract declares no body, got {} bytes",
                        body.len()
                    ));
                }
                schema_name = "(no body)".into();
            }
            None => {
                let value = parsed()?;
                let envelope = json!({
                    "type": "object",
                    "properties": {"errors": {"type": "array", "items": {"$ref": "#/components/schemas/Error"}}}
                });
                self.check(&envelope, &value, "$", &mut out);
                if value["errors"].as_array().is_none_or(|e| e.is_empty()) {
                    out.push(format!("{operation} {status}: error body without errors[]"));
                }
                self.check_error_ids(&value, "$", &mut out);
                schema_name = "{errors: [Error]}".into();
            }
        }
        if out.is_empty() {
            Ok(Checked {
                operation,
                status,
                schema: schema_name,
            })
        } else {
            Err(out)
        }
    }
}

impl Contracts {
    /// Loads `tests/fixtures/ebay/*.json`.
    pub fn load() -> Contracts {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ebay");
        let mut contracts = Vec::new();
        for name in [
            "buy_browse_v1.json",
            "sell_inventory_v1.json",
            "sell_fulfillment_v1.json",
            "sell_negotiation_v1.json",
            "commerce_notification_v1.json",
        ] {
            let text = std::fs::read_to_string(dir.join(name))
                .unwrap_or_else(|e| panic!("reading fixture {name}: {e}"));
            let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            contracts.push(Contract::from_value(name, doc));
        }
        Contracts { contracts }
    }

    /// The contract serving `path`, and the rest of the path.
    pub fn contract_for<'a>(&'a self, path: &'a str) -> Option<(&'a Contract, &'a str)> {
        self.contracts.iter().find_map(|c| {
            let rest = path.strip_prefix(c.base_path.as_str())?;
            (rest.is_empty() || rest.starts_with('/')).then_some((c, rest))
        })
    }

    /// Validates a response to `method path` (path without query).
    pub fn validate(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &[u8],
    ) -> Result<Checked, Vec<String>> {
        let Some((contract, rest)) = self.contract_for(path) else {
            return Err(vec![format!("{path}: no contract serves this path")]);
        };
        contract.validate(method, rest, status, body)
    }
}
