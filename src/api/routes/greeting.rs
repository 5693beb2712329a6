//! The greetings: `GET /` (FastAPI's first example), `GET /hello/{name}`, `POST /greetings` and
//! its query twin `GET /greetings?name=...&language=...`. All of them wait for the simulated I/O
//! first.

use actix_web::web::{Json, ThinData};
use actix_web::{HttpRequest, get, post};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::api::body::{JsonBody, NoBody};
use crate::api::domain::{Language, Name};
use crate::api::errors::ErrorBody;
use crate::api::query::{decode_text, query_parameters};
use crate::api::simulated_io::SimulatedIo;
use crate::api::validation::{
    HttpValidationError, ValidationError, Violation, body_loc, path_loc, query_loc,
};

/// The greeting, `{"Hello": "World"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"Hello": "World"}))]
pub struct Greeting {
    /// Who is greeted: `World`, or the name the client gave.
    #[serde(rename = "Hello")]
    #[schema(
        example = "World",
        max_length = 64,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub hello: String,
}

impl Greeting {
    /// `{"Hello": "World"}`.
    pub fn world() -> Self {
        Self::to("World")
    }

    /// `{"Hello": name}`.
    pub fn to(name: &str) -> Self {
        Self {
            hello: name.to_owned(),
        }
    }
}

/// Say hello to the world
///
/// Answers `{"Hello": "World"}` after a simulated, non-blocking I/O wait (1 s by default, set by
/// `--io-delay`), as FastAPI's first example does with `await asyncio.sleep(1)`. Thousands of
/// concurrent requests wait together, not one after another.
#[utoipa::path(
    tag = "greeting",
    responses(
        (status = 200, description = "The greeting.", body = Greeting,
         example = json!({"Hello": "World"})),
    ),
)]
#[get("/")]
pub async fn get_greeting(_: NoBody, io: ThinData<SimulatedIo>) -> Json<Greeting> {
    io.wait().await;
    Json(Greeting::world())
}

/// Say hello to someone
///
/// Answers `{"Hello": "<name>"}` after the simulated I/O wait. The name is percent-decoded from
/// the path and must be 1 to 64 characters with no control characters; otherwise the answer is
/// `422` saying which rule it broke.
#[utoipa::path(
    tag = "greeting",
    params(("name" = Name, Path, description = "Who to greet, percent-encoded in the URL.",
            example = "Ada")),
    responses(
        (status = 200, description = "The greeting.", body = Greeting,
         example = json!({"Hello": "Ada"})),
        (status = 422, description = "The name breaks a rule: too short, too long, a control \
          character, a broken percent-escape, or not UTF-8 once decoded.", body = HttpValidationError,
         example = json!({"detail": [{
             "type": "string_too_long", "loc": ["path", "name"],
             "msg": "String should have at most 64 characters",
             "input": "a name far longer than sixty-four characters, which is more than anybody needs",
             "ctx": {"max_length": 64}}]})),
    ),
)]
#[get("/hello/{name:[^/]*}")]
pub async fn get_named_greeting(
    _: NoBody,
    req: HttpRequest,
    io: ThinData<SimulatedIo>,
) -> Result<Json<Greeting>, HttpValidationError> {
    let raw = req.uri().path().rsplit('/').next().unwrap_or_default();
    let name = decode_name(raw)?;
    io.wait().await;
    Ok(Json(Greeting::to(name.as_str())))
}

/// The name from the `{name}` segment as the client sent it (the raw path's last segment,
/// since actix-web's own decoding replaces invalid UTF-8 with U+FFFD and would echo a name the
/// client never sent), percent-decoded and checked.
pub fn decode_name(raw: &str) -> Result<Name, HttpValidationError> {
    let decoded =
        decode_text(raw, false).map_err(|violation| violation.at(path_loc("name"), json!(raw)))?;
    Name::parse(&decoded).map_err(|violation| violation.at(path_loc("name"), json!(decoded)).into())
}

/// What `POST /greetings` takes.
#[derive(Debug, Clone, PartialEq, Eq, ToSchema)]
#[schema(example = json!({"name": "Ada", "language": "fr"}))]
pub struct GreetingRequest {
    /// Who to greet.
    pub name: Name,
    /// The greeting's language; English when absent.
    #[schema(required = false, default = Language::default)]
    pub language: Language,
}

