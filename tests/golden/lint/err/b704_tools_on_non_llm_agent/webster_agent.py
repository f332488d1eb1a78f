def webster(request: object) -> dict[str, str]:
    return {"text": "tides"}
