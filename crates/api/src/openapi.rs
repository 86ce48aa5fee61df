//! The OpenAPI 3.1 document of the app API, built from one table of operations ([`ALL`])
//! and the types of this crate. The server routes the same table, and a test fails when a
//! route has no operation here or an operation no route.

use std::borrow::Cow;

use utoipa::ToSchema;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr,
    Required, Schema,
};

use crate::{requests as rq, responses as rs};

/// The four headers of a device-signed request (`docs/protocol.md`, section 2), each a
/// security scheme; a signed operation requires all four together.
pub const SIGNATURE_HEADERS: [(&str, &str); 4] = [
    ("sesam-device", "The device id (UUID)."),
    (
        "sesam-timestamp",
        "Milliseconds since 1970-01-01 UTC; at most 60 s from the server's clock.",
    ),
    (
        "sesam-nonce",
        "16-64 base64url characters, never reused by this device.",
    ),
    (
        "sesam-signature",
        "ECDSA P-256/SHA-256 by the device key over the signing bytes: `sesam-app-request/v1`, \
         the method, the path and query, the timestamp, the nonce, the device id and the hex \
         SHA-256 of the body, joined by newlines (base64url, raw r||s or DER).",
    ),
];

/// The HTTP method of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

/// A JSON body: its schema's name and how to collect its schemas (itself and what it uses).
#[derive(Clone, Copy)]
pub struct Body {
    name: fn() -> Cow<'static, str>,
    collect: fn(&mut Vec<(String, RefOr<Schema>)>),
}

const fn body<T: ToSchema>() -> Body {
    fn collect<T: ToSchema>(out: &mut Vec<(String, RefOr<Schema>)>) {
        out.push((T::name().into_owned(), T::schema()));
        T::schemas(out);
    }
    Body {
        name: T::name,
        collect: collect::<T>,
    }
}

/// One operation of the app API.
#[derive(Clone, Copy)]
pub struct Operation {
    pub method: Method,
    /// The path with `{name}` parameters (the syntax of OpenAPI and of the server's router).
    pub path: &'static str,
    pub summary: &'static str,
    /// Whether the request must be device-signed.
    pub signed: bool,
    /// Whether the endpoint is limited per source address (429 with `Retry-After`).
    pub limited: bool,
    pub request: Option<Body>,
    /// The success answer; `None` for the document itself (any JSON object).
    pub response: Option<Body>,
    /// Query parameters: name and description.
    pub query: &'static [(&'static str, &'static str)],
}

const fn get(path: &'static str, summary: &'static str, response: Body) -> Operation {
    Operation {
        method: Method::Get,
        path,
        summary,
        signed: true,
        limited: false,
        request: None,
        response: Some(response),
        query: &[],
    }
}

const fn post(
    path: &'static str,
    summary: &'static str,
    request: Body,
    response: Body,
) -> Operation {
    Operation {
        method: Method::Post,
        path,
        summary,
        signed: true,
        limited: false,
        request: Some(request),
        response: Some(response),
        query: &[],
    }
}

impl Operation {
    /// A name for code generators: `post_app_v1_channels_id_confirm`.
    pub fn id(&self) -> String {
        let words: Vec<&str> = self
            .path
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty() && *w != "json")
            .collect();
        format!(
            "{}_{}",
            self.method.as_str().to_lowercase(),
            words.join("_")
        )
    }

    const fn unsigned(mut self) -> Self {
        self.signed = false;
        self
    }

    const fn limited(mut self) -> Self {
        self.signed = false;
        self.limited = true;
        self
    }

    const fn without_body(mut self) -> Self {
        self.request = None;
        self
    }
}

