"""Calls every operation of greeter through the Python client that openapi-python-client
generated from openapi/openapi.json (package `greeter_client`), against the live server whose
base URL is the first argument, with the API key of the second (the document's bearer scheme
makes the generator write an `AuthenticatedClient`)."""

import sys

from greeter_client import AuthenticatedClient, Client
from greeter_client.api.fan_out import get_aggregate
from greeter_client.api.greeting import get_greeting, get_greetings, get_named_greeting, post_greeting
from greeter_client.api.health import get_health, get_readiness
from greeter_client.models import (
    Aggregate,
    GetAggregateLanguage,
    Greeting,
    GreetingMessage,
    GreetingRequest,
    Health,
    HealthStatus,
    Readiness,
    ReadinessStatus,
    ErrorBody,
    HTTPValidationError,
    Language,
    SourceKind,
)

EXPECTED = {
    Language.EN: "Hello, Ada!",
    Language.FR: "Bonjour, Ada!",
    Language.ES: "¡Hola, Ada!",
    Language.DE: "Hallo, Ada!",
    Language.JA: "こんにちは、Adaさん!",
}


def main(base_url: str, api_key: str) -> None:
    client = AuthenticatedClient(base_url=base_url, token=api_key, raise_on_unexpected_status=True)
    checks = 0

    # Without the key a protected operation is a documented 401; the probes stay open.
    anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)
    refused = get_greeting.sync_detailed(client=anonymous)
    assert refused.status_code == 401, refused
    assert isinstance(refused.parsed, ErrorBody) and refused.parsed.detail == "Not authenticated", refused
    assert refused.headers["www-authenticate"] == "Bearer", refused.headers
    assert isinstance(get_health.sync(client=anonymous), Health)
    checks += 1

    # The server's GET /aggregate takes the parameters its configuration declares (name, and
    # language with a default), and calls a greeter upstream with them.
    aggregate = get_aggregate.sync(client=client, name="Zoë/Ada 100%", language=GetAggregateLanguage.FR)
    assert isinstance(aggregate, Aggregate), aggregate
    names = [source.name for source in aggregate.sources]
    assert names == ["hello", "greetings"], names
    for source in aggregate.sources:
        assert source.ok and source.kind == SourceKind.HTTP and source.status == 200, source
    assert aggregate.sources[0].body["Hello"] == "Zoë/Ada 100%", aggregate.sources[0].body
    assert aggregate.sources[1].body["message"] == "Bonjour, Zoë/Ada 100%!", aggregate.sources[1].body
    checks += 1

    invalid = get_aggregate.sync_detailed(client=client, name="")
    assert invalid.status_code == 422 and isinstance(invalid.parsed, HTTPValidationError), invalid
    assert invalid.parsed.detail[0].loc == ["query", "name"], invalid.parsed
    checks += 1

    greeting = get_greeting.sync(client=client)
    assert isinstance(greeting, Greeting) and greeting.hello == "World", greeting
    checks += 1

    # The client percent-encodes the name; the server decodes it back.
    named = get_named_greeting.sync(name="Zoë/Ada 100%", client=client)
    assert isinstance(named, Greeting) and named.hello == "Zoë/Ada 100%", named
    checks += 1

    invalid = get_named_greeting.sync_detailed(name="a" * 65, client=client)
    assert invalid.status_code == 422, invalid
    assert isinstance(invalid.parsed, HTTPValidationError), invalid.parsed
    problem = invalid.parsed.detail[0]
    assert problem.type_ == "string_too_long" and problem.loc == ["path", "name"], problem
    checks += 1

    for language, message in EXPECTED.items():
        answer = post_greeting.sync(client=client, body=GreetingRequest(name="Ada", language=language))
        assert isinstance(answer, GreetingMessage), answer
        assert answer.message == message and answer.language == language, answer
        checks += 1

    default = post_greeting.sync(client=client, body=GreetingRequest(name="Ada"))
    assert isinstance(default, GreetingMessage) and default.language == Language.EN, default
    assert default.message == "Hello, Ada!", default
    checks += 1

    # The query twin: the client encodes the parameters, the server decodes them.
    by_query = get_greetings.sync(client=client, name="Zoë & Ada", language=Language.FR)
    assert isinstance(by_query, GreetingMessage) and by_query.message == "Bonjour, Zoë & Ada!", by_query
    checks += 1

    too_long = get_greetings.sync_detailed(client=client, name="a" * 65)
    assert too_long.status_code == 422 and isinstance(too_long.parsed, HTTPValidationError), too_long
    assert too_long.parsed.detail[0].loc == ["query", "name"], too_long.parsed
    checks += 1

    too_short = post_greeting.sync_detailed(client=client, body=GreetingRequest(name=""))
    assert too_short.status_code == 422, too_short
    assert isinstance(too_short.parsed, HTTPValidationError), too_short.parsed
    assert too_short.parsed.detail[0].type_ == "string_too_short", too_short.parsed
    assert too_short.parsed.detail[0].loc == ["body", "name"], too_short.parsed
    checks += 1

    health = get_health.sync(client=client)
    assert isinstance(health, Health) and health.status == HealthStatus.OK, health
    checks += 1

    readiness = get_readiness.sync(client=client)
    assert isinstance(readiness, Readiness) and readiness.status == ReadinessStatus.READY, readiness
    checks += 1

    print(f"python client: {checks} checks passed")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: check_client.py BASE_URL API_KEY")
    main(sys.argv[1], sys.argv[2])
