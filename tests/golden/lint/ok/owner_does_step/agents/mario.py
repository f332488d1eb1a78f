"""The python agent this spec set names (rule B209 looks for the file)."""


def handle(request: object) -> dict[str, object]:
    return {}
