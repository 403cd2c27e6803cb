//! Checks a real answer against the operator API's OpenAPI document: the schema of the
//! operation's response for that status (or its `default`), followed through `$ref`s.
//!
//! Stricter than JSON Schema on one point: an object whose schema lists `properties` and
//! says nothing of `additionalProperties` is closed, so a field the server sends but the
//! document does not name is an error too.
//!
//! The sim's `tests/support/openapi.rs` checks eBay's answers against eBay's contracts:
//! OpenAPI 3.0, where a null never passes, with eBay's error envelope and error ids. This
//! one reads the 3.1 document utoipa writes (`type: ["string", "null"]`, `oneOf`, a
//! `default` answer for errors).

use serde_json::Value;

/// What is wrong with `body` as the answer `status` to `method path` (`path` as the
/// document spells it, `/api/approvals/{id}`); empty when it conforms.
pub fn problems(
    document: &Value,
    method: &str,
    path: &str,
    status: u16,
    body: &Value,
) -> Vec<String> {
    let Some(operation) = document["paths"][path].get(method) else {
        return vec![format!("{method} {path} is not in the document")];
    };
    let responses = &operation["responses"];
    let Some(response) = responses
        .get(status.to_string())
        .or_else(|| responses.get("default"))
    else {
        return vec![format!("{method} {path} documents no {status} answer")];
    };
    let Some(schema) = response["content"]["application/json"].get("schema") else {
        return vec![format!(
            "{method} {path} {status}: no JSON schema documented"
        )];
    };
    let mut found = Vec::new();
    check(document, schema, body, "$", &mut found);
    found
        .into_iter()
        .map(|p| format!("{method} {path} {status}: {p}"))
        .collect()
}

/// The documented path `path` is an instance of: `/api/v1/items/{id}` for
/// `/api/v1/items/01K…` (a query string is ignored).
pub fn template_of(document: &Value, path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    document["paths"].as_object()?.keys().find_map(|template| {
        let parts: Vec<&str> = template.split('/').collect();
        let fits = parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(part, segment)| part.starts_with('{') || part == segment);
        fits.then(|| template.clone())
    })
}

/// Panics, naming each problem, unless `body` is a documented answer to `method path`.
pub fn assert_conforms(document: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let method = method.to_lowercase();
    let Some(template) = template_of(document, path) else {
        panic!("{method} {path}: no such path in the OpenAPI document");
    };
    let found = problems(document, &method, &template, status, body);
    assert!(found.is_empty(), "{}\nthe answer: {body}", found.join("\n"));
}

fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            resolve(document, &document["components"]["schemas"][name])
        }
        None => schema,
    }
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

fn conforms(document: &Value, schema: &Value, value: &Value) -> bool {
    let mut found = Vec::new();
    check(document, schema, value, "$", &mut found);
    found.is_empty()
}

fn check(document: &Value, schema: &Value, value: &Value, at: &str, found: &mut Vec<String>) {
    let schema = resolve(document, schema);
    if let Some(types) = schema.get("type") {
        let names: Vec<&str> = match types {
            Value::String(name) => vec![name.as_str()],
            Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !names.iter().any(|name| type_matches(name, value)) {
            found.push(format!("{at}: {value} is not {}", names.join(" or ")));
            return;
        }
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            found.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    for parts in schema["allOf"].as_array().into_iter().flatten() {
        check(document, parts, value, at, found);
    }
    for (key, exactly_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(choices) = schema[key].as_array() {
            let matching = choices
                .iter()
                .filter(|choice| conforms(document, choice, value))
                .count();
            if matching == 0 || (exactly_one && matching > 1) {
                found.push(format!("{at}: {value} matches {matching} of {key}"));
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check(document, items, item, &format!("{at}[{i}]"), found);
        }
    }
    let Some(object) = value.as_object() else {
        return;
    };
    for required in schema["required"].as_array().into_iter().flatten() {
        let name = required.as_str().unwrap_or_default();
        if !object.contains_key(name) {
            found.push(format!("{at}: the required {name:?} is missing"));
        }
    }
    let properties = schema["properties"].as_object();
    for (name, field) in object {
        match properties.and_then(|p| p.get(name)) {
            Some(property) => check(document, property, field, &format!("{at}.{name}"), found),
            None => match schema.get("additionalProperties") {
                Some(Value::Bool(false)) => found.push(format!("{at}: {name:?} is not allowed")),
                Some(Value::Bool(true)) => {}
                Some(extra) => check(document, extra, field, &format!("{at}.{name}"), found),
                None if properties.is_some() => {
                    found.push(format!("{at}: {name:?} is sent but not documented"))
                }
                None => {}
            },
        }
    }
}