impl GreetingRequest {
    /// Validates every field of `body` and reports every invalid one; fields it does not know
    /// are ignored, as FastAPI does.
    pub fn from_json(body: &Value) -> Result<Self, HttpValidationError> {
        let Some(fields) = body.as_object() else {
            return Err(Violation::new(
                "model_attributes_type",
                "Input should be a valid dictionary or object to extract fields from",
            )
            .at(body_loc(None), body.clone())
            .into());
        };
        let name = match fields.get("name") {
            None => Err(Violation::missing().at(body_loc(Some("name")), body.clone())),
            Some(value) => Name::from_json(value)
                .map_err(|violation| violation.at(body_loc(Some("name")), value.clone())),
        };
        let language = match fields.get("language") {
            None => Ok(Language::default()),
            Some(value) => Language::from_json(value)
                .map_err(|violation| violation.at(body_loc(Some("language")), value.clone())),
        };
        Self::from_fields(name, language)
    }

    /// Validates the parameters of `query` (a URL's query string, percent- and `+`-decoded) by
    /// the same rules; of a repeated parameter the last one counts (as in FastAPI), and unknown
    /// parameters are ignored.
    pub fn from_query(query: &str) -> Result<Self, HttpValidationError> {
        let (mut name, mut language) = (None, None);
        for (key, raw) in query_parameters(query) {
            match key.as_str() {
                "name" => name = Some(raw),
                "language" => language = Some(raw),
                _ => {}
            }
        }
        let name = match name {
            None => Err(Violation::missing().at(query_loc("name"), Value::Null)),
            Some(raw) => match decode_text(raw, true) {
                Ok(value) => Name::parse(&value)
                    .map_err(|violation| violation.at(query_loc("name"), json!(value))),
                Err(violation) => Err(violation.at(query_loc("name"), json!(raw))),
            },
        };
        let language = match language {
            None => Ok(Language::default()),
            Some(raw) => match decode_text(raw, true) {
                Ok(value) => Language::from_json(&json!(value))
                    .map_err(|violation| violation.at(query_loc("language"), json!(value))),
                Err(violation) => Err(violation.at(query_loc("language"), json!(raw))),
            },
        };
        Self::from_fields(name, language)
    }

    /// The request, or every field's error.
    fn from_fields(
        name: Result<Name, ValidationError>,
        language: Result<Language, ValidationError>,
    ) -> Result<Self, HttpValidationError> {
        match (name, language) {
            (Ok(name), Ok(language)) => Ok(Self { name, language }),
            (name, language) => Err(HttpValidationError {
                detail: [name.err(), language.err()].into_iter().flatten().collect(),
            }),
        }
    }
}

/// A greeting in a language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"message": "Bonjour, Ada!", "language": "fr"}))]
pub struct GreetingMessage {
    /// The greeting, e.g. "Bonjour, Ada!": the name in the language's words.
    #[schema(max_length = 96, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub message: String,
    /// The language it is in.
    pub language: Language,
}

/// Greet someone in a language
///
/// Takes `{"name": ..., "language": ...}` as JSON and answers the greeting in that language
/// after the simulated I/O wait. `language` is one of `en` (the default), `fr`, `es`, `de`, `ja`;
/// unknown fields are ignored. Every invalid field is reported in one `422` answer.
#[utoipa::path(
    tag = "greeting",
    request_body(content = GreetingRequest, content_type = "application/json",
                 description = "Who to greet, and in which language."),
    responses(
        (status = 200, description = "The greeting.", body = GreetingMessage,
         example = json!({"message": "Bonjour, Ada!", "language": "fr"})),
        (status = 400, description = "The request body could not be read (e.g. a broken chunked \
          encoding).", body = ErrorBody,
         example = json!({"detail": "Bad Request: the request body ended early"})),
        (status = 413, description = "The request body is larger than the server's limit \
          (`--max-body`, 64 KiB by default).", body = ErrorBody,
         example = json!({"detail": "Payload Too Large: the request body exceeds the limit of 65536 bytes"})),
        (status = 415, description = "The request body is not declared as JSON, or is sent in a \
          content coding (`Content-Encoding`) other than `identity`.", body = ErrorBody,
         example = json!({"detail": "Unsupported Media Type: the request body must be JSON (Content-Type: application/json)"})),
        (status = 422, description = "The body is not valid JSON, or a field breaks a rule; every \
          invalid field is listed.", body = HttpValidationError,
         example = json!({"detail": [
             {"type": "missing", "loc": ["body", "name"], "msg": "Field required",
              "input": {"language": "fr"}},
             {"type": "enum", "loc": ["body", "language"],
              "msg": "Input should be 'en', 'fr', 'es', 'de' or 'ja'", "input": "xx",
              "ctx": {"expected": "'en', 'fr', 'es', 'de' or 'ja'"}}]})),
    ),
)]
#[post("/greetings")]
pub async fn post_greeting(
    body: JsonBody,
    io: ThinData<SimulatedIo>,
) -> Result<Json<GreetingMessage>, HttpValidationError> {
    let request = GreetingRequest::from_json(&body.0)?;
    io.wait().await;
    Ok(Json(GreetingMessage {
        message: request.language.greet(request.name.as_str()),
        language: request.language,
    }))
}