pub const OPENAPI: Operation = Operation {
    method: Method::Get,
    path: "/app/v1/openapi.json",
    summary: "This document.",
    signed: false,
    limited: false,
    request: None,
    response: None,
    query: &[],
};
pub const CONFIG: Operation = get(
    "/app/v1/config",
    "The protocol, the server's PIN key and its web push key.",
    body::<rs::Config>(),
)
.unsigned();
pub const ACTIVATION_START: Operation = post(
    "/app/v1/activation/start",
    "First activation, step 1: the letter's code; the server sends the SMS code.",
    body::<rq::StartActivation>(),
    body::<rs::ActivationStarted>(),
)
.limited();
pub const ACTIVATION_COMPLETE: Operation = post(
    "/app/v1/activation/complete",
    "First activation, step 2: both codes, the device key, the PIN proof and the user ID.",
    body::<rq::CompleteActivation>(),
    body::<rs::Activated>(),
)
.limited();
pub const ME: Operation = get(
    "/app/v1/me",
    "The person, their apps, code displays and chips.",
    body::<rs::Me>(),
);
pub const INBOX: Operation = get(
    "/app/v1/inbox",
    "The messages sent to the app inbox, newest first.",
    body::<rs::Inbox>(),
);
pub const CHANNELS: Operation = get(
    "/app/v1/channels",
    "The channels in failover order.",
    body::<rs::Channels>(),
);
pub const CHANNEL_ADD: Operation = post(
    "/app/v1/channels",
    "Adds an SMS or e-mail channel and sends a confirmation code to it.",
    body::<rq::AddChannel>(),
    body::<rs::ChannelAdded>(),
);
pub const CHANNEL_ORDER: Operation = post(
    "/app/v1/channels/order",
    "Sets the failover order.",
    body::<rq::ChannelOrder>(),
    body::<rs::Channels>(),
);
pub const CHANNEL_EVERY_USE: Operation = post(
    "/app/v1/channels/every-use",
    "Opts in or out of a message on every use.",
    body::<rq::EveryUse>(),
    body::<rs::Channels>(),
);
pub const CHANNEL_CONFIRM: Operation = post(
    "/app/v1/channels/{id}/confirm",
    "Confirms a channel with the code sent to it.",
    body::<rq::ConfirmChannel>(),
    body::<rs::Channels>(),
);
pub const CHANNEL_REMOVE: Operation = post(
    "/app/v1/channels/{id}/remove",
    "Removes a channel (not the last confirmed one).",
    body::<rq::PinBody>(),
    body::<rs::Channels>(),
);
pub const ACTIVITY: Operation = get(
    "/app/v1/activity",
    "Every message sent to the person with its delivery, and every request they answered.",
    body::<rs::Activity>(),
);
pub const PAIRING_START: Operation = post(
    "/app/v1/pairing/start",
    "A new app asks to be paired; the same answer for any user ID.",
    body::<rq::StartPairing>(),
    body::<rs::PairingStarted>(),
)
.limited();
pub const PAIRING_STATUS: Operation = get(
    "/app/v1/pairing/{id}",
    "The new app polls its pairing.",
    body::<rs::PairingStatus>(),
)
.unsigned();
pub const APPROVALS: Operation = Operation {
    query: &[(
        "wait",
        "Hold the answer up to this many seconds (at most 25) until something arrives.",
    )],
    ..get(
        "/app/v1/approvals",
        "What waits for the person's decision: logins, approvals and pairings.",
        body::<rs::PendingList>(),
    )
};
pub const APPROVE: Operation = post(
    "/app/v1/approvals/{id}/approve",
    "Approves a login or approval (a signed answer) or a pairing (PIN proof and pairing code).",
    body::<rq::ApprovalBody>(),
    body::<rs::Approved>(),
);
pub const REJECT: Operation = post(
    "/app/v1/approvals/{id}/reject",
    "Declines a login or approval (a signed answer; no body for a pairing).",
    body::<rq::SignedAnswer>(),
    body::<rs::Rejected>(),
);
pub const DEVICE_REVOKE: Operation = post(
    "/app/v1/devices/{id}/revoke",
    "Removes one of the person's apps.",
    body::<rq::PinBody>(),
    body::<rs::Revoked>(),
);
pub const DEVICE_RENAME: Operation = post(
    "/app/v1/devices/{id}/rename",
    "Renames one of the person's apps.",
    body::<rq::RenameBody>(),
    body::<rs::Renamed>(),
);
pub const IDENTITY_BLOCK: Operation = post(
    "/app/v1/identity/block",
    "Blocks the identity at once (\"block my ID\"), with the PIN.",
    body::<rq::PinBody>(),
    body::<rs::Blocked>(),
);
pub const USER_ID_CHANGE: Operation = post(
    "/app/v1/identity/user-id",
    "Changes the person's user ID (with the PIN); the old one stays reserved for them for 365 days.",
    body::<rq::ChangeUserId>(),
    body::<rs::UserIdChanged>(),
);
pub const PUSH_SUBSCRIBE: Operation = post(
    "/app/v1/push/subscription",
    "Registers this app's web push subscription (replacing an earlier one).",
    body::<rq::PushSubscribe>(),
    body::<rs::PushState>(),
);
pub const PUSH_UNSUBSCRIBE: Operation = post(
    "/app/v1/push/subscription/remove",
    "Removes this app's web push subscription.",
    body::<rq::PinBody>(),
    body::<rs::PushState>(),
)
.without_body();
pub const CODE_DISPLAY_ACTIVATE: Operation = post(
    "/app/v1/code-displays/activate",
    "Activates a code display with two consecutive codes.",
    body::<rq::ActivateCodeDisplay>(),
    body::<rs::CodeDisplayActivated>(),
);
pub const CODE_DISPLAY_ACTIVATE_WITH_LETTER: Operation = post(
    "/code-displays/activate-with-letter",
    "Activates a code display with the activation letter and the SMS code (no app).",
    body::<rq::LetterCodeDisplay>(),
    body::<rs::CodeDisplayActivated>(),
)
.limited();
pub const CODE_DISPLAY_REVOKE: Operation = post(
    "/app/v1/code-displays/{serial}/revoke",
    "Removes a code display.",
    body::<rq::PinBody>(),
    body::<rs::Revoked>(),
);
pub const CHIP_REGISTER_START: Operation = post(
    "/app/v1/chips/register/start",
    "Starts registering a chip (FIDO2 security key).",
    body::<rq::ChipStart>(),
    body::<rs::ChipRegistrationStarted>(),
);
pub const CHIP_REGISTER_FINISH: Operation = post(
    "/chips/register/finish",
    "Finishes a chip registration; the registration id is the capability and works once.",
    body::<rq::ChipFinish>(),
    body::<rs::ChipRegistered>(),
)
.limited();
pub const CHIP_REVOKE: Operation = post(
    "/app/v1/chips/{id}/revoke",
    "Removes a chip.",
    body::<rq::PinBody>(),
    body::<rs::Revoked>(),
);

