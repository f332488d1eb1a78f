"""A python agent module under the spec root: found, so not flagged."""


def handle(request: object) -> dict[str, object]:
    return {}