/// Greet someone in a language, from the query
///
/// The query twin of `POST /greetings`, by the same rules: `name` (required, 1 to 64
/// characters, no control characters) and `language` (`en` by default, `fr`, `es`, `de`, `ja`),
/// percent-encoded, `+` for a space. Of a repeated parameter the last one counts, as in FastAPI;
/// unknown parameters are ignored. Every invalid parameter is reported in one `422` answer.
#[utoipa::path(
    tag = "greeting",
    params(
        ("name" = Name, Query, description = "Who to greet.", example = "Ada"),
        ("language" = Option<Language>, Query,
         description = "The greeting's language; English when absent.", example = "fr"),
    ),
    responses(
        (status = 200, description = "The greeting.", body = GreetingMessage,
         example = json!({"message": "Bonjour, Ada!", "language": "fr"})),
        (status = 422, description = "A parameter is missing or breaks a rule; every invalid \
          one is listed.", body = HttpValidationError,
         example = json!({"detail": [
             {"type": "missing", "loc": ["query", "name"], "msg": "Field required",
              "input": null},
             {"type": "enum", "loc": ["query", "language"],
              "msg": "Input should be 'en', 'fr', 'es', 'de' or 'ja'", "input": "xx",
              "ctx": {"expected": "'en', 'fr', 'es', 'de' or 'ja'"}}]})),
    ),
)]
#[get("/greetings")]
pub async fn get_greetings(
    _: NoBody,
    req: HttpRequest,
    io: ThinData<SimulatedIo>,
) -> Result<Json<GreetingMessage>, HttpValidationError> {
    let request = GreetingRequest::from_query(req.query_string())?;
    io.wait().await;
    Ok(Json(GreetingMessage {
        message: request.language.greet(request.name.as_str()),
        language: request.language,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_twin_takes_the_same_rules_the_last_repeat_and_ignores_the_unknown() {
        let request = GreetingRequest::from_query("name=Ada+L%C3%B6&language=fr&x=1").unwrap();
        assert_eq!(request.name.as_str(), "Ada Lö");
        assert_eq!(request.language, Language::Fr);
        let error = GreetingRequest::from_query("name=%FF%FE").unwrap_err();
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(json["detail"][0]["type"], "string_unicode");
        assert_eq!(json["detail"][0]["loc"], json!(["query", "name"]));
        assert_eq!(json["detail"][0]["input"], "%FF%FE");
        let error = GreetingRequest::from_query("name=Ada&language=%C3").unwrap_err();
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(json["detail"][0]["loc"], json!(["query", "language"]));
        for query in ["name=Ada%", "name=%GG", "name=Ada&language=e%n"] {
            let error = GreetingRequest::from_query(query).unwrap_err();
            let json = serde_json::to_value(&error).unwrap();
            assert_eq!(json["detail"][0]["type"], "percent_encoding", "{query}");
        }
        let request = GreetingRequest::from_query("na%6De=Ada+L%2B&x").unwrap();
        assert_eq!(request.name.as_str(), "Ada L+");
        let request = GreetingRequest::from_query("name=A&name=B").unwrap();
        assert_eq!(request.name.as_str(), "B", "the last one counts");
        assert_eq!(request.language, Language::default());
        let error = GreetingRequest::from_query("language=xx").unwrap_err();
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(json["detail"][0]["loc"], json!(["query", "name"]));
        assert_eq!(json["detail"][0]["type"], "missing");
        assert_eq!(json["detail"][0]["input"], Value::Null);
        assert_eq!(json["detail"][1]["loc"], json!(["query", "language"]));
        assert_eq!(json["detail"][1]["type"], "enum");
    }
}