/// Every operation of the app API.
pub const ALL: [Operation; 30] = [
    OPENAPI,
    CONFIG,
    ACTIVATION_START,
    ACTIVATION_COMPLETE,
    ME,
    INBOX,
    CHANNELS,
    CHANNEL_ADD,
    CHANNEL_ORDER,
    CHANNEL_EVERY_USE,
    CHANNEL_CONFIRM,
    CHANNEL_REMOVE,
    ACTIVITY,
    PAIRING_START,
    PAIRING_STATUS,
    APPROVALS,
    APPROVE,
    REJECT,
    DEVICE_REVOKE,
    DEVICE_RENAME,
    IDENTITY_BLOCK,
    USER_ID_CHANGE,
    PUSH_SUBSCRIBE,
    PUSH_UNSUBSCRIBE,
    CODE_DISPLAY_ACTIVATE,
    CODE_DISPLAY_ACTIVATE_WITH_LETTER,
    CODE_DISPLAY_REVOKE,
    CHIP_REGISTER_START,
    CHIP_REGISTER_FINISH,
    CHIP_REVOKE,
];

fn json_ref(b: Body) -> ContentBuilder {
    ContentBuilder::new().schema(Some(Ref::from_schema_name((b.name)())))
}

fn error_response(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        json_ref(body::<crate::ErrorBody>()).build(),
    )
}

/// The names in `{…}` of a path.
fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

fn operation(op: &Operation) -> utoipa::openapi::path::Operation {
    let mut b = OperationBuilder::new()
        .summary(Some(op.summary))
        .operation_id(Some(op.id()));
    for name in path_parameters(op.path) {
        let schema = if name == "id" {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
        } else {
            ObjectBuilder::new().schema_type(Type::String)
        };
        b = b.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(schema)),
        );
    }
    for (name, description) in op.query {
        b = b.parameter(
            ParameterBuilder::new()
                .name(*name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(*description))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                )),
        );
    }
    if let Some(request) = op.request {
        b = b.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content("application/json", json_ref(request).build())
                .build(),
        ));
    }
    let success = match op.response {
        Some(r) => json_ref(r),
        None => ContentBuilder::new().schema(Some(ObjectBuilder::new().schema_type(Type::Object))),
    };
    b = b
        .response(
            "200",
            ResponseBuilder::new()
                .description("Done.")
                .content("application/json", success.build()),
        )
        .response(
            "400",
            error_response("The request is not valid, or the rules refuse it."),
        );
    if op.signed {
        b = b
            .response(
                "401",
                error_response(
                    "The request is not device-signed, or its signature, time or nonce is refused.",
                ),
            )
            .security(
                SecurityRequirement::new::<_, [&str; 0], &str>(SIGNATURE_HEADERS[0].0, [])
                    .add::<_, [&str; 0], &str>(SIGNATURE_HEADERS[1].0, [])
                    .add::<_, [&str; 0], &str>(SIGNATURE_HEADERS[2].0, [])
                    .add::<_, [&str; 0], &str>(SIGNATURE_HEADERS[3].0, []),
            );
    }
    if op.limited {
        b = b.response(
            "429",
            error_response("Too many requests; try again after `Retry-After` seconds."),
        );
    }
    b.response(
        "default",
        error_response("Any other refusal, with the same body."),
    )
    .build()
}

/// The OpenAPI 3.1 document of the app API.
pub fn document() -> OpenApi {
    let mut schemas = Vec::new();
    let mut paths = Paths::new();
    for op in &ALL {
        let method = match op.method {
            Method::Get => HttpMethod::Get,
            Method::Post => HttpMethod::Post,
        };
        paths.add_path_operation(op.path, vec![method], operation(op));
        for b in op.request.iter().chain(op.response.iter()) {
            (b.collect)(&mut schemas);
        }
    }
    (body::<crate::ErrorBody>().collect)(&mut schemas);
    let mut components = ComponentsBuilder::new().schemas_from_iter(schemas);
    for (name, description) in SIGNATURE_HEADERS {
        components = components.security_scheme(
            name,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                name,
                description,
            ))),
        );
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("sesam app API")
                .version("1")
                .description(Some(
                    "The API sesam's apps use: activation, pairing, device-signed requests, \
                     approvals and the person's own actions. Errors are \
                     `{\"error\", \"error_description\"}` (ErrorBody). See docs/protocol.md.",
                )),
        )
        .paths(paths)
        .components(Some(components.build()))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves_and_every_operation_is_unique() {
        let doc = serde_json::to_value(document()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let text = doc.to_string();
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = &piece[..piece.find('"').unwrap()];
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "{name} is referenced but not defined"
            );
        }
        let mut seen = std::collections::HashSet::new();
        for op in &ALL {
            assert!(seen.insert((op.method, op.path)), "{} twice", op.path);
            let m = op.method.as_str().to_lowercase();
            assert!(doc["paths"][op.path][&m].is_object(), "{m} {}", op.path);
        }
    }
}
